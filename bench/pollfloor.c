/*
 * pollfloor: the least a polling watcher can do in one pass.
 *
 * It walks the tree depth first with getdents64 and d_type, opening each
 * directory relative to its parent's descriptor, and fstatat's every
 * entry that is not a directory (a directory's content is its listing),
 * keeping nothing. That is the work any watcher that polls must do to see
 * every change of a file's size, times or inode. It makes PASSES passes
 * and prints, one line per pass, the CPU time the pass took (user +
 * system, this process) and its wall time:
 *
 *   pollfloor DIR PASSES
 *   pass 1 cpu_ms 41.2 wall_ms 42.0 dirs 10000 stats 50000
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static char buf[64 * 1024];
static size_t ndirs, nstats;

static void walk(int dfd) {
  ndirs++;
  /* Subdirectories are visited after the listing, so one buffer serves every level. */
  size_t cap = 16, n = 0;
  char **subs = malloc(cap * sizeof *subs);
  for (;;) {
    long got = syscall(SYS_getdents64, dfd, buf, sizeof buf);
    if (got <= 0)
      break;
    for (long off = 0; off < got;) {
      struct linux_dirent64 *e = (struct linux_dirent64 *)(buf + off);
      off += e->d_reclen;
      const char *name = e->d_name;
      if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
        continue;
      if (e->d_type == DT_DIR) {
        if (n == cap)
          subs = realloc(subs, (cap *= 2) * sizeof *subs);
        subs[n++] = strdup(name);
        continue;
      }
      struct stat st;
      if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        nstats++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    int fd = openat(dfd, subs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      walk(fd);
      close(fd);
    }
    free(subs[i]);
  }
  free(subs);
}

static double ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pollfloor DIR PASSES\n");
    return 2;
  }
  int passes = atoi(argv[2]);
  for (int p = 1; p <= passes; p++) {
    double c0 = ms(CLOCK_PROCESS_CPUTIME_ID), w0 = ms(CLOCK_MONOTONIC);
    ndirs = nstats = 0;
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      perror(argv[1]);
      return 1;
    }
    walk(fd);
    close(fd);
    printf("pass %d cpu_ms %.2f wall_ms %.2f dirs %zu stats %zu\n", p,
           ms(CLOCK_PROCESS_CPUTIME_ID) - c0, ms(CLOCK_MONOTONIC) - w0, ndirs, nstats);
    fflush(stdout);
  }
  return 0;
}
