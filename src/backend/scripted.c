/*
 * The scripted backend (see scripted.h). Records wait in a list until the
 * core reads them; its descriptor, a pipe's read end (POSIX, so that the
 * unit tests run wherever the core builds), is readable while any wait,
 * so vigil_read and vigil_fd behave as with a kernel. It pairs
 * renames (a test scripts both ends), watches every directory on its
 * own (or, as "scripted-recursive", only the tops), may say only "this
 * directory changed", and has no sync clock, so a repair reports every
 * file as possibly modified.
 */
#include "backend/scripted.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

enum op { APPEARED, GONE, MOVED, CHANGED, DIR_CHANGED, SELF_GONE, OVERFLOW };

typedef struct record {
  struct record *next;
  enum op op;
  int is_dir;
  int arg; /* enum vigil__how, or a vigil_kind */
  char *dir, *name, *tdir, *tname;
} record;

typedef struct {
  int fd[2]; /* a pipe: a byte in it while records wait */
  record *head, **tail;
  size_t pending;
  vigil__node **watched; /* the directory nodes it watches */
  size_t nwatched, cap;
  char *path; /* a relative path being built */
  size_t path_cap;
} state;

static int sc_open(void **out, int *fd, const vigil__backend_config *cfg) {
  (void)cfg;
  state *s = vigil__calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->tail = &s->head;
  if (VIGIL__SYS(pipe(s->fd)) < 0) {
    int err = errno;
    free(s);
    return -err;
  }
  for (int i = 0; i < 2; i++) {
    if (VIGIL__SYS(fcntl(s->fd[i], F_SETFD, FD_CLOEXEC)) < 0 ||
        VIGIL__SYS(fcntl(s->fd[i], F_SETFL, O_NONBLOCK)) < 0) {
      int err = errno;
      close(s->fd[0]);
      close(s->fd[1]);
      free(s);
      return -err;
    }
  }
  *out = s;
  *fd = s->fd[0];
  return 0;
}

static size_t find_watched(const state *s, const vigil__node *dir) {
  for (size_t i = 0; i < s->nwatched; i++)
    if (s->watched[i] == dir)
      return i;
  return SIZE_MAX;
}

static int sc_watch(void *st, vigil__node *dir, int fd) {
  state *s = st;
  (void)fd;
  if (find_watched(s, dir) != SIZE_MAX)
    return 0;
  if (s->nwatched == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 16;
    vigil__node **n = vigil__realloc(s->watched, ncap * sizeof *n);
    if (!n)
      return -ENOMEM;
    s->watched = n;
    s->cap = ncap;
  }
  s->watched[s->nwatched++] = dir;
  vigil__node_slot(dir)->num = 1;
  return 0;
}

static void sc_unwatch(void *st, vigil__node *dir) {
  state *s = st;
  size_t i = find_watched(s, dir);
  if (i == SIZE_MAX)
    return;
  s->watched[i] = s->watched[--s->nwatched];
  vigil__node_slot(dir)->num = 0;
}

/* The child directory of dir named name (len bytes), or NULL. */
static vigil__node *child_dir(const vigil__node *dir, const char *name, size_t len) {
  for (vigil__node *c = vigil__node_first(dir); c; c = vigil__node_next(c))
    if (c->namelen == len && memcmp(vigil__node_name(c), name, len) == 0)
      return vigil__node_dir(c) ? c : NULL;
  return NULL;
}

/*
 * The directory at rel in its root, or NULL: a record for it is dropped.
 * It is a watched directory, or (for the recursive kind, which is given
 * only the tops) one found below a watched one.
 */
static vigil__node *lookup(state *s, const char *rel) {
  for (size_t i = 0; i < s->nwatched; i++) {
    size_t len = 0;
    if (vigil__node_relpath(s->watched[i], &s->path, &len, &s->path_cap) < 0)
      return NULL;
    if (strcmp(s->path, rel) == 0)
      return s->watched[i];
    const char *p = rel;
    if (len) {
      if (strncmp(rel, s->path, len) != 0 || rel[len] != '/')
        continue;
      p = rel + len + 1;
    }
    vigil__node *d = s->watched[i];
    while (d && *p) {
      const char *slash = strchr(p, '/');
      size_t n = slash ? (size_t)(slash - p) : strlen(p);
      d = child_dir(d, p, n);
      p += n + (slash != NULL);
    }
    if (d)
      return d;
  }
  return NULL;
}

static void apply(state *s, vigil_t *v, const record *r) {
  if (r->op == OVERFLOW) {
    vigil__obs_overflow(v);
    return;
  }
  vigil__node *d = lookup(s, r->dir);
  if (!d)
    return;
  size_t len = r->name ? strlen(r->name) : 0;
  switch (r->op) {
  case APPEARED:
    vigil__obs_appeared(v, d, r->name, len, r->is_dir, (enum vigil__how)r->arg);
    break;
  case GONE:
    vigil__obs_gone(v, d, r->name, len, (enum vigil__how)r->arg);
    break;
  case MOVED: {
    vigil__node *t = lookup(s, r->tdir);
    if (t)
      vigil__obs_moved(v, d, r->name, len, t, r->tname, strlen(r->tname), r->is_dir);
    else
      vigil__obs_gone(v, d, r->name, len, VIGIL__BY_MOVE);
    break;
  }
  case CHANGED:
    vigil__obs_changed(v, d, r->name, len, (vigil_kind)r->arg);
    break;
  case DIR_CHANGED:
    vigil__obs_dir_changed(v, d);
    break;
  case SELF_GONE:
    vigil__obs_self_gone(v, d);
    break;
  case OVERFLOW:
    break;
  }
}

static void record_free(record *r) {
  free(r->dir);
  free(r->name);
  free(r->tdir);
  free(r->tname);
  free(r);
}

static record *pop(state *s) {
  record *r = s->head;
  if (!r)
    return NULL;
  s->head = r->next;
  if (!s->head)
    s->tail = &s->head;
  s->pending--;
  return r;
}

/* The queue is empty: the descriptor stops being readable. */
static void settle_fd(state *s) {
  char buf[64];
  if (!s->pending)
    while (read(s->fd[0], buf, sizeof buf) > 0)
      ;
}

static int sc_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  state *s = st;
  record *r;
  while ((!max_units || out->units < max_units) && (r = pop(s))) {
    apply(s, v, r);
    record_free(r);
    out->records++;
    out->units++;
  }
  settle_fd(s);
  return 0;
}

static vigil__node *sc_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  state *s = st;
  return !after && find_watched(s, dir) != SIZE_MAX ? (vigil__node *)(uintptr_t)dir : NULL;
}

static size_t sc_watches(void *st) {
  return ((state *)st)->nwatched;
}

static size_t sc_pending(void *st) {
  return ((state *)st)->pending;
}

static size_t sc_discard(void *st, size_t max_units) {
  state *s = st;
  size_t n = 0;
  record *r;
  while (n < max_units && (r = pop(s))) {
    record_free(r);
    n++;
  }
  settle_fd(s);
  return n;
}

static void sc_flush(void *st, vigil_t *v) {
  (void)st;
  (void)v;
}

static void sc_close(void *st) {
  state *s = st;
  if (!s)
    return;
  record *r;
  while ((r = pop(s)))
    record_free(r);
  close(s->fd[0]);
  close(s->fd[1]);
  free(s->watched);
  free(s->path);
  free(s);
}

static char *dup_or_null(const char *p, int *failed) {
  if (!p)
    return NULL;
  char *d = vigil__strdup(p);
  if (!d)
    *failed = 1;
  return d;
}

static int push(state *s, enum op op, const char *dir, const char *name, const char *tdir,
                const char *tname, int is_dir, int arg) {
  record *r = vigil__calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  int failed = 0;
  r->op = op;
  r->is_dir = is_dir;
  r->arg = arg;
  r->dir = dup_or_null(dir, &failed);
  r->name = dup_or_null(name, &failed);
  r->tdir = dup_or_null(tdir, &failed);
  r->tname = dup_or_null(tname, &failed);
  if (failed) {
    record_free(r);
    return -ENOMEM;
  }
  *s->tail = r;
  s->tail = &r->next;
  /* One byte marks the pipe readable; more would only fill it. */
  if (s->pending++ == 0 && write(s->fd[1], "", 1) < 0)
    return 0; /* full: readable anyway */
  return 0;
}

int vigil__scripted_appeared(void *st, const char *dir, const char *name, int is_dir,
                             enum vigil__how how) {
  return push(st, APPEARED, dir, name, NULL, NULL, is_dir, (int)how);
}

int vigil__scripted_gone(void *st, const char *dir, const char *name, enum vigil__how how) {
  return push(st, GONE, dir, name, NULL, NULL, 0, (int)how);
}

int vigil__scripted_moved(void *st, const char *sdir, const char *sname, const char *tdir,
                          const char *tname, int is_dir) {
  return push(st, MOVED, sdir, sname, tdir, tname, is_dir, 0);
}

int vigil__scripted_changed(void *st, const char *dir, const char *name, vigil_kind kind) {
  return push(st, CHANGED, dir, name, NULL, NULL, 0, (int)kind);
}

int vigil__scripted_dir_changed(void *st, const char *dir) {
  return push(st, DIR_CHANGED, dir, NULL, NULL, NULL, 0, 0);
}

int vigil__scripted_self_gone(void *st, const char *dir) {
  return push(st, SELF_GONE, dir, NULL, NULL, NULL, 0, 0);
}

int vigil__scripted_overflow(void *st) {
  return push(st, OVERFLOW, NULL, NULL, NULL, NULL, 0, 0);
}

size_t vigil__scripted_watching(void *st) {
  return ((state *)st)->nwatched;
}

#define SCRIPTED_CALLS                                                                             \
  .open = sc_open, .watch = sc_watch, .unwatch = sc_unwatch, .read = sc_read,                      \
  .sharing = sc_sharing, .watches = sc_watches, .pending = sc_pending, .discard = sc_discard,      \
  .flush = sc_flush, .close = sc_close

const vigil__backend vigil__backend_scripted = {
    .name = "scripted",
    .caps = VIGIL__CAP_PAIRS_RENAMES | VIGIL__CAP_DIR_WATCHES | VIGIL__CAP_DIR_CHANGED,
    SCRIPTED_CALLS,
};

const vigil__backend vigil__backend_scripted_recursive = {
    .name = "scripted-recursive",
    .caps = VIGIL__CAP_PAIRS_RENAMES | VIGIL__CAP_RECURSIVE | VIGIL__CAP_DIR_CHANGED,
    SCRIPTED_CALLS,
};
