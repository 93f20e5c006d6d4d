/*
 * floor: the least a recursive inotify watcher can do.
 *
 * It walks the tree with getdents64 and d_type (no stat), calls
 * inotify_add_watch on every directory, writes "floor: ready, N
 * directories" on stderr, then reads events. It does not follow new
 * directories, pair renames or keep any model of the tree: it only shows
 * how close a real watcher can get to the kernel.
 *
 *   floor [-n] [-q] DIR
 *     -n  walk only, no watches; exit after the ready line
 *     -q  read and discard events instead of printing them
 *
 * Without -q each event is printed as "<dir>/<name> <mask in hex>", so the
 * benchmark can use it as the latency floor too.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MASK                                                                                       \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |  \
   IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK | IN_ONLYDIR | IN_DONT_FOLLOW)

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int ifd = -1;
static int no_watch;
static size_t ndirs;
static char **wd_path; /* wd -> directory path, for printing */
static size_t wd_cap;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void remember(int wd, const char *path, size_t len) {
  if ((size_t)wd >= wd_cap) {
    size_t cap = wd_cap ? wd_cap : 1024;
    while (cap <= (size_t)wd)
      cap *= 2;
    char **p = realloc(wd_path, cap * sizeof *p);
    if (!p)
      die("realloc");
    memset(p + wd_cap, 0, (cap - wd_cap) * sizeof *p);
    wd_path = p;
    wd_cap = cap;
  }
  free(wd_path[wd]);
  wd_path[wd] = strndup(path, len);
  if (!wd_path[wd])
    die("strndup");
}

/* path holds the directory's path (len bytes, NUL-terminated); dfd is open on it. */
static void walk(int dfd, char *path, size_t len, size_t cap) {
  ndirs++;
  if (!no_watch) {
    int wd = inotify_add_watch(ifd, path, MASK);
    if (wd < 0) {
      if (errno == ENOSPC) {
        fprintf(stderr, "floor: inotify watch limit reached\n");
        exit(1);
      }
    } else {
      remember(wd, path, len);
    }
  }
  char buf[64 * 1024];
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (n <= 0)
      break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      const char *name = d->d_name;
      if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
        continue;
      int is_dir = d->d_type == DT_DIR;
      if (d->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      if (!is_dir)
        continue;
      size_t nl = strlen(name);
      if (len + 1 + nl + 1 > cap)
        continue;
      int cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0)
        continue;
      path[len] = '/';
      memcpy(path + len + 1, name, nl + 1);
      walk(cfd, path, len + 1 + nl, cap);
      path[len] = 0;
    }
  }
  close(dfd);
}

int main(int argc, char **argv) {
  int quiet = 0, opt;
  while ((opt = getopt(argc, argv, "nq")) != -1) {
    if (opt == 'n')
      no_watch = 1;
    else if (opt == 'q')
      quiet = 1;
    else
      return 2;
  }
  if (optind != argc - 1) {
    fprintf(stderr, "usage: floor [-n] [-q] DIR\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (!no_watch) {
    ifd = inotify_init1(IN_CLOEXEC);
    if (ifd < 0)
      die("inotify_init1");
  }
  static char path[PATH_MAX];
  size_t len = strlen(argv[optind]);
  if (len >= sizeof path)
    return 2;
  memcpy(path, argv[optind], len + 1);
  while (len > 1 && path[len - 1] == '/')
    path[--len] = 0;
  int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    die(path);
  walk(dfd, path, len, sizeof path);
  fprintf(stderr, "floor: ready, %zu directories\n", ndirs);
  if (no_watch)
    return 0;

  static char ev[256 * 1024] __attribute__((aligned(8)));
  static char out[256 * 1024];
  for (;;) {
    ssize_t n = read(ifd, ev, sizeof ev);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      die("read");
    }
    if (quiet)
      continue;
    size_t o = 0;
    for (ssize_t off = 0; off < n;) {
      struct inotify_event *e = (struct inotify_event *)(ev + off);
      off += (ssize_t)sizeof *e + e->len;
      const char *dir =
          e->wd >= 0 && (size_t)e->wd < wd_cap && wd_path[e->wd] ? wd_path[e->wd] : "?";
      if (o + strlen(dir) + e->len + 32 > sizeof out) {
        if (write(1, out, o) < 0)
          return 0;
        o = 0;
      }
      int w = snprintf(out + o, sizeof out - o, "%s/%s %x\n", dir, e->len ? e->name : "", e->mask);
      if (w > 0)
        o += (size_t)w;
    }
    if (o && write(1, out, o) < 0)
      return 0;
  }
}
