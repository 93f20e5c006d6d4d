#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t tu_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tu_tmpdir(char *dir, size_t size, const char *tag) {
  int n = snprintf(dir, size, "/tmp/vigil-%s-XXXXXX", tag);
  assert_true(n > 0 && (size_t)n < size);
  assert_non_null(mkdtemp(dir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP)
    return rmdir(path);
  return unlink(path);
}

int tu_rm_tree(const char *path) {
  return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write(const char *path, const char *text) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  close(fd);
}

void tu_write_at(const char *dir, const char *rel, const char *text) {
  char p[4096];
  int n = snprintf(p, sizeof p, "%s/%s", dir, rel);
  assert_true(n > 0 && (size_t)n < sizeof p);
  tu_write(p, text);
}

void tu_mkdir_at(const char *dir, const char *rel) {
  char p[4096];
  int n = snprintf(p, sizeof p, "%s/%s", dir, rel);
  assert_true(n > 0 && (size_t)n < sizeof p);
  assert_int_equal(mkdir(p, 0755), 0);
}

static int task_alive(int tid) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/task/%d", tid);
  return access(p, F_OK) == 0;
}

int tu_wait_task_gone(int tid, int64_t timeout_us) {
  int64_t until = tu_now_us() + timeout_us;
  while (task_alive(tid) && tu_now_us() < until)
    sched_yield();
  return !task_alive(tid);
}

int tu_count_entries(const char *path) {
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

int tu_count_fds(void) {
  int n = tu_count_entries("/proc/self/fd");
  return n < 0 ? -1 : n - 1; /* the one opendir holds */
}

int tu_reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  if (WIFSIGNALED(st))
    return 1000 + WTERMSIG(st);
  return WEXITSTATUS(st);
}

void tu_child_verdict(int status) {
  if (status == TU_SKIP)
    skip(); /* the child said why */
  if (status != 0)
    fail_msg("the check in the child failed (status %d)", status);
}

int tu_write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t w = write(fd, text, strlen(text));
  int err = errno;
  close(fd);
  errno = err;
  return w == (ssize_t)strlen(text) ? 0 : -1;
}

int tu_enter_userns(int flags) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | flags) < 0)
    return -errno;
  char map[64];
  snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
  if (tu_write_file("/proc/self/uid_map", map) < 0)
    return -errno;
  /* Kernels before 3.19 have no setgroups file, and need none written. */
  tu_write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
  if (tu_write_file("/proc/self/gid_map", map) < 0)
    return -errno;
  return 0;
}
