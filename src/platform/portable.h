/*
 * The few calls of the core that differ between Linux and other POSIX
 * systems (macOS, the BSDs), each given once here: the rest of the core
 * uses these names and needs no #ifdef of its own. On Linux every one is
 * the call the core always made, inline, so nothing there gets slower.
 *
 *   vigil__dirlist  a directory's entries read through an open descriptor:
 *                   getdents64 on Linux (one call per 64 KiB of entries,
 *                   no allocation), readdir on a duplicate of the
 *                   descriptor elsewhere;
 *   VIGIL__O_PATH   a descriptor that only names a directory (O_PATH on
 *                   Linux, which no watch reports; O_RDONLY elsewhere);
 *   VIGIL__CLOCK_COARSE  the clock the kernel stamps files with;
 *   vigil__mtime, vigil__ctime  a stat's times as timespecs;
 *   vigil__cond_clock, vigil__cond_deadline  the clock a condition
 *                   variable's timed wait runs on, and a CLOCK_MONOTONIC
 *                   deadline turned into that clock.
 */
#ifndef VIGIL_PORTABLE_H
#define VIGIL_PORTABLE_H

#include "fault.h"
#ifdef _WIN32
#include "platform/winfs.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#define VIGIL__O_PATH O_PATH
#define VIGIL__CLOCK_COARSE CLOCK_REALTIME_COARSE
#else
#define VIGIL__O_PATH O_RDONLY
#define VIGIL__CLOCK_COARSE CLOCK_REALTIME
#endif

#ifdef __APPLE__
static inline struct timespec vigil__mtime(const struct stat *st) {
  return st->st_mtimespec;
}
static inline struct timespec vigil__ctime(const struct stat *st) {
  return st->st_ctimespec;
}
#else
static inline struct timespec vigil__mtime(const struct stat *st) {
  return st->st_mtim;
}
static inline struct timespec vigil__ctime(const struct stat *st) {
  return st->st_ctim;
}
#endif

/*
 * macOS has no pthread_condattr_setclock: its timed waits run on
 * CLOCK_REALTIME, so a deadline is taken there from the monotonic one at
 * the moment of the wait (a clock change during the wait moves it).
 */
#if defined(__APPLE__) || defined(_WIN32)
/* winpthreads keeps the clock set on the attribute, and waits on CLOCK_REALTIME all the same. */
static inline int vigil__cond_clock(pthread_condattr_t *ca) {
  (void)ca;
  return 0;
}
static inline void vigil__cond_deadline(struct timespec *ts, int64_t mono_ms) {
  struct timespec mono, real;
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t left = mono_ms - ((int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000);
  if (left < 0)
    left = 0;
  int64_t ns = (int64_t)real.tv_nsec + (left % 1000) * 1000000;
  ts->tv_sec = real.tv_sec + (time_t)(left / 1000) + (time_t)(ns / 1000000000);
  ts->tv_nsec = (long)(ns % 1000000000);
}
#else
static inline int vigil__cond_clock(pthread_condattr_t *ca) {
  return pthread_condattr_setclock(ca, CLOCK_MONOTONIC);
}
static inline void vigil__cond_deadline(struct timespec *ts, int64_t mono_ms) {
  ts->tv_sec = (time_t)(mono_ms / 1000);
  ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}
#endif

/* One directory entry, valid until the next vigil__dirlist_next. */
typedef struct {
  const char *name;
  size_t len;
  uint64_t ino;       /* 0 when the file system does not say */
  unsigned char type; /* DT_*, DT_UNKNOWN when the file system does not say */
} vigil__dirent;

/*
 * The inode number a FUSE file system that keeps none (sshfs, say) lists
 * for every entry. Taken as one, it would make every entry the same
 * file: it is turned into 0, "not known", which pairs nothing.
 */
#define VIGIL__INO_UNKNOWN_FUSE 0xffffffffu

static inline uint64_t vigil__dirent_ino(uint64_t ino) {
  return ino == VIGIL__INO_UNKNOWN_FUSE ? 0 : ino;
}

/*
 * A listing of the directory open as fd, from its start; fd stays the
 * caller's. buf (cap bytes) is where the Linux version reads entries to;
 * elsewhere it is unused. Every entry comes, "." and ".." included.
 */
typedef struct {
#ifdef __linux__
  int fd;
  char *buf;
  size_t cap, off, got;
#elif defined(_WIN32)
  vigil__win_dirlist w;
#else
  DIR *dir;
#endif
} vigil__dirlist;

#ifdef __linux__
static inline int vigil__dirlist_open(vigil__dirlist *l, int fd, char *buf, size_t cap) {
  l->fd = fd;
  l->buf = buf;
  l->cap = cap;
  l->off = l->got = 0;
  return 0;
}

/* 1 and *e filled, 0 at the end, or -errno. */
static inline int vigil__dirlist_next(vigil__dirlist *l, vigil__dirent *e) {
  if (l->off >= l->got) {
    ssize_t got = VIGIL__SYS(getdents64(l->fd, l->buf, l->cap));
    if (got < 0)
      return -errno;
    if (got == 0)
      return 0;
    l->got = (size_t)got;
    l->off = 0;
  }
  struct dirent64 *d = (struct dirent64 *)(void *)(l->buf + l->off);
  l->off += d->d_reclen;
  e->name = d->d_name;
  e->len = strlen(d->d_name);
  e->ino = vigil__dirent_ino(d->d_ino);
  e->type = d->d_type;
  return 1;
}

static inline void vigil__dirlist_close(vigil__dirlist *l) {
  (void)l;
}
#elif defined(_WIN32)
/* NtQueryDirectoryFile through the directory's handle, file IDs included (winfs.h). */
static inline int vigil__dirlist_open(vigil__dirlist *l, int fd, char *buf, size_t cap) {
  void *h = vigil__w_handle(fd);
  if (!h)
    return -EBADF;
  return vigil__win_list_open(&l->w, h, buf, cap);
}

static inline int vigil__dirlist_next(vigil__dirlist *l, vigil__dirent *e) {
  vigil__win_dirent w;
  int rc = vigil__win_list_next(&l->w, &w);
  if (rc <= 0)
    return rc;
  e->name = w.name;
  e->len = w.len;
  e->ino = w.id;
  e->type = w.is_link ? DT_LNK : w.is_dir ? DT_DIR : DT_REG;
  return 1;
}

static inline void vigil__dirlist_close(vigil__dirlist *l) {
  vigil__win_list_close(&l->w);
}
#else
static inline int vigil__dirlist_open(vigil__dirlist *l, int fd, char *buf, size_t cap) {
  (void)buf;
  (void)cap;
  /* fdopendir takes the descriptor it is given; the caller keeps fd. */
  int dup_fd = VIGIL__SYS(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (dup_fd < 0)
    return -errno;
  l->dir = fdopendir(dup_fd);
  if (!l->dir) {
    int err = errno;
    close(dup_fd);
    return -err;
  }
  return 0;
}

static inline int vigil__dirlist_next(vigil__dirlist *l, vigil__dirent *e) {
  errno = 0;
  struct dirent *d = readdir(l->dir);
  if (!d)
    return errno ? -errno : 0;
  e->name = d->d_name;
  e->len = strlen(d->d_name);
  e->ino = vigil__dirent_ino((uint64_t)d->d_ino);
  e->type = d->d_type;
  return 1;
}

static inline void vigil__dirlist_close(vigil__dirlist *l) {
  closedir(l->dir);
}
#endif

#endif /* VIGIL_PORTABLE_H */
