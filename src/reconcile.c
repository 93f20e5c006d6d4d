/*
 * Reconcile: list a directory and everything below it, and make the tree
 * match what is on disk, depth first from an explicit stack.
 *
 * One function serves every caller that needs to learn a directory's
 * contents from the disk rather than from the kernel's stream:
 *   - vigil_add builds the tree (SETUP: nothing is reported but errors, a
 *     failure at the top or the watch limit fails the call, and the
 *     progress callback is called);
 *   - a directory that appears, by mkdir or moved in from outside, is
 *     watched and then listed, so entries made before the watch existed
 *     are reported (NEW); so is a directory that vanished before it could
 *     be listed, once a move shows where it went (vigil__vanished_retry);
 *   - after lost events, every root is listed again, every watch placed
 *     again and each difference reported, files changed since the last
 *     sync included (REPAIR);
 *   - a directory moved within its root, or whose ignore file changed, is
 *     judged again against the patterns (REFILTER, which lists as NEW
 *     does; only the callers differ).
 * Outside SETUP every difference becomes an event: new entries are
 * created (VIGIL_SYNTHETIC), missing ones removed, and an entry whose
 * type or inode changed is both. The watch is always placed before the
 * listing: anything created after the watch is reported by the kernel,
 * anything before it is in the listing, and the tree drops whichever of
 * the two comes second. A scan gives way when vigil_stop's grace runs out
 * and leaves the rest to a repair.
 */
#include "instance.h"
#include "admit.h"
#include "apply.h"
#include "cancel.h"
#include "drop.h"
#include "emit.h"
#include "fstype.h"
#include "ignore.h"
#include "reconcile.h"
#include "platform/portable.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

#define DENTS_SIZE (64 * 1024)

/*
 * Opens path (names joined by '/', none of them "." or "..") below dfd
 * without following a symbolic link anywhere on the way: a directory of
 * the tree replaced by a link must never lead vigil out of the tree.
 * openat2's RESOLVE_NO_SYMLINKS does it in one call; a kernel without it
 * (before 5.6) gets one openat with O_NOFOLLOW per name.
 */
static int open_piece(vigil_t *v, int dfd, char *path, int flags) {
#ifndef SYS_openat2
  (void)v;
#else
  if (!v->no_openat2) {
    struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_NO_SYMLINKS};
    int fd = (int)VIGIL__SYS(syscall(SYS_openat2, dfd, path, &how, sizeof how));
    if (fd >= 0)
      return fd;
    /* A seccomp filter that does not know the call may answer EPERM. */
    if (errno != ENOSYS && errno != EPERM)
      return -errno;
    v->no_openat2 = 1;
  }
#endif
  int fd = dfd;
  for (char *name = path, *slash; name; name = slash) {
    slash = strchr(name, '/');
    if (slash)
      *slash = '\0';
    int next = VIGIL__SYS(
        openat(fd, name, (slash ? VIGIL__O_PATH | O_DIRECTORY | O_CLOEXEC : flags) | O_NOFOLLOW));
    int err = errno;
    if (slash)
      *slash++ = '/';
    if (fd != dfd)
      close(fd);
    if (next < 0)
      return -err;
    fd = next;
  }
  return fd;
}

int vigil__stat_above(const char *abspath, struct stat *st) {
  const char *slash = strrchr(abspath, '/');
  if (!slash || !abspath[1])
    return -ENOENT; /* "/" has nothing above it */
  if (slash == abspath)
    return VIGIL__SYS(stat("/", st)) < 0 ? -errno : 0;
  char *up = vigil__malloc((size_t)(slash - abspath) + 1);
  if (!up)
    return -ENOMEM;
  memcpy(up, abspath, (size_t)(slash - abspath));
  up[slash - abspath] = '\0';
  int rc = VIGIL__SYS(stat(up, st)) < 0 ? -errno : 0;
  free(up);
  return rc;
}

/*
 * Why the root's path no longer leads to its top directory. If the
 * directory above the path is the one it was at vigil_add, the root itself
 * went (moved, deleted or unmounted), the kernel's record of that is on its
 * way and ends the root: -ENOENT. If not, a directory above the root was
 * renamed, which the kernel tells no watch of vigil's, and the root's
 * directory can no longer be found by path: VIGIL_EROOTMOVED, which is
 * reported for each directory that cannot be listed for it.
 */
static int top_lost(const vigil__root *r) {
  struct stat up;
  if (!r->up_ino)
    return -ENOENT;
  int rc = vigil__stat_above(r->abspath, &up);
  if (rc == -ENOMEM)
    return -ENOENT;
  if (rc == 0 && (unsigned long)up.st_dev == r->up_dev && (uint64_t)up.st_ino == r->up_ino)
    return -ENOENT;
  return VIGIL_EROOTMOVED;
}

/*
 * Opens the root's top directory by its absolute path, and checks that it
 * is still the directory the root was added as: if not, nothing below may
 * be looked for in whatever took its place (top_lost says why).
 */
static int open_top(const vigil__root *r, int flags) {
  /* openat, not open: on Windows only openat opens directories (platform/winposix.h). */
  int fd = VIGIL__SYS(openat(AT_FDCWD, r->abspath, flags | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? top_lost(r) : -errno;
  struct stat st;
  if (VIGIL__SYS(fstat(fd, &st)) < 0 || (unsigned long)st.st_dev != r->dev ||
      (uint32_t)st.st_ino != r->top->ino) {
    close(fd);
    return top_lost(r);
  }
  return fd;
}

/* Opens dir with flags (O_RDONLY to list it, VIGIL__O_PATH only to name it). */
static int open_dir_as(vigil_t *v, const vigil__node *dir, int how) {
  const vigil__root *r = vigil__node_root(dir);
  int flags = how | O_DIRECTORY | O_CLOEXEC;
  if (!vigil__node_parent(dir))
    return open_top(r, how);
  v->scratch_len = 0;
  int rc = vigil__node_relpath(dir, &v->scratch, &v->scratch_len, &v->scratch_cap);
  if (rc < 0)
    return rc;
  /*
   * The kernel takes at most PATH_MAX bytes of path per call, and a tree
   * can be deeper than that: a longer path is opened a piece at a time,
   * each piece relative to the last.
   */
  int top = open_top(r, VIGIL__O_PATH);
  if (top < 0)
    return top;
  int fd = top;
  for (char *p = v->scratch, *end = p + v->scratch_len; p < end;) {
    char *stop = end;
    if (end - p >= PATH_MAX) {
      stop = p + PATH_MAX - 1;
      while (*stop != '/')
        stop--; /* a name is at most NAME_MAX bytes, so there is a '/' */
    }
    *stop = '\0';
    int next = open_piece(v, fd, p, stop == end ? flags : VIGIL__O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (stop != end)
      *stop = '/';
    close(fd);
    if (next < 0)
      return next;
    fd = next;
    p = stop + 1;
  }
  return fd;
}

int vigil__open_dir(vigil_t *v, const vigil__node *dir) {
  return open_dir_as(v, dir, O_RDONLY);
}

/*
 * Places the watch of a watched directory again, with the backend's
 * current mask. It is opened with VIGIL__O_PATH, which the kernel reports to no
 * watch. One that cannot be opened now is left as it is: the records of
 * whatever happened to it are on their way.
 */
static void rewatch(vigil_t *v, vigil__node *n) {
  int fd = open_dir_as(v, n, VIGIL__O_PATH);
  if (fd >= 0) {
    vigil__watch(v, n, fd);
    close(fd);
  }
}

/* rewatch for every watched directory from start down. */
static void rewatch_tree(vigil_t *v, vigil__node *start) {
  for (vigil__node *n = start; n;) {
    if (vigil__node_dir(n) && vigil__watched(n))
      rewatch(v, n);
    /* Depth first through the parent pointers: no stack to allocate. */
    vigil__node *next = vigil__node_dir(n) ? vigil__node_first(n) : NULL;
    while (!next && n != start) {
      next = vigil__node_next(n);
      if (!next)
        n = vigil__node_parent(n);
    }
    n = next;
  }
}

/* At most this many directories wait on the stack with a descriptor. */
#define WORK_FDS_MAX 64

/* Pushes a directory to visit; fd (or -1) becomes the stack's to close. */
static int work_push(vigil_t *v, vigil__node *n, int fd) {
  if (v->work_len == v->work_cap) {
    size_t ncap = v->work_cap ? v->work_cap * 2 : 64;
    struct vigil__work *nw = vigil__realloc(v->work, ncap * sizeof *nw);
    if (!nw) {
      if (fd >= 0)
        close(fd);
      return -ENOMEM;
    }
    v->work = nw;
    v->work_cap = ncap;
  }
  v->work[v->work_len].dir = n;
  v->work[v->work_len].fd = fd;
  v->work_len++;
  if (fd >= 0)
    v->work_fds++;
  return 0;
}

/* Drops the stack's entries from len on, closing what they hold. */
static void work_truncate(vigil_t *v, size_t len) {
  while (v->work_len > len) {
    int fd = v->work[--v->work_len].fd;
    if (fd >= 0) {
      close(fd);
      v->work_fds--;
    }
  }
}

/*
 * Opens a subdirectory by name under its open parent, for its visit. A
 * failure is no error: the visit then opens it by path and reports there.
 */
static int open_child(vigil_t *v, int dfd, const char *name) {
  if (v->work_fds >= WORK_FDS_MAX)
    return -1;
  int fd = VIGIL__SYS(openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return fd < 0 ? -1 : fd;
}

/*
 * The granularity of a file system's timestamps is not published, but a
 * change time is never set by a user, so it shows the file system's tick:
 * a time with nanoseconds that are a multiple of 10^k comes from a file
 * system whose tick is at most 10^k ns, since every tick in use is a power
 * of ten (1 ns for most, 100 ns for NTFS and SMB, 10 ms for exFAT, 1 s for
 * ext2, ext3 and ext4 with 128-byte inodes). A whole second says nothing
 * finer, and FAT's tick is 2 s, so whole seconds count as the worst case.
 */
#define COARSE_TICK_NS 2000000000LL

static long long tick_of(const struct timespec *ctime) {
  long long tick = 1;
  long ns = ctime->tv_nsec;
  if (ns == 0)
    return COARSE_TICK_NS;
  while (ns % 10 == 0) {
    ns /= 10;
    tick *= 10;
  }
  return tick;
}

/* Could a change stamped t (truncated to tick) have happened at or after since? */
static int may_be_after(const struct timespec *t, long long tick, const struct timespec *since) {
  long long end_s = (long long)t->tv_sec + tick / 1000000000LL;
  long long end_ns = t->tv_nsec + tick % 1000000000LL;
  if (end_ns >= 1000000000LL) {
    end_s++;
    end_ns -= 1000000000LL;
  }
  /* The change happened in [t, t + tick); tick 1 ns makes this t >= since. */
  return end_s > since->tv_sec || (end_s == since->tv_sec && end_ns > since->tv_nsec);
}

/*
 * After lost events a file may have changed without a word from the
 * kernel. Its change time tells: nothing can set it into the past, so a
 * file whose ctime and mtime predate the last moment the stream was known
 * complete is certainly unchanged. That moment (the source's synced) is read from
 * CLOCK_REALTIME_COARSE, the clock the kernel stamps files with, so a
 * change made after it cannot carry an earlier time than the start of its
 * file system's tick; a time in the tick of that moment is taken as "may
 * have changed". Only changes made in that tick before it are reported
 * once more: a few milliseconds' worth on most file systems, up to two
 * seconds' worth on the coarse ones.
 */
static void check_changed(vigil_t *v, int dfd, vigil__node *n, const char *name) {
  struct stat st;
  if (VIGIL__SYS(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
    return;
  /* A backend with no sync point gives no such moment: anything may have changed. */
  struct timespec mtime = vigil__mtime(&st), ctime = vigil__ctime(&st);
  long long tick = tick_of(&ctime);
  const vigil__source *src = vigil__src_of(v, vigil__node_parent(n));
  if (!(src->be->caps & VIGIL__CAP_SYNC_CLOCK) || may_be_after(&mtime, tick, &src->synced) ||
      may_be_after(&ctime, tick, &src->synced))
    vigil__emit(v, VIGIL_MODIFIED, VIGIL_SYNTHETIC, n, 0);
}

/*
 * A directory could not be watched or listed. Some causes are normal
 * races; the rest are reported as an error event naming the directory,
 * and everything else goes on being watched.
 */
static void vanished_add(vigil_t *v, vigil__node *d) {
  for (size_t i = 0; i < v->vanished_len; i++)
    if (v->vanished[i] == d)
      return;
  if (v->vanished_len == v->vanished_cap) {
    size_t ncap = v->vanished_cap ? v->vanished_cap * 2 : 16;
    vigil__node **nv = vigil__realloc(v->vanished, ncap * sizeof *nv);
    if (!nv) {
      /* Without the list the directory may stay unlisted: rescan later. */
      v->need_repair = 1;
      return;
    }
    v->vanished = nv;
    v->vanished_cap = ncap;
  }
  v->vanished[v->vanished_len++] = d;
}

void vigil__vanished_forget(vigil_t *v, vigil__node *d) {
  for (size_t i = 0; i < v->vanished_len; i++) {
    if (v->vanished[i] == d) {
      v->vanished[i] = v->vanished[--v->vanished_len];
      return;
    }
  }
}

int vigil__vanished_retry(vigil_t *v) {
  /* A success takes the entry out of the list (swap-remove), so look again at i. */
  for (size_t i = 0; i < v->vanished_len;) {
    vigil__node *d = v->vanished[i];
    /* One in a subtree kept aside for an exchange waits until it is back. */
    if (vigil__detached(d)) {
      i++;
      continue;
    }
    int rc = vigil__reconcile(v, d, VIGIL__SCAN_NEW);
    if (rc < 0)
      return rc;
    if (i < v->vanished_len && v->vanished[i] == d)
      i++;
  }
  return 0;
}

static int visit_failed(vigil_t *v, vigil__node *d, enum vigil__scan_mode mode, int err) {
  /* Its contents are unknown; a rename that brings it back lists it again. */
  d->flags |= VIGIL__N_PARTIAL;
  if (err == -ENOMEM)
    return err;
  if (mode == VIGIL__SCAN_SETUP && (!vigil__node_parent(d) || err == VIGIL_EWATCHLIMIT))
    return err;
  if (err == VIGIL_EROOTMOVED && !vigil__node_parent(d))
    err = -ENOENT; /* the root's own listing: as when it is gone */
  if (err == -ENOENT || err == -ENOTDIR || err == -ELOOP) {
    /*
     * Deleted or replaced while we looked. During setup and for a new
     * directory the parent's watch reports it; a repair must report it
     * itself, since the kernel's record of it may be among those lost.
     */
    if (mode == VIGIL__SCAN_REPAIR) {
      if (!vigil__node_parent(d))
        vigil__root_gone(v, vigil__node_dir(d)->root);
      else
        vigil__drop(v, d, 1);
    } else if (vigil__node_parent(d)) {
      vanished_add(v, d);
    }
    return 0;
  }
  vigil__emit(v, VIGIL_ERROR, 0, d, err);
  return 0;
}

/* What one listing knows of its directory, for each entry (list_entry). */
typedef struct {
  vigil__node *d;
  int fd;
  enum vigil__scan_mode mode;
  int had_children, descend;
  vigil__admission adm;
} listing;

/* One entry of d's listing. 0 or -ENOMEM. */
static int list_entry(vigil_t *v, listing *l, const vigil__dirent *e) {
  vigil__node *d = l->d;
  const char *name = e->name;
  size_t len = e->len;
  if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))) {
    if (len == 1) {
      if (!d->ino)
        d->ino = (uint32_t)e->ino;
      /* The directory's own inode, as stat gives it, at no cost. */
      vigil__node_dir(d)->listed_ino = (uint32_t)e->ino;
    }
    return 0;
  }
  int type;
  if (e->type == DT_UNKNOWN) {
    struct stat st;
    if (VIGIL__SYS(fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
      return 0; /* gone already; the kernel reports it if it mattered */
    type = vigil__type_of_mode(st.st_mode);
  } else {
    type = vigil__type_of_dtype(e->type);
  }
  if (!vigil__admit_entry(v, &l->adm, name, len, type == VIGIL__T_DIR))
    return 0;
  vigil__node *child = l->had_children ? vigil__tree_find(&v->tree, d, name, len) : NULL;
  if (child) {
    if (vigil__same_entry(child, type, e->ino)) {
      child->flags |= VIGIL__N_SEEN;
      if (!child->ino)
        child->ino = (uint32_t)e->ino;
      if (child->type == VIGIL__T_NONDIR)
        child->type = (uint8_t)type;
      if (l->mode == VIGIL__SCAN_REPAIR && type != VIGIL__T_DIR)
        check_changed(v, l->fd, child, name);
      if (type == VIGIL__T_DIR && l->descend && work_push(v, child, open_child(v, l->fd, name)) < 0)
        return -ENOMEM;
      return 0;
    }
    vigil__drop(v, child, l->mode != VIGIL__SCAN_SETUP);
  }
  child = vigil__node_new(&v->tree, name, len, type, e->ino);
  if (!child)
    return -ENOMEM;
  vigil__tree_link(&v->tree, d, child);
  if (l->had_children)
    child->flags |= VIGIL__N_SEEN;
  if (l->mode != VIGIL__SCAN_SETUP)
    vigil__emit(v, VIGIL_CREATED, VIGIL_SYNTHETIC, child, 0);
  if (type == VIGIL__T_DIR && l->descend && work_push(v, child, open_child(v, l->fd, name)) < 0)
    return -ENOMEM;
  return 0;
}

static int list_dir(vigil_t *v, vigil__node *d, int fd, enum vigil__scan_mode mode) {
  /*
   * Read before d's entries are admitted, so its patterns already prune
   * this very listing; read again at every listing, so a file that
   * changed while records were lost, or that a directory brought along
   * when it was moved in, is what judges.
   */
  if (vigil__node_root(d)->ignore_file && !vigil__node_root(d)->is_file) {
    int rc = vigil__ignore_load(d, fd);
    if (rc < 0)
      return rc;
  }
  listing l = {.d = d, .fd = fd, .mode = mode};
  l.had_children = vigil__node_first(d) != NULL;
  l.descend = vigil__should_descend(d);
  /* After the ignore file: its patterns already prune this listing. */
  vigil__admit_begin(v, d, &l.adm);
  vigil__node_dir(d)->listed_ino = 0;
  vigil__dirlist list;
  int rc = vigil__dirlist_open(&list, fd, v->dents, v->dents_cap);
  if (rc < 0)
    return rc;
  vigil__dirent e = {0};
  while ((rc = vigil__dirlist_next(&list, &e)) > 0 && (rc = list_entry(v, &l, &e)) == 0)
    ;
  vigil__dirlist_close(&list);
  if (rc < 0)
    return rc;
  struct stat st;
  /* A file system that lists no "." entry: ask the kernel. */
  if (!vigil__node_dir(d)->listed_ino && VIGIL__SYS(fstat(fd, &st)) == 0)
    vigil__node_dir(d)->listed_ino = (uint32_t)st.st_ino;
  if (l.had_children) {
    vigil__node *next;
    for (vigil__node *k = vigil__node_first(d); k; k = next) {
      next = vigil__node_next(k);
      if (k->flags & VIGIL__N_SEEN)
        k->flags &= (uint8_t)~VIGIL__N_SEEN;
      else
        vigil__drop(v, k, mode != VIGIL__SCAN_SETUP);
    }
  }
  return 0;
}

static int visit_fd(vigil_t *v, vigil__node *d, int fd, enum vigil__scan_mode mode);

/* Visits d; fd is d opened by its parent, or -1. fd is closed on return. */
static int visit(vigil_t *v, vigil__node *d, int fd, enum vigil__scan_mode mode) {
  int rc = visit_fd(v, d, fd, mode);
  if (fd >= 0)
    close(fd);
  return rc;
}

static int visit_fd(vigil_t *v, vigil__node *d, int fd, enum vigil__scan_mode mode) {
  int rc;
  /*
   * A repair places every watch again: a directory deleted and recreated
   * while records were lost may carry its old name and even its old inode
   * number, but not its old watch.
   */
  int had_watch = vigil__watched(d);
  int place = !had_watch || mode == VIGIL__SCAN_REPAIR;
  if (place && mode == VIGIL__SCAN_REPAIR && !vigil__node_parent(d) &&
      !vigil__root_intact(vigil__node_dir(d)->root)) {
    /* The root's path now leads somewhere else (an unmount, a rename). */
    vigil__root_gone(v, vigil__node_dir(d)->root);
    return 0;
  }
  int own = -1;
  if (fd < 0) {
    fd = own = vigil__open_dir(v, d);
    if (fd < 0)
      return visit_failed(v, d, mode, fd);
  }
  /*
   * The watch goes on the very directory that is listed, through its
   * descriptor: by name it could land on another one, or outside the tree.
   */
  rc = 0;
  if (place) {
    /* A mount point below an "auto" root gets the backend that sees its file system. */
    int as = had_watch ? -1 : vigil__fs_mount_source(v, d, fd);
    rc = as >= 0 ? vigil__watch_as(v, d, fd, (unsigned)as) : vigil__watch(v, d, fd);
    if (rc == 0 && !had_watch && mode == VIGIL__SCAN_SETUP)
      v->add_dirs++;
  }
  if (rc < 0) {
    if (own >= 0)
      close(own);
    return visit_failed(v, d, mode, rc);
  }
  size_t mark = v->work_len;
  rc = list_dir(v, d, fd, mode);
  if (own >= 0)
    close(own);
  if (rc == 0 && (d->flags & VIGIL__N_PARTIAL)) {
    d->flags &= (uint8_t)~VIGIL__N_PARTIAL;
    vigil__vanished_forget(v, d);
  }
  if (rc < 0) {
    /* The children pushed so far must not outlive a drop of d. */
    work_truncate(v, mark);
    return visit_failed(v, d, mode, rc);
  }
  return 0;
}

static int scan(vigil_t *v, vigil__node *start, enum vigil__scan_mode mode);

int vigil__reconcile(vigil_t *v, vigil__node *start, enum vigil__scan_mode mode) {
  if (!v->dents) {
    v->dents = vigil__malloc(DENTS_SIZE);
    if (!v->dents)
      return -ENOMEM;
    v->dents_cap = DENTS_SIZE;
  }
  /*
   * With opens asked for, every directory this scan opens would queue an
   * open and a close on its own watch and on its parent's: a large tree's
   * scan would overflow the kernel's queue, and the repair's rescan would
   * overflow it again, for ever. So the scanned subtree's watches go
   * without those records while it is listed, and get them back after.
   */
  vigil__source *src = vigil__src_of(v, start);
  int quiet = src->be->quiet && src->be->quiet(src->state, 1);
  /* A subtree watched before (a repair, a moved directory) goes quiet first. */
  if (quiet && mode != VIGIL__SCAN_SETUP && mode != VIGIL__SCAN_NEW)
    rewatch_tree(v, start);
  int rc = scan(v, start, mode);
  if (src->be->quiet && src->be->quiet(src->state, 0) && src->be->quieted) {
    /* The outermost scan restores the whole mask: nested ones left theirs here. */
    vigil__node *n;
    while ((n = src->be->quieted(src->state)))
      rewatch(v, n);
  }
  return rc;
}

static int scan(vigil_t *v, vigil__node *start, enum vigil__scan_mode mode) {
  size_t base = v->work_len;
  int rc = work_push(v, start, -1);
  /*
   * Depth first, from an explicit stack: a node on the stack is never
   * freed before it is visited, because a visit only drops children of the
   * directory being visited, and those are pushed only if they stay.
   */
  while (rc == 0 && v->work_len > base) {
    /*
     * Cancelled (vigil__cancelled): the progress callback said stop, and
     * vigil_add fails; or vigil_stop's grace ran out during a long scan (a
     * large tree moved in), and the rest is left to a repair, which the
     * next reader is told of.
     */
    int c = vigil__cancelled(v);
    if (c > 0) {
      v->need_repair = 1;
      break;
    }
    if (c < 0) {
      rc = c;
      break;
    }
    struct vigil__work w = v->work[--v->work_len];
    if (w.fd >= 0)
      v->work_fds--;
    rc = visit(v, w.dir, w.fd, mode);
  }
  /* The last report of the progress callback, at the end of the scan. */
  if (rc == 0 && vigil__cancelled(v) < 0)
    rc = -ECANCELED;
  work_truncate(v, base);
  return rc;
}
