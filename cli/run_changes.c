/*
 * vigil run: the paths changed since the last run.
 *
 * The set lists each path once, in the order it first changed. It keeps
 * the net effect of a burst, so that an editor's save through a temporary
 * file (created, written, renamed onto the real name) lists only the real
 * name: a path created since the last run and then removed or renamed away
 * again is taken out of the list. A path that existed before stays listed
 * whatever happens to it, since its removal is a change too.
 */
#include "run.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Room kept at the end of VIGIL_CHANGED for the "\n..." of a cut list. */
#define CUT_MARK "\n..."
#define CUT_LEN (sizeof CUT_MARK - 1)

static uint64_t hash_path(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* The slot holding path, or the empty slot where it would go. */
static size_t *find_slot(const run_changes *c, const char *path, size_t len) {
  size_t mask = c->nslots - 1;
  for (size_t i = (size_t)hash_path(path, len) & mask;; i = (i + 1) & mask) {
    size_t *slot = &c->slots[i];
    if (*slot == 0)
      return slot;
    const run_change *it = &c->items[*slot - 1];
    if (it->len == len && memcmp(it->path, path, len) == 0)
      return slot;
  }
}

static int grow_index(run_changes *c) {
  size_t n = c->nslots ? c->nslots * 2 : 64;
  size_t *slots = calloc(n, sizeof *slots);
  if (!slots)
    return -ENOMEM;
  free(c->slots);
  c->slots = slots;
  c->nslots = n;
  for (size_t i = 0; i < c->n; i++)
    *find_slot(c, c->items[i].path, c->items[i].len) = i + 1;
  return 0;
}

static run_change *find(const run_changes *c, const char *path, size_t len) {
  if (!c->nslots)
    return NULL;
  size_t *slot = find_slot(c, path, len);
  return *slot ? &c->items[*slot - 1] : NULL;
}

/* Lists path; fresh says it did not exist at the last run. */
static int add(run_changes *c, const char *path, int fresh) {
  size_t len = strlen(path);
  run_change *it = find(c, path, len);
  if (it) {
    if (it->gone) {
      it->gone = 0;
      it->fresh = (unsigned char)fresh;
      c->bytes += len + 1;
    }
    return 0;
  }
  if (c->truncated)
    return 0;
  if (c->bytes + len + 1 + CUT_LEN > RUN_CHANGED_MAX) {
    c->truncated = 1;
    return 0;
  }
  if ((c->n + 1) * 2 > c->nslots && grow_index(c) < 0)
    goto nomem;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    run_change *items = realloc(c->items, cap * sizeof *items);
    if (!items)
      goto nomem;
    c->items = items;
    c->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy)
    goto nomem;
  memcpy(copy, path, len + 1);
  c->items[c->n] = (run_change){.path = copy, .len = len, .fresh = (unsigned char)fresh};
  *find_slot(c, path, len) = ++c->n;
  c->bytes += len + 1;
  return 0;
nomem:
  c->truncated = 1;
  return -ENOMEM;
}

/* path went away: unlisted if it was created since the last run. */
static int vanish(run_changes *c, const char *path) {
  size_t len = strlen(path);
  run_change *it = find(c, path, len);
  if (it && it->fresh) {
    if (!it->gone) {
      it->gone = 1;
      c->bytes -= len + 1;
    }
    return 0;
  }
  return add(c, path, 0);
}

int run_changes_note(run_changes *c, vigil_kind kind, const char *rel, const char *from_rel) {
  c->events++;
  c->kinds |= VIGIL_MASK(kind);
  int rc = 0;
  switch (kind) {
  case VIGIL_CREATED:
    if (rel)
      rc = add(c, rel, 1);
    break;
  case VIGIL_REMOVED:
    if (rel)
      rc = vanish(c, rel);
    break;
  case VIGIL_MOVED:
    if (from_rel)
      rc = vanish(c, from_rel);
    /* A rename can replace an entry that was there before: not fresh. */
    if (rel && rc == 0)
      rc = add(c, rel, 0);
    break;
  case VIGIL_OVERFLOW:
    break;
  default:
    if (rel)
      rc = add(c, rel, 0);
    break;
  }
  return rc;
}

void run_changes_clear(run_changes *c) {
  for (size_t i = 0; i < c->n; i++)
    free(c->items[i].path);
  c->n = 0;
  if (c->slots)
    memset(c->slots, 0, c->nslots * sizeof *c->slots);
  c->bytes = 0;
  c->kinds = 0;
  c->events = 0;
  c->truncated = 0;
}

void run_changes_free(run_changes *c) {
  run_changes_clear(c);
  free(c->items);
  free(c->slots);
  memset(c, 0, sizeof *c);
}

static char *env_string(const char *name, size_t value_len, char **value) {
  size_t nlen = strlen(name);
  char *s = malloc(nlen + 1 + value_len + 1);
  if (!s)
    return NULL;
  memcpy(s, name, nlen);
  s[nlen] = '=';
  *value = s + nlen + 1;
  return s;
}

int run_changes_env(const run_changes *c, char **changed, char **events) {
  *changed = *events = NULL;
  char *p;
  char *ch = env_string("VIGIL_CHANGED", c->bytes + CUT_LEN, &p);
  if (!ch)
    return -ENOMEM;
  char *start = p;
  for (size_t i = 0; i < c->n; i++) {
    const run_change *it = &c->items[i];
    if (it->gone)
      continue;
    if (p != start)
      *p++ = '\n';
    memcpy(p, it->path, it->len);
    p += it->len;
  }
  if (c->truncated) {
    /* The "..." line, after a newline unless it is the only line. */
    size_t skip = p == start;
    memcpy(p, &CUT_MARK[skip], CUT_LEN - skip);
    p += CUT_LEN - skip;
  }
  *p = '\0';

  size_t room = 0;
  for (unsigned k = 1; k <= VIGIL_KIND_MAX; k++)
    if (c->kinds & VIGIL_MASK(k))
      room += strlen(vigil_kind_name((vigil_kind)k)) + 1;
  char *ev = env_string("VIGIL_EVENTS", room, &p);
  if (!ev) {
    free(ch);
    return -ENOMEM;
  }
  start = p;
  for (unsigned k = 1; k <= VIGIL_KIND_MAX; k++) {
    if (!(c->kinds & VIGIL_MASK(k)))
      continue;
    if (p != start)
      *p++ = ',';
    const char *name = vigil_kind_name((vigil_kind)k);
    size_t n = strlen(name);
    memcpy(p, name, n);
    p += n;
  }
  *p = '\0';
  *changed = ch;
  *events = ev;
  return 0;
}
