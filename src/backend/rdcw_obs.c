/*
 * ReadDirectoryChangesW's records as observations (see rdcw_obs.h).
 */
#include "backend/rdcw_obs.h"
#include "backend/rdcw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The child of dir named name (len bytes), or NULL. */
static vigil__node *child(const vigil__node *dir, const char *name, size_t len) {
  for (vigil__node *c = vigil__node_first(dir); c; c = vigil__node_next(c))
    if (c->namelen == len && memcmp(vigil__node_name(c), name, len) == 0)
      return c;
  return NULL;
}

/* The offset of the last '\' in path, or -1. */
static ptrdiff_t last_sep(const char *path, size_t len) {
  for (size_t i = len; i-- > 0;)
    if (path[i] == '\\')
      return (ptrdiff_t)i;
  return -1;
}

/*
 * The directory node that holds path's last name, and that name: NULL
 * when a directory on the way is not in the tree.
 */
static vigil__node *holder(const vigil__rdcw_obs *o, const char *path, size_t len,
                           const char **name, size_t *name_len) {
  ptrdiff_t sep = last_sep(path, len);
  size_t dir_len = sep < 0 ? 0 : (size_t)sep;
  *name = sep < 0 ? path : path + sep + 1;
  *name_len = len - (sep < 0 ? 0 : (size_t)sep + 1);
  vigil__node *d = o->top;
  for (size_t at = 0; d && at < dir_len;) {
    const char *p = path + at;
    const char *end = memchr(p, '\\', dir_len - at);
    size_t n = end ? (size_t)(end - p) : dir_len - at;
    d = child(d, p, n);
    if (d && !vigil__node_dir(d))
      d = NULL;
    at += n + 1;
  }
  if (!*name_len)
    return NULL;
  return d;
}

static void appeared(vigil__rdcw_obs *o, vigil_t *v, const char *path, size_t len,
                     enum vigil__how how) {
  const char *name;
  size_t nlen;
  vigil__node *d = holder(o, path, len, &name, &nlen);
  if (!d)
    return;
  int kind = o->kind_of(o->kind_ctx, path, len);
  if (kind < 0)
    return; /* gone already: its removal follows, or it never existed for the tree */
  vigil__obs_appeared(v, d, name, nlen, kind == 1, how);
}

static void gone(vigil__rdcw_obs *o, vigil_t *v, const char *path, size_t len,
                 enum vigil__how how) {
  const char *name;
  size_t nlen;
  vigil__node *d = holder(o, path, len, &name, &nlen);
  if (d)
    vigil__obs_gone(v, d, name, nlen, how);
}

static void modified(vigil__rdcw_obs *o, vigil_t *v, const char *path, size_t len) {
  const char *name;
  size_t nlen;
  vigil__node *d = holder(o, path, len, &name, &nlen);
  if (!d)
    return;
  vigil__node *n = child(d, name, nlen);
  if (n && vigil__node_dir(n))
    return; /* a directory's times change with every entry made in it */
  vigil__obs_changed(v, d, name, nlen, VIGIL_MODIFIED);
}

static void renamed(vigil__rdcw_obs *o, vigil_t *v, const char *path, size_t len) {
  o->holding = 0;
  const char *sname, *tname;
  size_t slen, tlen;
  vigil__node *sdir = holder(o, o->held, o->held_len, &sname, &slen);
  vigil__node *src = sdir ? child(sdir, sname, slen) : NULL;
  if (!src) {
    /* The tree did not hold the old name: as a move in from outside. */
    appeared(o, v, path, len, VIGIL__BY_MOVE);
    return;
  }
  vigil__node *tdir = holder(o, path, len, &tname, &tlen);
  if (!tdir) {
    /* Moved under a directory the tree does not hold (an excluded one): out. */
    vigil__obs_gone(v, sdir, sname, slen, VIGIL__BY_MOVE);
    return;
  }
  vigil__obs_moved(v, sdir, sname, slen, tdir, tname, tlen, vigil__node_dir(src) != NULL);
}

void vigil__rdcw_obs_end(vigil__rdcw_obs *o, vigil_t *v) {
  if (!o->holding)
    return;
  o->holding = 0;
  gone(o, v, o->held, o->held_len, VIGIL__BY_MOVE);
}

int vigil__rdcw_obs_record(vigil__rdcw_obs *o, vigil_t *v, unsigned action, const char *path,
                           size_t len) {
  if (o->holding && action != VIGIL__RDCW_RENAMED_NEW)
    vigil__rdcw_obs_end(o, v);
  switch (action) {
  case VIGIL__RDCW_ADDED:
    appeared(o, v, path, len, VIGIL__BY_CREATE);
    break;
  case VIGIL__RDCW_REMOVED:
    gone(o, v, path, len, VIGIL__BY_CREATE);
    break;
  case VIGIL__RDCW_MODIFIED:
    modified(o, v, path, len);
    break;
  case VIGIL__RDCW_RENAMED_OLD:
    if (vigil__buf_grow(&o->held, &o->held_cap, len + 1) < 0)
      return -ENOMEM;
    memcpy(o->held, path, len);
    o->held_len = len;
    o->holding = 1;
    break;
  case VIGIL__RDCW_RENAMED_NEW:
    if (o->holding)
      renamed(o, v, path, len);
    else
      appeared(o, v, path, len, VIGIL__BY_MOVE);
    break;
  default:
    break;
  }
  return 0;
}

void vigil__rdcw_obs_result(vigil__rdcw_obs *o, vigil_t *v, int overflow, int gone) {
  vigil__rdcw_obs_end(o, v);
  if (overflow)
    vigil__obs_overflow(v);
  if (gone)
    vigil__obs_watch_lost(v, o->top);
}

void vigil__rdcw_obs_free(vigil__rdcw_obs *o) {
  free(o->held);
  o->held = NULL;
  o->held_cap = o->held_len = 0;
  o->holding = 0;
}
