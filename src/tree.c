#include "tree.h"
#include "fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * A name is stored inline, in the same allocation as the node, with room
 * rounded up to 8 bytes. A rename that fits reuses the room; a longer name
 * goes to the heap and the inline room holds the pointer to it. Node
 * addresses therefore never change, and nothing that points at a node
 * (children, the watch map, pending renames) has to be fixed up.
 */
static size_t name_room(size_t len) {
  return (len + 1 + 7) & ~(size_t)7;
}

static uint32_t hash_name(const vigil__node *parent, const char *name, size_t len) {
  /* FNV-1a over the name, mixed with the parent's address. */
  uint64_t h = 1469598103934665603ull ^ ((uintptr_t)parent >> 4);
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= 1099511628211ull;
  }
  return (uint32_t)(h ^ (h >> 32));
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
  t->buckets = vigil__calloc(256, sizeof *t->buckets);
  if (!t->buckets)
    return -ENOMEM;
  t->mask = 255;
  return 0;
}

void vigil__tree_free(vigil__tree *t) {
  free(t->buckets);
  t->buckets = NULL;
}

vigil__node *vigil__node_new(const char *name, size_t len, int type, uint64_t ino) {
  if (len > UINT16_MAX)
    return NULL;
  vigil__node *n = vigil__malloc(sizeof *n + name_room(len));
  if (!n)
    return NULL;
  memset(n, 0, sizeof *n);
  n->ino = ino;
  n->type = (uint8_t)type;
  n->namelen = (uint16_t)len;
  memcpy(n->name_, name, len);
  n->name_[len] = '\0';
  if (type == VIGIL__T_DIR) {
    n->dir = vigil__calloc(1, sizeof *n->dir);
    if (!n->dir) {
      free(n);
      return NULL;
    }
    n->dir->wd = -1;
  }
  return n;
}

void vigil__node_free(vigil__node *n) {
  if (!n)
    return;
  if (n->flags & VIGIL__N_HEAPNAME)
    free((char *)vigil__node_name(n));
  free(n->dir);
  free(n);
}

static void index_grow(vigil__tree *t) {
  size_t nsize = (t->mask + 1) * 2;
  vigil__node **nb = vigil__calloc(nsize, sizeof *nb);
  if (!nb)
    return; /* Chains just get longer; lookups stay correct. */
  for (size_t i = 0; i <= t->mask; i++) {
    vigil__node *n = t->buckets[i];
    while (n) {
      vigil__node *next = n->hnext;
      size_t b = n->hash & (nsize - 1);
      n->hnext = nb[b];
      nb[b] = n;
      n = next;
    }
  }
  free(t->buckets);
  t->buckets = nb;
  t->mask = nsize - 1;
}

static void index_insert(vigil__tree *t, vigil__node *n) {
  n->hash = hash_name(n->parent, vigil__node_name(n), n->namelen);
  size_t b = n->hash & t->mask;
  n->hnext = t->buckets[b];
  t->buckets[b] = n;
  if (++t->count > t->mask + 1)
    index_grow(t);
}

static void index_remove(vigil__tree *t, vigil__node *n) {
  vigil__node **pp = &t->buckets[n->hash & t->mask];
  while (*pp && *pp != n)
    pp = &(*pp)->hnext;
  if (*pp) {
    *pp = n->hnext;
    t->count--;
  }
  n->hnext = NULL;
}

int vigil__tree_link(vigil__tree *t, vigil__node *parent, vigil__node *n) {
  n->parent = parent;
  n->sib_prev = NULL;
  n->sib_next = parent->dir->child;
  if (n->sib_next)
    n->sib_next->sib_prev = n;
  parent->dir->child = n;
  parent->dir->nchild++;
  if (n->type == VIGIL__T_DIR)
    t->dirs++;
  index_insert(t, n);
  return 0;
}

void vigil__tree_unlink(vigil__tree *t, vigil__node *n) {
  vigil__node *parent = n->parent;
  if (!parent)
    return;
  index_remove(t, n);
  if (n->sib_prev)
    n->sib_prev->sib_next = n->sib_next;
  else
    parent->dir->child = n->sib_next;
  if (n->sib_next)
    n->sib_next->sib_prev = n->sib_prev;
  n->sib_next = n->sib_prev = NULL;
  parent->dir->nchild--;
  if (n->type == VIGIL__T_DIR)
    t->dirs--;
  n->parent = NULL;
}

vigil__node *vigil__tree_find(const vigil__tree *t, const vigil__node *dir, const char *name,
                              size_t len) {
  uint32_t h = hash_name(dir, name, len);
  for (vigil__node *n = t->buckets[h & t->mask]; n; n = n->hnext)
    if (n->hash == h && n->parent == dir && n->namelen == len &&
        memcmp(vigil__node_name(n), name, len) == 0)
      return n;
  return NULL;
}

static int node_rename(vigil__node *n, const char *name, size_t len) {
  if (len > UINT16_MAX)
    return -ENAMETOOLONG;
  if (!(n->flags & VIGIL__N_HEAPNAME) && name_room(len) <= name_room(n->namelen)) {
    memcpy(n->name_, name, len);
    n->name_[len] = '\0';
    n->namelen = (uint16_t)len;
    return 0;
  }
  /* The inline room holds at least 8 bytes, enough for the pointer. */
  char *heap = vigil__malloc(len + 1);
  if (!heap)
    return -ENOMEM;
  memcpy(heap, name, len);
  heap[len] = '\0';
  if (n->flags & VIGIL__N_HEAPNAME)
    free((char *)vigil__node_name(n));
  memcpy(n->name_, &heap, sizeof heap);
  n->flags |= VIGIL__N_HEAPNAME;
  n->namelen = (uint16_t)len;
  return 0;
}

int vigil__tree_move(vigil__tree *t, vigil__node *n, vigil__node *new_parent, const char *name,
                     size_t len) {
  vigil__node *old_parent = n->parent;
  vigil__tree_unlink(t, n);
  int rc = node_rename(n, name, len);
  vigil__tree_link(t, rc == 0 ? new_parent : old_parent, n);
  return rc;
}

size_t vigil__tree_count(const vigil__node *n) {
  size_t c = 1;
  if (n->dir)
    for (const vigil__node *k = n->dir->child; k; k = k->sib_next)
      c += vigil__tree_count(k);
  return c;
}

vigil__root *vigil__node_root(const vigil__node *n) {
  while (n->parent)
    n = n->parent;
  return n->dir->root;
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
  for (const vigil__node *k = n; k != stop; k = k->parent) {
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

static const vigil__node *top_of(const vigil__node *n) {
  while (n->parent)
    n = n->parent;
  return n;
}

int vigil__node_path(const vigil__node *n, char **buf, size_t *len, size_t *cap) {
  const vigil__node *top = top_of(n);
  const vigil__root *r = top->dir->root;
  int rc;
  if (r->is_file || n == top) {
    /* A file root's only child is the file, reported by the given name. */
    rc = vigil__buf_grow(buf, cap, *len + strlen(r->given) + 1);
    if (rc)
      return rc;
    memcpy(*buf + *len, r->given, strlen(r->given) + 1);
    *len += strlen(r->given);
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
