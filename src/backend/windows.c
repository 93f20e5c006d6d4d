/*
 * The Windows backend: one overlapped ReadDirectoryChangesW of the whole
 * subtree per root (rdcw.c), its records made observations by rdcw_obs.c.
 * docs/backends.md says what it does and how it is tested.
 *
 * Every root's read completes into one manual-reset event, the backend's
 * source: the core waits on one handle however many roots there are.
 * Each read issued resets that event, so after its reads the backend
 * sets it again while any root has a completion waiting to be taken.
 *
 * Stopping never depends on CancelIoEx: a read is cancelled by the thread
 * that issued it, or, from another thread, by CancelIoEx where it exists
 * and otherwise by closing the directory's handle, and its memory is
 * freed only once it has completed (rdcw.h).
 */
#include "backend/backend.h"
#include "backend/rdcw.h"
#include "backend/rdcw_obs.h"
#include "platform/winfs.h"

#include <windows.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct root_watch {
  vigil__rdcw *w;
  vigil__rdcw_obs obs;
  const char *path; /* the root's directory (vigil__root.abspath), '/' between names */
  /*
   * The root's own read says nothing when the root is renamed (its
   * handle follows the directory), so a read of its parent, not of the
   * subtree, looks for the root's name going away; then the root has
   * ended if its path no longer leads to the same directory (volume
   * serial and file ID). NULL for a drive's or a share's top.
   */
  vigil__rdcw *up;
  const char *base; /* the root's name in its parent: a pointer into path */
  uint64_t volume, id;
  int base_went; /* the parent said the name went away, in the read under way */
  struct root_watch *next;
} root_watch;

typedef struct {
  HANDLE ev; /* the source: set by every root's completion */
  root_watch *roots;
  size_t nroots;
  vigil_t *v;          /* the instance of the read under way */
  int lost;            /* a record could not be kept: repair */
  root_watch *current; /* the root whose records are being applied */
  int current_dropped; /* ... and the core unwatched it meanwhile */
} state;

/* Buffer size for the tests (0: rdcw.c's 64 KiB). */
size_t vigil__windows_buffer_size;

static int win_open(void **out, vigil_os_fd_t *fd, const vigil__backend_config *cfg) {
  (void)cfg;
  state *s = vigil__calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!s->ev) {
    free(s);
    return -ENOMEM;
  }
  *out = s;
  *fd = s->ev;
  return 0;
}

static root_watch *find(const state *s, const vigil__node *top) {
  for (root_watch *rw = s->roots; rw; rw = rw->next)
    if (rw->obs.top == top)
      return rw;
  return NULL;
}

/* Has one of the root's reads completed? */
static int done(const root_watch *rw) {
  return vigil__rdcw_done(rw->w) || (rw->up && vigil__rdcw_done(rw->up));
}

/* Every read issued reset the event: set it while a completion waits. */
static void rearm(state *s) {
  for (root_watch *rw = s->roots; rw; rw = rw->next)
    if (done(rw)) {
      SetEvent(s->ev);
      return;
    }
}

/* Is the directory at the root's path the one that was watched? */
static int still_there(const root_watch *rw) {
  void *h;
  if (vigil__win_open_dir(&h, NULL, rw->path, strlen(rw->path)) < 0)
    return 0;
  vigil__win_stat st;
  int same = vigil__win_fstat(h, &st) == 0 && st.volume == rw->volume && st.id == rw->id;
  vigil__win_close(h);
  return same;
}

/*
 * Watches the root's parent for its name. What the root is, the core
 * learnt as it added it (its volume and file ID, as stat gives them).
 */
static void watch_up(state *s, root_watch *rw, const vigil__root *r) {
  const char *slash = strrchr(rw->path, '/');
  if (!slash || !slash[1] || slash == rw->path || slash[-1] == ':' || slash[-1] == '/')
    return; /* a drive's or a share's top: nothing above it to rename it in */
  size_t up_len = (size_t)(slash - rw->path);
  char *up = malloc(up_len + 1);
  if (!up)
    return;
  memcpy(up, rw->path, up_len);
  up[up_len] = 0;
  /* Without it the root still works; only its move away goes unseen. */
  if (vigil__rdcw_open(&rw->up, up, 0, 0, s->ev) == 0) {
    rw->base = slash + 1;
    rw->volume = r->dev;
    rw->id = r->ino;
  }
  free(up);
}

static int parent_record(void *ctx, unsigned action, const char *path, size_t len) {
  root_watch *rw = ctx;
  if ((action == VIGIL__RDCW_REMOVED || action == VIGIL__RDCW_RENAMED_OLD) &&
      len == strlen(rw->base) && memcmp(path, rw->base, len) == 0)
    rw->base_went = 1;
  return 0;
}

/*
 * Takes the parent's completion: when the root's name went away (or the
 * records were lost), the root has ended if its path no longer leads to
 * it. Returns whether it ended.
 */
static int read_up(vigil_t *v, root_watch *rw) {
  if (!rw->up || !vigil__rdcw_done(rw->up))
    return 0;
  vigil__rdcw_result res;
  rw->base_went = 0;
  vigil__rdcw_read(rw->up, parent_record, rw, 0, &res);
  if ((rw->base_went || res.overflow || res.gone) && !still_there(rw)) {
    vigil__rdcw_obs_result(&rw->obs, v, 0, 1);
    return 1;
  }
  return 0;
}

/* What the entry at path (relative to the root, '\' between names) is now. */
static int kind_of(void *ctx, const char *path, size_t len) {
  root_watch *rw = ctx;
  size_t plen = strlen(rw->path);
  char *full = malloc(plen + len + 2);
  if (!full)
    return -ENOMEM;
  memcpy(full, rw->path, plen);
  full[plen] = '\\';
  memcpy(full + plen + 1, path, len);
  full[plen + 1 + len] = 0;
  int err = 0;
  uint16_t *w = vigil__win_long_path(full, &err);
  free(full);
  if (!w)
    return err;
  DWORD a = GetFileAttributesW((const wchar_t *)w);
  DWORD code = GetLastError();
  free(w);
  if (a == INVALID_FILE_ATTRIBUTES)
    return vigil__win_errno(code);
  /* A link to a directory is not one the tree descends into. */
  return (a & FILE_ATTRIBUTE_DIRECTORY) && !(a & FILE_ATTRIBUTE_REPARSE_POINT) ? 1 : 0;
}

static int win_watch(void *st, vigil__node *dir, int fd) {
  state *s = st;
  (void)fd;
  if (find(s, dir))
    return 0; /* the read of the whole subtree is in place */
  vigil__root *r = vigil__node_root(dir);
  if (!r || !r->abspath)
    return -EINVAL;
  root_watch *rw = vigil__calloc(1, sizeof *rw);
  if (!rw)
    return -ENOMEM;
  rw->path = r->abspath;
  rw->obs.top = dir;
  rw->obs.kind_of = kind_of;
  rw->obs.kind_ctx = rw;
  /* A file root's holder is read alone, not with the directories below it. */
  int subtree = !r->norecurse && !r->is_file;
  int rc = vigil__rdcw_open(&rw->w, r->abspath, vigil__windows_buffer_size, subtree, s->ev);
  if (rc < 0) {
    free(rw);
    return rc;
  }
  if (!r->is_file) /* a file root's own read sees the file go */
    watch_up(s, rw, r);
  rw->next = s->roots;
  s->roots = rw;
  s->nroots++;
  vigil__node_slot(dir)->num = 1;
  rearm(s);
  return 0;
}

static void drop(state *s, root_watch *rw) {
  if (rw == s->current) {
    /* Its records are being applied: freed when that is over (win_read). */
    s->current_dropped = 1;
    return;
  }
  for (root_watch **p = &s->roots; *p; p = &(*p)->next)
    if (*p == rw) {
      *p = rw->next;
      break;
    }
  s->nroots--;
  vigil__rdcw_close(rw->up);
  vigil__rdcw_close(rw->w);
  vigil__rdcw_obs_free(&rw->obs);
  free(rw);
}

static void win_unwatch(void *st, vigil__node *dir) {
  state *s = st;
  root_watch *rw = find(s, dir);
  if (!rw)
    return;
  vigil__node_slot(dir)->num = 0;
  drop(s, rw);
}

typedef struct {
  state *s;
  root_watch *rw;
} read_ctx;

static int record(void *ctx, unsigned action, const char *path, size_t len) {
  read_ctx *c = ctx;
  if (vigil__rdcw_obs_record(&c->rw->obs, c->s->v, action, path, len) < 0)
    c->s->lost = 1;
  return 0;
}

/*
 * Records applied in one read of a root, at most: each "added" is looked
 * at on disk, so a whole 64 KiB batch (a thousand records and more) would
 * keep a stop waiting; the rest comes with the next reads.
 */
#define READ_MAX 128

static int win_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  state *s = st;
  /* A unit is one read of a root: up to READ_MAX records. */
  out->wait_ms = -1;
  ResetEvent(s->ev);
  s->v = v;
  root_watch *next;
  for (root_watch *rw = s->roots; rw && (!max_units || out->units < max_units); rw = next) {
    next = rw->next;
    if (!done(rw))
      continue;
    s->current = rw;
    s->current_dropped = 0;
    int ended = read_up(v, rw);
    s->current = NULL;
    if (s->current_dropped) {
      drop(s, rw);
      continue;
    }
    if (ended || !vigil__rdcw_done(rw->w))
      continue;
    read_ctx c = {s, rw};
    vigil__rdcw_result res;
    s->lost = 0;
    s->current = rw;
    s->current_dropped = 0;
    int rc = vigil__rdcw_read(rw->w, record, &c, READ_MAX, &res);
    out->records += res.records;
    out->units++;
    /* Lost records, said by the kernel or not, are an overflow to repair. */
    int overflow = res.overflow || s->lost || rc == -ENOMEM;
    /*
     * The end of a batch ends a rename held at its end (moved out); a
     * batch read in parts is not ended before its last part, since the
     * new name may open the next one.
     */
    if (!s->current_dropped && (!res.more || overflow || res.gone))
      vigil__rdcw_obs_result(&rw->obs, v, overflow, res.gone);
    s->current = NULL;
    if (s->current_dropped)
      drop(s, rw);
  }
  s->v = NULL;
  rearm(s);
  return 0;
}

static vigil__node *win_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  return !after && find(st, dir) ? (vigil__node *)(uintptr_t)dir : NULL;
}

static size_t win_watches(void *st) {
  return ((state *)st)->nroots;
}

static size_t win_pending(void *st) {
  state *s = st;
  size_t n = 0;
  for (root_watch *rw = s->roots; rw; rw = rw->next)
    n += done(rw) != 0;
  return n;
}

static int ignore_record(void *ctx, unsigned action, const char *path, size_t len) {
  (void)ctx, (void)action, (void)path, (void)len;
  return 0;
}

static size_t win_discard(void *st, size_t max_units) {
  state *s = st;
  size_t n = 0, units = 0;
  ResetEvent(s->ev);
  for (root_watch *rw = s->roots; rw && units < max_units; rw = rw->next) {
    if (!done(rw))
      continue;
    vigil__rdcw_result res;
    /* The parent's records too: the repair that follows a discard finds a root moved away. */
    if (rw->up && vigil__rdcw_done(rw->up)) {
      vigil__rdcw_read(rw->up, ignore_record, NULL, 0, &res);
      n += res.records;
    }
    if (vigil__rdcw_done(rw->w)) {
      vigil__rdcw_read(rw->w, ignore_record, NULL, 0, &res);
      n += res.records;
    }
    units++;
  }
  rearm(s);
  return n;
}

static void win_flush(void *st, vigil_t *v) {
  state *s = st;
  for (root_watch *rw = s->roots; rw; rw = rw->next)
    vigil__rdcw_obs_end(&rw->obs, v);
}

static void win_close(void *st) {
  state *s = st;
  if (!s)
    return;
  while (s->roots)
    drop(s, s->roots);
  CloseHandle(s->ev);
  free(s);
}

const vigil__backend vigil__backend_windows = {
    .name = "windows",
    .caps = VIGIL__CAP_PAIRS_RENAMES | VIGIL__CAP_RECURSIVE,
    .open = win_open,
    .watch = win_watch,
    .unwatch = win_unwatch,
    .read = win_read,
    .sharing = win_sharing,
    .watches = win_watches,
    .pending = win_pending,
    .discard = win_discard,
    .flush = win_flush,
    .close = win_close,
};
