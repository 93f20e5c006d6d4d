/*
 * The Linux inotify backend.
 *
 * One inotify instance per vigil_t, opened non-blocking and close-on-exec.
 * Each watched directory node maps to a watch descriptor. Two nodes can
 * share one descriptor (overlapping roots, or a bind mount seen twice):
 * the kernel returns the same descriptor for the same inode, so the map
 * holds a chain of nodes per descriptor and every record goes to each.
 * A node's slot (vigil__node_slot) holds its descriptor (num, 0 when not
 * watched: the kernel's descriptors start at 1) and the next node of its
 * chain (ptr). What it has pending is counted in bytes of records.
 */
#include "backend/backend.h"
#include "backend/inotify.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define READ_SIZE (64 * 1024)

#define WATCH_MASK                                                                                 \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |  \
   IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR)

typedef struct {
  int wd; /* 0 marks a free slot; the kernel's descriptors start at 1 */
  vigil__node *head;
} slot;

/*
 * The nodes of one descriptor's chain, collected before a record is applied
 * to them: applying it to one node can drop others (a root that ends).
 * There is no bound on a chain: hundreds of file roots in one directory
 * are hundreds of nodes on its one watch.
 */
typedef struct {
  vigil__node **at;
  size_t len, cap;
} node_list;

typedef struct {
  int fd;
  uint32_t extra; /* IN_OPEN, IN_CLOSE_NOWRITE: added to WATCH_MASK when asked for */
  int quiet;      /* nested quiet scans: extra is left out meanwhile */
  int *qwds;      /* the descriptors placed without extra meanwhile */
  size_t qlen, qcap;
  slot *map;
  size_t mask, count;
  char *buf;
  node_list from, to;  /* the chains a record is applied to */
  unsigned char *used; /* pair: the destination nodes already paired */
  size_t used_cap;
  unsigned long detached; /* counts map_detach calls, to skip needless rechecks */
  int ignored_wd;         /* the watch the kernel is dropping (IN_IGNORED), or 0 */
  int move_wait_ms;       /* vigil__backend_config.move_wait_ms */
  size_t records;         /* records decoded, for vigil__read_result */
  /*
   * A rename source waits here for its destination. The kernel queues the
   * two records back to back, but a read can end between them; the pair
   * then arrives with the next read, and if nothing comes within the wait
   * the entry has left the watched tree.
   */
  int pending;
  uint32_t cookie;
  int pwd;
  int pisdir;
  size_t plen;
  struct timespec deadline;
  char pname[NAME_MAX + 1];
  /*
   * "/proc/PID/fd/": this process's descriptors as the mounted /proc
   * numbers it, read once from /proc/self. Naming the process saves the
   * kernel following the /proc/self link at every watch placed.
   */
  char fds[48];
  size_t fds_len;
  /*
   * The last rename's ends, to tell when the next rename reverses it with
   * records in between: the two halves of an exchange that were not
   * adjacent, which apply.c can then no longer pair (see pair).
   */
  int last_valid;
  int last_swd, last_twd;
  size_t last_slen, last_tlen;
  size_t since_pair; /* records since the last rename, MOVE_SELF aside */
  char last_sname[NAME_MAX + 1], last_tname[NAME_MAX + 1];
} state;

/* The node's descriptor, 0 when it is not watched. */
static int wd_of(const vigil__node *n) {
  return vigil__node_slot(n)->num;
}

static vigil__node *wd_next(const vigil__node *n) {
  return vigil__node_slot(n)->ptr;
}

/*
 * A descriptor's home slot is three times its number. The kernel hands
 * descriptors out in increasing order, so a setup fills the table at a
 * steady stride that the processor's prefetcher follows: at 100,000
 * directories, the cache miss of each lookup under a multiplicative hash
 * was most of the user time of a setup. The stride, rather than the
 * number itself, keeps the slots of a long-lived tree's descriptors from
 * forming one long run: descriptors keep growing as directories come and
 * go, and one whose number wraps into such a run would be found only at
 * its end, after a probe per live watch.
 */
static size_t slot_of(const state *s, int wd) {
  return (size_t)((uint32_t)wd * 3u) & s->mask;
}

static slot *map_find(state *s, int wd) {
  for (size_t i = slot_of(s, wd);; i = (i + 1) & s->mask) {
    if (s->map[i].wd == wd)
      return &s->map[i];
    if (s->map[i].wd == 0)
      return NULL;
  }
}

static int map_grow(state *s) {
  size_t nsize = (s->mask + 1) * 2;
  slot *nm = vigil__calloc(nsize, sizeof *nm);
  if (!nm)
    return -ENOMEM;
  slot *old = s->map;
  size_t old_size = s->mask + 1;
  s->map = nm;
  s->mask = nsize - 1;
  for (size_t i = 0; i < old_size; i++) {
    if (!old[i].wd)
      continue;
    size_t j = slot_of(s, old[i].wd);
    while (nm[j].wd)
      j = (j + 1) & s->mask;
    nm[j] = old[i];
  }
  free(old);
  return 0;
}

static int map_insert(state *s, int wd, vigil__node *n) {
  slot *e = map_find(s, wd);
  if (e) {
    vigil__node_slot(n)->ptr = e->head;
    e->head = n;
    return 0;
  }
  if ((s->count + 1) * 2 > s->mask + 1 && map_grow(s) < 0)
    return -ENOMEM;
  size_t i = slot_of(s, wd);
  while (s->map[i].wd)
    i = (i + 1) & s->mask;
  s->map[i].wd = wd;
  s->map[i].head = n;
  vigil__node_slot(n)->ptr = NULL;
  s->count++;
  return 0;
}

/* Linear probing deletes by shifting back the entries that follow. */
static void map_erase(state *s, slot *e) {
  size_t i = (size_t)(e - s->map);
  s->map[i].wd = 0;
  s->map[i].head = NULL;
  s->count--;
  for (size_t j = (i + 1) & s->mask; s->map[j].wd; j = (j + 1) & s->mask) {
    size_t home = slot_of(s, s->map[j].wd);
    /* Move j back to i if i lies cyclically in [home, j). */
    if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
      s->map[i] = s->map[j];
      s->map[j].wd = 0;
      s->map[j].head = NULL;
      i = j;
    }
  }
}

/* Takes n out of its descriptor's chain; returns 1 if the chain is now empty. */
static int map_detach(state *s, vigil__node *n) {
  s->detached++;
  int wd = wd_of(n);
  vigil__node_slot(n)->num = 0;
  slot *e = map_find(s, wd);
  if (!e)
    return 0;
  vigil__node *prev = NULL, *k = e->head;
  while (k && k != n) {
    prev = k;
    k = wd_next(k);
  }
  if (k && prev)
    vigil__node_slot(prev)->ptr = wd_next(n);
  else if (k)
    e->head = wd_next(n);
  vigil__node_slot(n)->ptr = NULL;
  if (e->head)
    return 0;
  map_erase(s, e);
  return 1;
}

static void in_close(void *st);

static int in_open(void **out, int *fd, const vigil__backend_config *cfg) {
  state *s = vigil__calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->map = vigil__calloc(64, sizeof *s->map);
  s->buf = vigil__malloc(READ_SIZE);
  if (!s->map || !s->buf) {
    free(s->map);
    free(s->buf);
    free(s);
    return -ENOMEM;
  }
  s->mask = 63;
  s->move_wait_ms = cfg->move_wait_ms;
  if (cfg->kinds & (1u << VIGIL_OPENED))
    s->extra |= IN_OPEN;
  if (cfg->kinds & (1u << VIGIL_CLOSED_NOWRITE))
    s->extra |= IN_CLOSE_NOWRITE;
  s->fd = VIGIL__SYS(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (s->fd < 0) {
    int err = errno;
    free(s->map);
    free(s->buf);
    free(s);
    /*
     * EMFILE means either the per-user instance limit or this process's
     * open-file limit. If another descriptor can still be had, it is the
     * instance limit.
     */
    if (err == EMFILE) {
      int probe = eventfd(0, EFD_CLOEXEC);
      if (probe >= 0 || errno != EMFILE) {
        if (probe >= 0)
          close(probe);
        return VIGIL_EINSTLIMIT;
      }
    }
    return -err;
  }
  /* Every watch is placed through /proc (in_watch); without it none could be. */
  char pid[24];
  ssize_t n = VIGIL__SYS(readlink("/proc/self", pid, sizeof pid - 1));
  if (n > 0) {
    pid[n] = '\0';
    s->fds_len = (size_t)snprintf(s->fds, sizeof s->fds, "/proc/%s/fd/", pid);
  }
  if (n <= 0 || s->fds_len >= sizeof s->fds - 12 || VIGIL__SYS(access(s->fds, X_OK)) < 0) {
    in_close(s);
    return VIGIL_ENOPROC;
  }
  *out = s;
  *fd = s->fd;
  return 0;
}

/* Room to remember one more quiet watch; without it the watch gets the whole mask. */
static int quiet_room(state *s) {
  if (s->qlen < s->qcap)
    return 1;
  size_t ncap = s->qcap ? s->qcap * 2 : 256;
  int *n = vigil__realloc(s->qwds, ncap * sizeof *n);
  if (!n)
    return 0;
  s->qwds = n;
  s->qcap = ncap;
  return 1;
}

/*
 * inotify has no *at form: a watch is placed by path. The path of an open
 * descriptor in /proc/self/fd is a link the kernel resolves to the very
 * directory the descriptor holds, so the watch covers the directory that
 * is listed, whatever its name holds by now, at any depth, and with no
 * symbolic link followed (the descriptor was opened without following
 * any). IN_DONT_FOLLOW would watch the link itself.
 */
static int in_watch(void *st, vigil__node *dir, int fd) {
  state *s = st;
  char path[sizeof s->fds + 12], digits[12];
  memcpy(path, s->fds, s->fds_len);
  /* The number written by hand: snprintf shows in a profile of a setup. */
  size_t n = 0;
  for (unsigned u = (unsigned)fd; n == 0 || u; u /= 10)
    digits[n++] = (char)('0' + u % 10);
  for (size_t i = 0; i < n; i++)
    path[s->fds_len + i] = digits[n - 1 - i];
  path[s->fds_len + n] = '\0';
  uint32_t mask = WATCH_MASK | s->extra;
  if (s->quiet && s->extra && quiet_room(s))
    mask = WATCH_MASK;
  int wd = VIGIL__SYS(inotify_add_watch(s->fd, path, mask));
  if (mask != (WATCH_MASK | s->extra) && wd >= 0)
    s->qwds[s->qlen++] = wd;
  if (wd < 0)
    return errno == ENOSPC ? VIGIL_EWATCHLIMIT : -errno;
  if (wd_of(dir) == wd)
    return 0;
  if (wd_of(dir) > 0) {
    /* The name now holds another directory; the old watch is stale. */
    int old = wd_of(dir);
    if (map_detach(s, dir))
      inotify_rm_watch(s->fd, old);
  }
  if (map_insert(s, wd, dir) < 0) {
    /* The kernel watch may be shared; remove it only if it is ours alone. */
    if (!map_find(s, wd))
      inotify_rm_watch(s->fd, wd);
    return -ENOMEM;
  }
  vigil__node_slot(dir)->num = wd;
  return 0;
}

static int in_quiet(void *st, int on) {
  state *s = st;
  s->quiet += on ? 1 : -1;
  /* Ending: the outermost call restores what the nested ones quieted. */
  return s->extra != 0 && (on || s->quiet == 0);
}

static vigil__node *in_quieted(void *st) {
  state *s = st;
  while (s->qlen) {
    slot *e = map_find(s, s->qwds[--s->qlen]);
    if (e)
      return e->head;
  }
  return NULL;
}

static void in_unwatch(void *st, vigil__node *dir) {
  state *s = st;
  int wd = wd_of(dir);
  if (wd <= 0)
    return;
  if (map_detach(s, dir) && wd != s->ignored_wd)
    inotify_rm_watch(s->fd, wd);
}

/*
 * Collects the nodes watching wd into *out; -ENOMEM if the list cannot
 * grow, and then the record is applied to none of them and the instance
 * is repaired instead, so that nothing is lost silently.
 */
static int chain(state *s, vigil_t *v, int wd, node_list *out) {
  slot *e = map_find(s, wd);
  out->len = 0;
  for (vigil__node *k = e ? e->head : NULL; k; k = wd_next(k)) {
    if (out->len == out->cap) {
      size_t ncap = out->cap ? out->cap * 2 : 16;
      vigil__node **na = vigil__realloc(out->at, ncap * sizeof *na);
      if (!na) {
        out->len = 0;
        vigil__obs_lost(v);
        return -ENOMEM;
      }
      out->at = na;
      out->cap = ncap;
    }
    out->at[out->len++] = k;
  }
  return 0;
}

/*
 * A node collected from a chain may have been dropped by an earlier step
 * (and freed: only its address is compared). Nothing can have been dropped
 * unless some node was detached since the chain was collected at gen.
 */
static int still_watched(state *s, unsigned long gen, int wd, const vigil__node *n) {
  if (s->detached == gen)
    return 1;
  slot *e = map_find(s, wd);
  for (vigil__node *k = e ? e->head : NULL; k; k = wd_next(k))
    if (k == n)
      return 1;
  return 0;
}

static void resolve_pending(state *s, vigil_t *v) {
  if (!s->pending)
    return;
  s->pending = 0;
  /*
   * An entry that leaves for a place vigil does not watch may be the
   * second half of an exchange whose first half put an entry at its name
   * (apply.c tells), and it is no first half itself.
   */
  if (vigil__xchg_held(v))
    vigil__xchg_age(v);
  if (chain(s, v, s->pwd, &s->from) == 0) {
    unsigned long gen = s->detached;
    for (size_t i = 0; i < s->from.len; i++)
      if (still_watched(s, gen, s->pwd, s->from.at[i]))
        vigil__obs_gone(v, s->from.at[i], s->pname, s->plen, VIGIL__BY_MOVE);
  }
  if (vigil__xchg_held(v))
    vigil__xchg_release(v, 0);
}

/* Does a node watching wd lie in a subtree that apply.c keeps aside for an exchange? */
static int chain_detached(state *s, int wd) {
  slot *e = map_find(s, wd);
  for (vigil__node *k = e ? e->head : NULL; k; k = wd_next(k))
    if (vigil__detached(k))
      return 1;
  return 0;
}

static void pair_apply(state *s, vigil_t *v, int wd, const char *name, size_t len);

/*
 * A rename, both ends. The renames before it are kept (apply.c) in case
 * this one is the second half of an exchange, and let go after it; it is
 * then kept itself until the next record.
 */
static void pair(state *s, vigil_t *v, int wd, const char *name, size_t len) {
  s->pending = 0;
  if (vigil__xchg_held(v)) {
    /* Renamed inside a subtree kept aside: no exchange, and no node of it may be used. */
    if (chain_detached(s, s->pwd) || chain_detached(s, wd))
      vigil__xchg_release(v, 0);
    vigil__xchg_age(v);
  }
  /*
   * The reverse of the last rename, with other records between them (its
   * own two aside): if it is an exchange, the entry the first half
   * replaced is gone, and apply.c asks for a rescan when the disk says so.
   */
  vigil__xchg_suspect(v, s->last_valid && s->since_pair > 2 && s->pwd == s->last_twd &&
                             wd == s->last_swd && s->plen == s->last_tlen && len == s->last_slen &&
                             memcmp(s->pname, s->last_tname, s->plen) == 0 &&
                             memcmp(name, s->last_sname, len) == 0);
  pair_apply(s, v, wd, name, len);
  vigil__xchg_suspect(v, 0);
  if (vigil__xchg_held(v))
    vigil__xchg_release(v, 1);
  s->last_valid = len <= NAME_MAX;
  s->last_swd = s->pwd;
  s->last_twd = wd;
  s->last_slen = s->plen;
  s->last_tlen = len;
  memcpy(s->last_sname, s->pname, s->plen);
  if (s->last_valid)
    memcpy(s->last_tname, name, len);
  s->since_pair = 0;
}

static void pair_apply(state *s, vigil_t *v, int wd, const char *name, size_t len) {
  if (chain(s, v, s->pwd, &s->from) < 0)
    return;
  unsigned long gen = s->detached;
  if (wd == s->pwd) {
    /* Within one directory: each node is both ends, in its own root. */
    for (size_t i = 0; i < s->from.len; i++) {
      vigil__node *d = s->from.at[i];
      if (still_watched(s, gen, wd, d))
        vigil__obs_moved(v, d, s->pname, s->plen, d, name, len, s->pisdir);
    }
    return;
  }
  if (chain(s, v, wd, &s->to) < 0)
    return;
  size_t nf = s->from.len, nt = s->to.len;
  if (nt > s->used_cap) {
    unsigned char *nu = vigil__realloc(s->used, nt);
    if (!nu) {
      vigil__obs_lost(v);
      return;
    }
    s->used = nu;
    s->used_cap = nt;
  }
  if (nt) /* with no target node, used may still be NULL */
    memset(s->used, 0, nt);
  vigil__node **from = s->from.at, **to = s->to.at;
  for (size_t i = 0; i < nf; i++) {
    if (!still_watched(s, gen, s->pwd, from[i]))
      continue;
    vigil__root *r = vigil__node_root(from[i]);
    size_t j = 0;
    while (j < nt && (s->used[j] || vigil__node_root(to[j]) != r))
      j++;
    if (j < nt && still_watched(s, gen, wd, to[j])) {
      s->used[j] = 1;
      vigil__obs_moved(v, from[i], s->pname, s->plen, to[j], name, len, s->pisdir);
    } else {
      vigil__obs_gone(v, from[i], s->pname, s->plen, VIGIL__BY_MOVE);
    }
  }
  for (size_t j = 0; j < nt; j++)
    if (!s->used[j] && still_watched(s, gen, wd, to[j]))
      vigil__obs_appeared(v, to[j], name, len, s->pisdir, VIGIL__BY_MOVE);
}

static void dispatch(state *s, vigil_t *v, const struct inotify_event *e, const char *name) {
  if (name && !name[0])
    name = NULL;
  size_t len = name ? strlen(name) : 0;
  int is_dir = (e->mask & IN_ISDIR) != 0;

  /*
   * Opens and closes of directories (asked for with opened and
   * closed_nowrite) are dropped below: vigil's own listings make them,
   * and so do other watchers'. They must not come between the two halves
   * of a rename either, which they would unpair.
   */
  if (is_dir && !(e->mask & ~(uint32_t)(IN_OPEN | IN_CLOSE_NOWRITE | IN_ISDIR)))
    return;
  if (!(e->mask & IN_MOVE_SELF))
    s->since_pair++;
  int pairs = (e->mask & IN_MOVED_TO) && name && s->pending && e->cookie == s->cookie;
  /*
   * The renames kept in case of an exchange (apply.c) are let go at any
   * record but the next rename's and the MOVE_SELF of a renamed directory,
   * which the kernel sends between the two halves of an exchange.
   */
  if (s->pending && !pairs)
    resolve_pending(s, v);
  if (vigil__xchg_held(v) && !pairs && !(e->mask & (IN_MOVED_FROM | IN_MOVE_SELF)))
    vigil__xchg_release(v, 0);
  if (e->mask & IN_Q_OVERFLOW) {
    vigil__obs_overflow(v);
    return;
  }
  if ((e->mask & IN_MOVED_FROM) && name) {
    if (!map_find(s, e->wd))
      return;
    s->pending = 1;
    s->cookie = e->cookie;
    s->pwd = e->wd;
    s->pisdir = is_dir;
    s->plen = len < NAME_MAX ? len : NAME_MAX;
    memcpy(s->pname, name, s->plen);
    s->pname[s->plen] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &s->deadline);
    s->deadline.tv_nsec += (long)s->move_wait_ms * 1000000L;
    while (s->deadline.tv_nsec >= 1000000000L) {
      s->deadline.tv_nsec -= 1000000000L;
      s->deadline.tv_sec++;
    }
    return;
  }
  if ((e->mask & IN_MOVED_TO) && name && s->pending) {
    pair(s, v, e->wd, name, len);
    return;
  }

  if (chain(s, v, e->wd, &s->from) < 0)
    return;
  vigil__node **nodes = s->from.at;
  size_t n = s->from.len;
  unsigned long gen = s->detached;
  if (e->mask & IN_IGNORED) {
    /*
     * The kernel has dropped the watch, so it is not removed again. The
     * roots whose top it was end first, while the chain still shows
     * whether another root holds that directory (which then reports it);
     * below a top, the parent's watch reports the removal.
     */
    s->ignored_wd = e->wd;
    for (size_t i = 0; i < n; i++)
      if (!vigil__node_parent(nodes[i]) && still_watched(s, gen, e->wd, nodes[i]))
        vigil__obs_watch_lost(v, nodes[i]);
    for (size_t i = 0; i < n; i++)
      if (still_watched(s, gen, e->wd, nodes[i])) {
        map_detach(s, nodes[i]);
        vigil__obs_unwatched(v, nodes[i]);
      }
    s->ignored_wd = 0;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    vigil__node *d = nodes[i];
    if (!still_watched(s, gen, e->wd, d))
      continue;
    if (e->mask & IN_UNMOUNT)
      vigil__obs_unmounted(v, d);
    else if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
      vigil__obs_self_gone(v, d);
    else if (name && (e->mask & IN_CREATE))
      vigil__obs_appeared(v, d, name, len, is_dir, VIGIL__BY_CREATE);
    else if (name && (e->mask & IN_MOVED_TO))
      vigil__obs_appeared(v, d, name, len, is_dir, VIGIL__BY_MOVE);
    else if (name && (e->mask & IN_DELETE))
      vigil__obs_gone(v, d, name, len, VIGIL__BY_CREATE);
    /* The rest may be about the directory itself (no name). */
    else if (e->mask & IN_MODIFY)
      vigil__obs_changed(v, d, name, len, VIGIL_MODIFIED);
    else if (e->mask & IN_ATTRIB)
      vigil__obs_changed(v, d, name, len, VIGIL_ATTRIB);
    else if (e->mask & IN_CLOSE_WRITE)
      vigil__obs_changed(v, d, name, len, VIGIL_CLOSED);
    /*
     * Opens and closes of directories are left out: vigil's own listings
     * make them, and the caller would hear vigil's echo.
     */
    else if (is_dir)
      continue;
    else if (e->mask & IN_OPEN)
      vigil__obs_changed(v, d, name, len, VIGIL_OPENED);
    else if (e->mask & IN_CLOSE_NOWRITE)
      vigil__obs_changed(v, d, name, len, VIGIL_CLOSED_NOWRITE);
  }
}

size_t vigil__inotify_decode(void *st, vigil_t *v, const char *buf, size_t len) {
  state *s = st;
  size_t records = 0;
  size_t off = 0;
  /* Records are checked against the buffer, so a short or corrupt one ends the walk. */
  while (len - off >= sizeof(struct inotify_event)) {
    struct inotify_event e;
    memcpy(&e, buf + off, sizeof e);
    size_t size = sizeof e + e.len;
    if (e.len > len - off - sizeof e)
      break;
    if (e.len) {
      /* The kernel pads names with NULs; a name must end inside its record. */
      if (!memchr(buf + off + sizeof e, '\0', e.len)) {
        off += size;
        continue;
      }
    }
    dispatch(s, v, &e, e.len ? buf + off + sizeof e : NULL);
    records++;
    off += size;
  }
  return records;
}

static int ms_until(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
                 (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
  return ms < 0 ? 0 : (int)ms;
}

static int in_read(void *st, vigil_t *v, size_t max_bytes, vigil__read_result *out) {
  state *s = st;
  struct timespec before;
  clock_gettime(CLOCK_REALTIME_COARSE, &before);
  size_t want = max_bytes && max_bytes < READ_SIZE ? max_bytes : READ_SIZE;
  ssize_t got = VIGIL__SYS(read(s->fd, s->buf, want));
  if (got < 0) {
    /* EINVAL: the next record is larger than max_bytes, so it came later. */
    int later = errno == EINVAL && max_bytes;
    if (!later && errno != EAGAIN && errno != EINTR)
      return -errno;
    if (!later && errno == EAGAIN) {
      /* The queue was empty: every change before this moment has been read. */
      out->synced = 1;
      out->sync = before;
      if (s->pending && ms_until(&s->deadline) == 0)
        resolve_pending(s, v);
    }
    out->wait_ms = s->pending ? ms_until(&s->deadline) : -1;
    return 0;
  }
  out->records = vigil__inotify_decode(s, v, s->buf, (size_t)got);
  out->units = (size_t)got;
  out->wait_ms = s->pending ? ms_until(&s->deadline) : -1;
  return 0;
}

static vigil__node *in_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  if (after)
    return wd_next(after);
  int wd = wd_of(dir);
  slot *e = wd > 0 ? map_find(st, wd) : NULL;
  return e ? e->head : NULL;
}

static size_t in_watches(void *st) {
  return ((state *)st)->count;
}

static size_t in_pending(void *st) {
  state *s = st;
  int n = 0;
  if (VIGIL__SYS(ioctl(s->fd, FIONREAD, &n)) < 0 || n < 0)
    return 0;
  return (size_t)n;
}

static size_t in_discard(void *st, size_t max_bytes) {
  state *s = st;
  size_t records = 0;
  while (max_bytes > 0) {
    size_t want = max_bytes < READ_SIZE ? max_bytes : READ_SIZE;
    ssize_t got = VIGIL__SYS(read(s->fd, s->buf, want));
    if (got <= 0)
      break;
    for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)got; records++) {
      struct inotify_event e;
      memcpy(&e, s->buf + off, sizeof e);
      off += sizeof e + e.len;
    }
    max_bytes -= (size_t)got < max_bytes ? (size_t)got : max_bytes;
  }
  return records;
}

static void in_flush(void *st, vigil_t *v) {
  resolve_pending(st, v);
  vigil__xchg_release(v, 0);
}

static void in_close(void *st) {
  state *s = st;
  if (!s)
    return;
  /*
   * Closing the instance drops all of its watches at once, in the kernel.
   * In a forked child this closes only the child's copy of the descriptor,
   * and the parent's watches live on; inotify_rm_watch would remove them
   * for the parent too, so it is never called here.
   */
  close(s->fd);
  free(s->qwds);
  free(s->map);
  free(s->buf);
  free(s->from.at);
  free(s->to.at);
  free(s->used);
  free(s);
}

const vigil__backend vigil__backend_inotify = {
    .name = "inotify",
    /*
     * Renames come paired by cookie, one watch per directory, and the
     * coarse clock files are stamped with tells the sync point.
     */
    .caps = VIGIL__CAP_PAIRS_RENAMES | VIGIL__CAP_DIR_WATCHES | VIGIL__CAP_SYNC_CLOCK,
    .open = in_open,
    .watch = in_watch,
    .quiet = in_quiet,
    .quieted = in_quieted,
    .unwatch = in_unwatch,
    .read = in_read,
    .sharing = in_sharing,
    .watches = in_watches,
    .pending = in_pending,
    .discard = in_discard,
    .flush = in_flush,
    .close = in_close,
};
