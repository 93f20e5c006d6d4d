#include "tree.h"
#include "fault.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define HEADER offsetof(vigil__node, name_)

/*
 * A name is stored inline, right after the node's header. The room is
 * its length plus a NUL, and at least 4 bytes: a rename that fits reuses
 * the room; a longer name gets a block of its own in the arena, and the
 * room holds the offset of that block. Node addresses therefore never
 * change, and nothing that points at a node (children, the watch map,
 * pending renames) has to be fixed up.
 */
static size_t name_room(size_t len) {
  return len + 1 < sizeof(int32_t) ? sizeof(int32_t) : len + 1;
}

static size_t block_size(int type, size_t namelen) {
  return (type == VIGIL__T_DIR ? sizeof(vigil__dir) : 0) + HEADER + name_room(namelen);
}

static void *block_of(vigil__node *n) {
  return n->type == VIGIL__T_DIR ? (void *)vigil__node_dir(n) : (void *)n;
}

static uint32_t hash_name(uint32_t parent, const char *name, size_t len) {
  /* FNV-1a over the name, seeded with the parent's offset. */
  uint32_t h = 2166136261u ^ (parent * 2654435761u);
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 16777619u;
  }
  return h ^ (h >> 15);
}

static uint32_t node_hash(const vigil__tree *t, const vigil__node *n) {
  return hash_name(vigil__arena_off(&t->arena, vigil__node_parent(n)), vigil__node_name(n),
                   n->namelen);
}

int vigil__buf_grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap)
    return 0;
  size_t ncap = *cap ? *cap : 256;
  while (ncap < need)
    ncap *= 2;
  char *p = vigil__realloc(*buf, ncap);
  if (!p)
    return -ENOMEM;
  *buf = p;
  *cap = ncap;
  return 0;
}

int vigil__tree_init(vigil__tree *t) {
  memset(t, 0, sizeof *t);
  int rc = vigil__arena_init(&t->arena);
  if (rc < 0)
    return rc;
  t->buckets = vigil__calloc(256, sizeof *t->buckets);
  if (!t->buckets) {
    vigil__arena_destroy(&t->arena);
    return -ENOMEM;
  }
  t->mask = 255;
  return 0;
}

void vigil__tree_free(vigil__tree *t) {
  free(t->buckets);
  vigil__arena_destroy(&t->arena);
  memset(t, 0, sizeof *t);
}

vigil__node *vigil__node_new(vigil__tree *t, const char *name, size_t len, int type, uint64_t ino) {
  if (len > UINT8_MAX)
    return NULL;
  int is_dir = type == VIGIL__T_DIR;
  char *block = vigil__arena_alloc(&t->arena, block_size(type, len), is_dir);
  if (!block)
    return NULL;
  vigil__node *n = (vigil__node *)(void *)(block + (is_dir ? sizeof(vigil__dir) : 0));
  memset(n, 0, HEADER);
  n->units = (uint8_t)((block_size(type, len) + VIGIL__ARENA_UNIT - 1) / VIGIL__ARENA_UNIT);
  n->ino = (uint32_t)ino;
  n->type = (uint8_t)type;
  n->namelen = (uint8_t)len;
  memcpy(n->name_, name, len);
  n->name_[len] = '\0';
  if (is_dir) {
    vigil__dir *d = vigil__node_dir(n);
    memset(d, 0, sizeof *d);
  }
  return n;
}

static void free_heap_name(vigil__tree *t, vigil__node *n) {
  if (n->flags & VIGIL__N_HEAPNAME)
    vigil__arena_release(&t->arena, (void *)(uintptr_t)vigil__node_name(n), n->namelen + 1u, 0);
}

void vigil__node_free(vigil__tree *t, vigil__node *n) {
  if (!n)
    return;
  free_heap_name(t, n);
  vigil__arena_release(&t->arena, block_of(n), (size_t)n->units * VIGIL__ARENA_UNIT,
                       n->type == VIGIL__T_DIR);
}

/* The inline room is what the block holds beyond the header. */
static size_t inline_room(const vigil__node *n) {
  size_t block = (size_t)n->units * VIGIL__ARENA_UNIT;
  return block - HEADER - (n->type == VIGIL__T_DIR ? sizeof(vigil__dir) : 0);
}

static void index_grow(vigil__tree *t) {
  size_t nsize = (t->mask + 1) * 2;
  uint32_t *nb = vigil__calloc(nsize, sizeof *nb);
  if (!nb)
    return; /* Chains just get longer; lookups stay correct. */
  for (size_t i = 0; i <= t->mask; i++) {
    uint32_t off = t->buckets[i];
    while (off) {
      vigil__node *n = vigil__arena_ptr(&t->arena, off);
      uint32_t next = n->hnext;
      size_t b = node_hash(t, n) & (nsize - 1);
      n->hnext = nb[b];
      nb[b] = off;
      off = next;
    }
  }
  free(t->buckets);
  t->buckets = nb;
  t->mask = nsize - 1;
}

static void index_insert(vigil__tree *t, vigil__node *n) {
  size_t b = node_hash(t, n) & t->mask;
  n->hnext = t->buckets[b];
  t->buckets[b] = vigil__arena_off(&t->arena, n);
  /* Two entries a bucket on average: chains stay short, buckets stay few. */
  if (++t->indexed > 2 * (t->mask + 1))
    index_grow(t);
}

/*
 * A directory's children enter the index only when something first looks
 * one of them up. Setting up a large tree then costs no index writes at
 * all (each is a cache miss in a large table), and the many directories
 * nobody touches afterwards never cost index memory. The first lookup in a
 * directory pays for all its children once.
 */
static void index_dir(vigil__tree *t, const vigil__node *dir) {
  vigil__dir *d = vigil__node_dir(dir);
  for (vigil__node *k = vigil__node_first(dir); k; k = vigil__node_next(k))
    index_insert(t, k);
  d->indexed = 1;
}

static void index_remove(vigil__tree *t, vigil__node *n) {
  uint32_t self = vigil__arena_off(&t->arena, n);
  uint32_t *pp = &t->buckets[node_hash(t, n) & t->mask];
  while (*pp && *pp != self)
    pp = &((vigil__node *)vigil__arena_ptr(&t->arena, *pp))->hnext;
  if (*pp) {
    *pp = n->hnext;
    t->indexed--;
  }
  n->hnext = 0;
}

int vigil__tree_link(vigil__tree *t, vigil__node *parent, vigil__node *n) {
  vigil__dir *pd = vigil__node_dir(parent);
  vigil__node *first = vigil__node_rel(parent, pd->child_);
  n->parent_ = vigil__node_relof(n, parent);
  n->sib_prev_ = 0;
  n->sib_next_ = vigil__node_relof(n, first);
  if (first)
    first->sib_prev_ = vigil__node_relof(first, n);
  pd->child_ = vigil__node_relof(parent, n);
  pd->nchild++;
  t->count++;
  if (n->type == VIGIL__T_DIR)
    t->dirs++;
  if (pd->indexed)
    index_insert(t, n);
  return 0;
}

void vigil__tree_unlink(vigil__tree *t, vigil__node *n) {
  vigil__node *parent = vigil__node_parent(n);
  if (!parent)
    return;
  vigil__dir *pd = vigil__node_dir(parent);
  if (pd->indexed)
    index_remove(t, n);
  vigil__node *prev = vigil__node_rel(n, n->sib_prev_);
  vigil__node *next = vigil__node_rel(n, n->sib_next_);
  if (prev)
    prev->sib_next_ = vigil__node_relof(prev, next);
  else
    pd->child_ = vigil__node_relof(parent, next);
  if (next)
    next->sib_prev_ = vigil__node_relof(next, prev);
  n->sib_next_ = n->sib_prev_ = 0;
  pd->nchild--;
  t->count--;
  if (n->type == VIGIL__T_DIR)
    t->dirs--;
  n->parent_ = 0;
}

vigil__node *vigil__tree_find(vigil__tree *t, const vigil__node *dir, const char *name,
                              size_t len) {
  if (len > UINT8_MAX)
    return NULL;
  if (!vigil__node_dir(dir)->indexed)
    index_dir(t, dir);
  uint32_t h = hash_name(vigil__arena_off(&t->arena, dir), name, len);
  for (uint32_t off = t->buckets[h & t->mask]; off;) {
    vigil__node *n = vigil__arena_ptr(&t->arena, off);
    if (n->namelen == len && vigil__node_parent(n) == dir &&
        memcmp(vigil__node_name(n), name, len) == 0)
      return n;
    off = n->hnext;
  }
  return NULL;
}

static int node_rename(vigil__tree *t, vigil__node *n, const char *name, size_t len) {
  if (len > UINT8_MAX)
    return -ENAMETOOLONG;
  if (len + 1 <= inline_room(n)) {
    free_heap_name(t, n);
    n->flags &= (uint8_t)~VIGIL__N_HEAPNAME;
    memcpy(n->name_, name, len);
    n->name_[len] = '\0';
    n->namelen = (uint8_t)len;
    return 0;
  }
  /* The inline room holds at least 4 bytes, enough for the offset. */
  char *heap = vigil__arena_alloc(&t->arena, len + 1, 0);
  if (!heap)
    return -ENOMEM;
  memcpy(heap, name, len);
  heap[len] = '\0';
  free_heap_name(t, n);
  int32_t off = vigil__node_relof(n, (const vigil__node *)(void *)heap);
  memcpy(n->name_, &off, sizeof off);
  n->flags |= VIGIL__N_HEAPNAME;
  n->namelen = (uint8_t)len;
  return 0;
}

int vigil__tree_move(vigil__tree *t, vigil__node *n, vigil__node *new_parent, const char *name,
                     size_t len) {
  vigil__node *old_parent = vigil__node_parent(n);
  vigil__tree_unlink(t, n);
  int rc = node_rename(t, n, name, len);
  /* A node that was not linked (kept aside for an exchange) stays so on failure. */
  if (rc == 0 || old_parent)
    vigil__tree_link(t, rc == 0 ? new_parent : old_parent, n);
  return rc;
}

size_t vigil__tree_count(const vigil__node *n) {
  size_t c = 1;
  if (vigil__node_dir(n))
    for (const vigil__node *k = vigil__node_first(n); k; k = vigil__node_next(k))
      c += vigil__tree_count(k);
  return c;
}

static const vigil__node *top_of(const vigil__node *n) {
  const vigil__node *p;
  while ((p = vigil__node_parent(n)))
    n = p;
  return n;
}

vigil__root *vigil__node_root(const vigil__node *n) {
  return vigil__node_dir(top_of(n))->root;
}

/*
 * Walks up to the top, then writes the names top-down. Depth is bounded by
 * PATH_MAX / 2, so a small array of pointers on the stack with a heap
 * fallback keeps the common case free of allocation.
 */
static int append_names(const vigil__node *n, const vigil__node *stop, char **buf, size_t *len,
                        size_t *cap, int leading_slash) {
  const vigil__node *stack_chain[64];
  const vigil__node **chain = stack_chain;
  size_t depth = 0, room = 64, bytes = 0;
  int rc = 0;
  for (const vigil__node *k = n; k != stop; k = vigil__node_parent(k)) {
    if (depth == room) {
      size_t nroom = room * 2;
      const vigil__node **nc = vigil__malloc(nroom * sizeof *nc);
      if (!nc) {
        rc = -ENOMEM;
        goto out;
      }
      memcpy(nc, chain, depth * sizeof *nc);
      if (chain != stack_chain)
        free(chain);
      chain = nc;
      room = nroom;
    }
    chain[depth++] = k;
    bytes += k->namelen + 1u;
  }
  rc = vigil__buf_grow(buf, cap, *len + bytes + 1);
  if (rc)
    goto out;
  char *p = *buf + *len;
  for (size_t i = depth; i-- > 0;) {
    if (leading_slash || i != depth - 1)
      *p++ = '/';
    memcpy(p, vigil__node_name(chain[i]), chain[i]->namelen);
    p += chain[i]->namelen;
  }
  *p = '\0';
  *len = (size_t)(p - *buf);
out:
  if (chain != stack_chain)
    free(chain);
  return rc;
}

int vigil__node_path(const vigil__node *n, char **buf, size_t *len, size_t *cap) {
  const vigil__node *top = top_of(n);
  const vigil__root *r = vigil__node_dir(top)->root;
  int rc;
  if (r->is_file || n == top) {
    /* A file root's only child is the file, reported by the given name. */
    size_t glen = strlen(r->given);
    rc = vigil__buf_grow(buf, cap, *len + glen + 1);
    if (rc)
      return rc;
    memcpy(*buf + *len, r->given, glen + 1);
    *len += glen;
    return 0;
  }
  rc = vigil__buf_grow(buf, cap, *len + r->prefix_len + 1);
  if (rc)
    return rc;
  memcpy(*buf + *len, r->given, r->prefix_len);
  *len += r->prefix_len;
  /* "/" as a root must not produce "//etc". */
  int slash = !(r->prefix_len > 0 && r->given[r->prefix_len - 1] == '/');
  return append_names(n, top, buf, len, cap, slash);
}

int vigil__node_relpath(const vigil__node *n, char **buf, size_t *len, size_t *cap) {
  const vigil__node *top = top_of(n);
  int rc = vigil__buf_grow(buf, cap, *len + 1);
  if (rc)
    return rc;
  (*buf)[*len] = '\0';
  if (n == top)
    return 0;
  return append_names(n, top, buf, len, cap, 0);
}
