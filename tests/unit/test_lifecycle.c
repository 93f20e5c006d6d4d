/*
 * Lifecycle guarantees (issue 3): close-on-exec descriptors, fork (the
 * child's side and the parent's), no leaks over open/close and start/stop
 * cycles, and the kernel's real inotify limits set in a user namespace.
 * docs/lifecycle.md names each guarantee and the test here that proves it.
 *
 * The binary has a helper mode: "test_lifecycle --list-fds" prints one line
 * "NUMBER TARGET" per open descriptor and exits. The close-on-exec tests
 * exec it from a forked child, so what it lists is what an exec'd program
 * inherits.
 *
 * Environment:
 *   VIGIL_LIFECYCLE_CYCLES       open/close cycles (default 100000; 10000
 *                                in a sanitizer build)
 *   VIGIL_LIFECYCLE_THREADS      threads sharing those cycles (default 64)
 *   VIGIL_LIFECYCLE_STOP_CYCLES  start/stop cycles (default 10000; 2000 in
 *                                a sanitizer build)
 *   VIGIL_LIFECYCLE_ONLY         run only the tests whose names match this
 *                                cmocka filter ("*" and "?" wildcards)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"
#include "platform/platform.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Present when a sanitizer runtime is linked in: its exact count of live heap bytes. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

/* ---- helpers ------------------------------------------------------------ */

static long env_long(const char *name, long dflt) {
  const char *s = getenv(name);
  if (!s || !*s)
    return dflt;
  char *end;
  long n = strtol(s, &end, 10);
  return *end || n <= 0 ? dflt : n;
}

typedef struct {
  int n;
  int fd[256];
  char target[256][64];
} fdlist;

/* Every open descriptor with what it points at (readlink of /proc/self/fd/N). */
static void list_fds(fdlist *out) {
  out->n = 0;
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d)) && out->n < 256) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self)
      continue;
    char p[300];
    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(p, out->target[out->n], sizeof out->target[0] - 1);
    if (k < 0)
      continue;
    out->target[out->n][k] = '\0';
    out->fd[out->n++] = atoi(e->d_name);
  }
  closedir(d);
}

static const char *fd_target(const fdlist *l, int fd) {
  for (int i = 0; i < l->n; i++)
    if (l->fd[i] == fd)
      return l->target[i];
  return NULL;
}

/*
 * On the POSIX platform layer vigil's own descriptors are the two ends of
 * one pipe, which a program may have others of: they are told apart by
 * the pipe's inode, which the target of vigil_fd names.
 */
static char vigil_pipe[64];

static void note_vigil_pipe(vigil_t *v) {
  vigil_pipe[0] = '\0';
  if (strcmp(vigil__plat_name, "posix") != 0)
    return;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", vigil_fd(v));
  ssize_t n = readlink(link, vigil_pipe, sizeof vigil_pipe - 1);
  assert_true(n > 0);
  vigil_pipe[n] = '\0';
}

/* The kinds of descriptor vigil opens and keeps: a bit for each, 0 for others. */
static int vigil_kind_of_fd(const char *target) {
  static const char *const kinds[] = {"anon_inode:inotify", "anon_inode:[eventpoll]",
                                      "anon_inode:[eventfd]", "anon_inode:[timerfd]"};
  for (int i = 0; i < 4; i++)
    if (strcmp(target, kinds[i]) == 0)
      return 1 << i;
  if (vigil_pipe[0] && strcmp(target, vigil_pipe) == 0)
    return 1 << 1; /* the POSIX layer's pipe: what epoll is on Linux */
  return 0;
}

/* The kinds an instance holds: inotify and the platform layer's (above). */
static int vigil_kinds_expected(void) {
  return strcmp(vigil__plat_name, "posix") == 0 ? 1 | 2 : 15;
}

/* Resident set size in KiB, from /proc/self/status. */
static long vm_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "re");
  assert_non_null(f);
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* Bytes of heap in use: the sanitizer's exact count, or glibc's. */
static long long heap_in_use(void) {
  if (__sanitizer_get_current_allocated_bytes)
    return (long long)__sanitizer_get_current_allocated_bytes();
  struct mallinfo2 mi = mallinfo2();
  return (long long)mi.uordblks;
}

static int count_tasks(void) {
  int n = tu_count_entries("/proc/self/task");
  assert_true(n > 0);
  return n;
}

static void mkdirf(const char *fmt, const char *a, const char *b) {
  char p[512];
  snprintf(p, sizeof p, fmt, a, b);
  assert_int_equal(mkdir(p, 0755), 0);
}

/* A fresh directory under /tmp: dir, dir/a, dir/a/deep, dir/b, and a file in each. */
static void make_small_tree(char *dir, size_t cap, const char *tag) {
  char full[64];
  snprintf(full, sizeof full, "lifecycle-%s", tag);
  tu_tmpdir(dir, cap, full);
  mkdirf("%s/%s", dir, "a");
  mkdirf("%s/%s", dir, "a/deep");
  mkdirf("%s/%s", dir, "b");
  const char *files[] = {"f", "a/f", "a/deep/f", "b/f"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    tu_write(p, "");
  }
}

static int read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  return 0;
}

static void write_full(int fd, const void *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    buf = (const char *)buf + w;
    n -= (size_t)w;
  }
}

/* The helper mode: what an exec'd program inherits. */
static int list_fds_main(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return 2;
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self)
      continue;
    char p[300], target[256];
    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(p, target, sizeof target - 1);
    if (k < 0)
      continue;
    target[k] = '\0';
    printf("%s %s\n", e->d_name, target);
  }
  closedir(d);
  return fflush(stdout) == 0 ? 0 : 2;
}

/* fork + exec of "--list-fds"; parses what the new program found open. */
static void exec_and_list(fdlist *out) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* dup2 clears close-on-exec on the copy: the listing goes to the pipe. */
    dup2(p[1], 1);
    execl("/proc/self/exe", "test_lifecycle", "--list-fds", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  static char text[65536];
  size_t len = 0;
  ssize_t r;
  while ((r = read(p[0], text + len, sizeof text - 1 - len)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0)
      len += (size_t)r;
  close(p[0]);
  text[len] = '\0';
  assert_int_equal(tu_reap(pid), 0);
  out->n = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && out->n < 256;
       line = strtok_r(NULL, "\n", &save)) {
    char *sp = strchr(line, ' ');
    assert_non_null(sp);
    *sp = '\0';
    out->fd[out->n] = atoi(line);
    snprintf(out->target[out->n], sizeof out->target[0], "%s", sp + 1);
    out->n++;
  }
  /* The listing saw its own stdout, the pipe, at least. */
  assert_true(out->n >= 1);
}

static atomic_int cb_calls;

static void count_cb(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  (void)ev;
  (void)ud;
  atomic_fetch_add(&cb_calls, 1);
}

/*
 * What a test leaves running while it checks things: a thread of its own,
 * an instance whose thread is started, a tree on disk. A failing check
 * leaves the test at once (cmocka's fail longjmps out of it), so the
 * test's teardown (teardown_leftovers) stops and frees whatever is still
 * here: nothing of a failed test may run on into the next one. What such a
 * thread uses is static, never on the test's stack, which is gone by the
 * time the teardown runs.
 */
static struct {
  pthread_t thread;
  atomic_int *stop; /* set to ask the thread to return */
  int thread_running;
  vigil_t *v;    /* closed (which stops its thread) by the teardown */
  char dir[128]; /* removed by the teardown; "" when there is none */
} left;

static void left_thread_start(void *(*fn)(void *), void *arg, atomic_int *stop) {
  assert_int_equal(pthread_create(&left.thread, NULL, fn, arg), 0);
  left.stop = stop;
  left.thread_running = 1;
}

/* Stops the test's own thread and waits for it. */
static void left_thread_join(void) {
  if (!left.thread_running)
    return;
  atomic_store(left.stop, 1);
  pthread_join(left.thread, NULL);
  left.thread_running = 0;
}

static void left_close(void) {
  vigil_close(left.v);
  left.v = NULL;
}

static void left_rm_tree(void) {
  if (left.dir[0])
    tu_rm_tree(left.dir);
  left.dir[0] = '\0';
}

static int teardown_leftovers(void **state) {
  (void)state;
  left_thread_join();
  left_close();
  left_rm_tree();
  return 0;
}

/* ---- close-on-exec ---------------------------------------------------- */

/*
 * Every descriptor an open, added and started instance holds is
 * close-on-exec: a program exec'd from a fork of this process inherits none
 * of them.
 */
static void exec_child_inherits_no_vigil_fd(void **state) {
  (void)state;
  char dir[128];
  make_small_tree(dir, sizeof dir, "cloexec");
  fdlist before, after, child;
  list_fds(&before);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  assert_int_equal(vigil_start(v, count_cb, NULL), 0);
  list_fds(&after);
  note_vigil_pipe(v);

  /* What vigil opened: the descriptors that are new since before. */
  char why[512] = "";
  int mine[64], n = 0, kinds = 0;
  for (int i = 0; i < after.n && n < 64; i++) {
    if (fd_target(&before, after.fd[i]))
      continue;
    mine[n++] = after.fd[i];
    kinds |= vigil_kind_of_fd(after.target[i]);
    int flags = fcntl(after.fd[i], F_GETFD);
    if (!why[0] && (flags < 0 || !(flags & FD_CLOEXEC)))
      snprintf(why, sizeof why, "descriptor %d (%s) is not close-on-exec", after.fd[i],
               after.target[i]);
  }

  exec_and_list(&child);
  for (int i = 0; i < n && !why[0]; i++) {
    const char *t = fd_target(&child, mine[i]);
    if (t && strcmp(t, fd_target(&after, mine[i])) == 0)
      snprintf(why, sizeof why, "the exec'd child inherited vigil's descriptor %d (%s)", mine[i],
               t);
  }
  for (int i = 0; i < child.n && !why[0]; i++)
    if (vigil_kind_of_fd(child.target[i]))
      snprintf(why, sizeof why, "the exec'd child has descriptor %d: %s", child.fd[i],
               child.target[i]);

  int stopped = vigil_stop(v, 100);
  vigil_close(v);
  tu_rm_tree(dir);
  if (why[0])
    fail_msg("%s", why);
  /* inotify and the layer's (epoll, eventfd, timerfd; or the pipe): all are there. */
  assert_int_equal(kinds, vigil_kinds_expected());
  assert_true(stopped >= 0);
}

typedef struct {
  vigil_t *v;
  const char *dir;
  atomic_int stop;
  atomic_int rounds;
} churn_arg;

/* Adds and removes the root again and again: vigil keeps listing directories. */
static void *churn_roots(void *arg) {
  churn_arg *a = arg;
  while (!atomic_load(&a->stop)) {
    if (vigil_add(a->v, a->dir, 0) == 0)
      vigil_remove(a->v, a->dir);
    atomic_fetch_add(&a->rounds, 1);
  }
  return NULL;
}

/*
 * Descriptors vigil holds only for a moment (a directory being listed, an
 * ignore file being read) are close-on-exec too: programs exec'd while
 * another thread is in vigil_add inherit none of them.
 */
static void exec_during_scans_inherits_no_directory_fd(void **state) {
  (void)state;
  char *dir = left.dir;
  tu_tmpdir(dir, sizeof left.dir, "lifecycle-scan");
  char p[256];
  for (int i = 0; i < 40; i++) {
    snprintf(p, sizeof p, "%s/d%02d", dir, i);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/d%02d/.ignore", dir, i);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    write_full(fd, "*.tmp\n", 6);
    close(fd);
    for (int j = 0; j < 5; j++) {
      snprintf(p, sizeof p, "%s/d%02d/s%d", dir, i, j);
      assert_int_equal(mkdir(p, 0755), 0);
    }
  }
  vigil_options opt;
  vigil_options_init(&opt);
  opt.ignore_file = ".ignore";
  assert_int_equal(vigil_open(&left.v, &opt), 0);
  vigil_t *v = left.v;
  note_vigil_pipe(v);
  static churn_arg a;
  a = (churn_arg){.v = v, .dir = dir};
  left_thread_start(churn_roots, &a, &a.stop);
  int execs = 0;
  char why[512] = "";
  int64_t until = tu_now_us() + 3000000;
  /* Enough programs to land inside many listings, bounded in time. */
  while (execs < 300 && tu_now_us() < until && !why[0]) {
    fdlist child;
    exec_and_list(&child);
    execs++;
    for (int i = 0; i < child.n && !why[0]; i++)
      if (strncmp(child.target[i], dir, strlen(dir)) == 0 || vigil_kind_of_fd(child.target[i]))
        snprintf(why, sizeof why, "a program exec'd during vigil_add inherited descriptor %d: %s",
                 child.fd[i], child.target[i]);
  }
  left_thread_join();
  left_close();
  left_rm_tree();
  print_message("%d programs exec'd during %d add/remove rounds\n", execs, atomic_load(&a.rounds));
  if (why[0])
    fail_msg("%s", why);
  assert_true(atomic_load(&a.rounds) > 0);
}

/* ---- fork ------------------------------------------------------------- */

/* What a forked child found, sent to the parent through a pipe. */
typedef struct {
  int read, read_block, add, remove, fd, stats, start, stop;
  int fds_before, fds_after;
  long long heap_before, heap_after;
} child_report;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  char seen[64][256]; /* paths of created events */
  int count[64];
  int n;
} event_log;

static event_log elog = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void log_created(const vigil_event *ev) {
  if (ev->kind != VIGIL_CREATED)
    return;
  pthread_mutex_lock(&elog.lock);
  int i = 0;
  while (i < elog.n && strcmp(elog.seen[i], ev->path) != 0)
    i++;
  if (i == elog.n && elog.n < 64)
    snprintf(elog.seen[elog.n++], sizeof elog.seen[0], "%s", ev->path);
  if (i < 64)
    elog.count[i]++;
  pthread_cond_broadcast(&elog.cond);
  pthread_mutex_unlock(&elog.lock);
}

static void log_cb(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  (void)ud;
  log_created(ev);
}

static void log_reset(void) {
  pthread_mutex_lock(&elog.lock);
  elog.n = 0;
  memset(elog.count, 0, sizeof elog.count);
  pthread_mutex_unlock(&elog.lock);
}

static int log_count(const char *path) {
  for (int i = 0; i < elog.n; i++)
    if (strcmp(elog.seen[i], path) == 0)
      return elog.count[i];
  return 0;
}

/* NULL if each path was reported created exactly once, else what is wrong. */
static const char *exactly_once(char paths[][256], int n) {
  static char why[512];
  const char *bad = NULL;
  pthread_mutex_lock(&elog.lock);
  for (int i = 0; i < n && !bad; i++) {
    if (log_count(paths[i]) != 1) {
      snprintf(why, sizeof why, "the parent saw 'created %.255s' %d times, not once", paths[i],
               log_count(paths[i]));
      bad = why;
    }
  }
  pthread_mutex_unlock(&elog.lock);
  return bad;
}

/*
 * Waits until every path has been reported created, by the thread or by
 * vigil_read, and for an instance that is not started reads what else is
 * ready. Returns NULL, or what went wrong (the caller cleans up before
 * failing; with a thread, it stops it first, which delivers the rest).
 */
static const char *await_created(vigil_t *v, int started, char paths[][256], int n) {
  static char why[512];
  int64_t until = tu_now_us() + 10000000;
  for (;;) {
    int missing = 0;
    pthread_mutex_lock(&elog.lock);
    for (int i = 0; i < n; i++)
      missing += log_count(paths[i]) == 0;
    pthread_mutex_unlock(&elog.lock);
    if (!missing || tu_now_us() >= until)
      break;
    if (started) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_nsec -= 1000000000;
        ts.tv_sec++;
      }
      pthread_mutex_lock(&elog.lock);
      pthread_cond_timedwait(&elog.cond, &elog.lock, &ts);
      pthread_mutex_unlock(&elog.lock);
    } else {
      vigil_event ev;
      int r = vigil_read(v, &ev, 50);
      if (r < 0) {
        snprintf(why, sizeof why, "vigil_read in the parent failed: %s", vigil_strerror(r));
        return why;
      }
      if (r == 1)
        log_created(&ev);
    }
  }
  if (!started) {
    /* A duplicate would be ready by now. */
    vigil_event ev;
    while (vigil_read(v, &ev, 0) == 1)
      log_created(&ev);
  }
  return exactly_once(paths, n);
}

/* Creates a file named name in the root and in each of its directories. */
static int create_round(const char *dir, const char *name, char paths[][256], int at) {
  const char *where[] = {"", "/a", "/a/deep", "/b"};
  for (int i = 0; i < 4; i++) {
    snprintf(paths[at + i], 256, "%s%s/%s", dir, where[i], name);
    tu_write(paths[at + i], "");
  }
  return at + 4;
}

/*
 * The child's side: runs every call on the inherited instance, then
 * vigil_close, and reports. Only what is safe after fork() in a
 * multi-threaded process is used: no cmocka, no stdio.
 */
static void child_side(vigil_t *v, const char *dir, int go_fd, int report_fd) {
  alarm(20); /* a call that hangs in the child kills it instead */
  char b;
  if (read_full(go_fd, &b, 1) < 0)
    _exit(3);
  child_report rep;
  vigil_event ev;
  vigil_stats st;
  rep.read = vigil_read(v, &ev, 0);
  rep.read_block = vigil_read(v, &ev, -1);
  char sub[256];
  snprintf(sub, sizeof sub, "%s/a", dir);
  rep.add = vigil_add(v, sub, 0);
  rep.remove = vigil_remove(v, dir);
  rep.fd = vigil_fd(v);
  rep.stats = vigil_get_stats(v, &st, sizeof st);
  rep.start = vigil_start(v, count_cb, NULL);
  rep.stop = vigil_stop(v, 100);
  rep.fds_before = tu_count_fds();
  rep.heap_before = heap_in_use();
  vigil_close(v);
  rep.fds_after = tu_count_fds();
  rep.heap_after = heap_in_use();
  write_full(report_fd, &rep, sizeof rep);
  _exit(0);
}

/*
 * fork() with an instance open (and, if started, its thread running):
 * every call in the child returns VIGIL_EFORKED, vigil_close in the child
 * closes the child's copies of the descriptors and frees the memory, and
 * the parent keeps its watches and loses no event: files created before
 * the fork, while the child lives and after it closed are each reported to
 * the parent exactly once.
 */
static void fork_case(int started) {
  char dir[128];
  make_small_tree(dir, sizeof dir, started ? "fork-started" : "fork");
  log_reset();
  long long heap0 = heap_in_use();
  int fds0 = tu_count_fds();
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  long long held = heap_in_use() - heap0;
  int fds_held = tu_count_fds() - fds0;
  if (started)
    assert_int_equal(vigil_start(v, log_cb, NULL), 0);

  static char paths[12][256];
  int n = create_round(dir, "before-fork", paths, 0);
  int go[2], rep[2];
  assert_int_equal(pipe2(go, O_CLOEXEC), 0);
  assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    child_side(v, dir, go[0], rep[1]);
  close(go[0]);
  close(rep[1]);
  /* The child is alive and holds copies of the descriptors. */
  n = create_round(dir, "child-alive", paths, n);
  write_full(go[1], "g", 1);
  child_report r;
  memset(&r, 0, sizeof r);
  int got = read_full(rep[0], &r, sizeof r);
  int status = tu_reap(pid);
  close(go[1]);
  close(rep[0]);
  /* Every check is made before anything fails, so that the instance is always closed. */
  char why[512] = "";
  if (status != 0 || got < 0)
    snprintf(why, sizeof why, "the child ended with status %d (1000+ is a signal; 1014 a hang)",
             status);
  const struct {
    const char *call;
    int rc;
  } calls[] = {{"vigil_read(v, &ev, 0)", r.read},
               {"vigil_read(v, &ev, -1)", r.read_block},
               {"vigil_add", r.add},
               {"vigil_remove", r.remove},
               {"vigil_fd", r.fd},
               {"vigil_get_stats", r.stats},
               {"vigil_start", r.start},
               {"vigil_stop", r.stop}};
  for (size_t i = 0; i < sizeof calls / sizeof *calls && !why[0]; i++)
    if (calls[i].rc != VIGIL_EFORKED)
      snprintf(why, sizeof why, "in the child %s returned %d, not VIGIL_EFORKED", calls[i].call,
               calls[i].rc);
  /* Closing the child's copy closed exactly vigil's descriptors... */
  if (!why[0] && r.fds_before - r.fds_after != fds_held)
    snprintf(why, sizeof why, "vigil_close in the child closed %d descriptors, not %d",
             r.fds_before - r.fds_after, fds_held);
  /*
   * ...and freed what open and add had allocated. glibc's count takes the
   * small blocks a thread keeps cached for reuse (its tcache) as in use,
   * hence a little slack there; a sanitizer's count is exact.
   */
  long long slack = __sanitizer_get_current_allocated_bytes ? 0 : 16 * 1024;
  if (!why[0] && r.heap_before - r.heap_after < held - slack)
    snprintf(why, sizeof why, "vigil_close in the child freed %lld bytes; open and add took %lld",
             r.heap_before - r.heap_after, held);

  /* The parent's watches are intact, in every directory. */
  n = create_round(dir, "child-closed", paths, n);
  const char *bad = await_created(v, started, paths, n);
  int stopped = started ? vigil_stop(v, 1000) : 0;
  if (!bad)
    bad = exactly_once(paths, n);
  vigil_stats st;
  int rc = vigil_get_stats(v, &st, sizeof st);
  vigil_close(v);
  tu_rm_tree(dir);
  if (why[0])
    fail_msg("%s", why);
  if (bad)
    fail_msg("%s", bad);
  assert_int_equal(stopped, 0);
  assert_int_equal(rc, 0);
  assert_int_equal(st.roots, 1);
}

static void fork_child_gets_eforked_and_parent_loses_nothing(void **state) {
  (void)state;
  fork_case(0);
}

static void fork_with_a_started_thread(void **state) {
  (void)state;
  fork_case(1);
}

typedef struct {
  const char *dir;
  atomic_int stop;
} tree_churn;

/* Makes and removes directories with files in them: the tree keeps changing. */
static void *churn_tree(void *arg) {
  tree_churn *c = arg;
  char d[256], f[300];
  for (long i = 0; !atomic_load(&c->stop); i++) {
    snprintf(d, sizeof d, "%s/c%ld", c->dir, i % 8);
    mkdir(d, 0755);
    snprintf(f, sizeof f, "%s/f%ld", d, i % 5);
    int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
      close(fd);
    if (i % 3 == 0) {
      unlink(f);
      rmdir(d);
    }
  }
  return NULL;
}

/*
 * fork() at any moment of the thread's work (in the middle of a listing, a
 * tree update, a callback): the child's vigil_close frees its copy without
 * crashing, hanging or freeing anything twice (AddressSanitizer watches the
 * children too), 300 times over; and the parent's instance goes on.
 */
static void fork_while_the_thread_is_busy(void **state) {
  (void)state;
  char *dir = left.dir;
  make_small_tree(dir, sizeof left.dir, "fork-busy");
  assert_int_equal(vigil_open(&left.v, NULL), 0);
  vigil_t *v = left.v;
  assert_int_equal(vigil_add(v, dir, 0), 0);
  assert_int_equal(vigil_start(v, count_cb, NULL), 0);
  static tree_churn c;
  c = (tree_churn){.dir = dir};
  left_thread_start(churn_tree, &c, &c.stop);
  int bad = 0, last = 0;
  for (int i = 0; i < 300; i++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      alarm(20);
      vigil_close(v);
      _exit(0);
    }
    int status = tu_reap(pid);
    if (status != 0) {
      bad++;
      last = status;
    }
  }
  left_thread_join();
  int calls = atomic_load(&cb_calls);
  int stopped = vigil_stop(v, 1000);
  left_close();
  left_rm_tree();
  if (bad)
    fail_msg("%d of 300 children failed in vigil_close (last status %d; 1000+ is a signal)", bad,
             last);
  assert_true(stopped >= 0);
  assert_true(calls > 0);
}

/*
 * The child's vigil_wake returns VIGIL_EFORKED too, like every other call:
 * the wake descriptor is shared with the parent, so a write from the child
 * would wake the parent's vigil_read for nothing.
 */
static void fork_child_wake_does_not_reach_the_parent(void **state) {
  (void)state;
  char dir[128];
  make_small_tree(dir, sizeof dir, "fork-wake");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  vigil_event ev;
  while (vigil_read(v, &ev, 0) == 1)
    ;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(vigil_wake(v) == VIGIL_EFORKED ? 0 : 1);
  int status = tu_reap(pid);
  /* Nothing happened on disk, so the parent's descriptor must not be readable. */
  struct pollfd pfd = {.fd = vigil_fd(v), .events = POLLIN};
  int readable = poll(&pfd, 1, 0);
  vigil_close(v);
  tu_rm_tree(dir);
  if (status != 0 || readable != 0)
    fail_msg("in the child vigil_wake returned %s, and the parent's vigil_fd is %s",
             status == 0 ? "VIGIL_EFORKED" : "something else",
             readable ? "readable with nothing to read" : "not readable");
}

/*
 * A child made without fork()'s handlers (_Fork, the async-signal-safe fork
 * of POSIX.1-2024 and glibc 2.34, or a raw clone as some runtimes make it)
 * is a forked child all the same: the issue asks for detection by
 * pid. Its vigil_remove must not reach the kernel, where inotify_rm_watch
 * would take the parent's watches away.
 */
static void fork_without_atfork_handlers_is_detected(void **state) {
  (void)state;
  char dir[128];
  make_small_tree(dir, sizeof dir, "rawfork");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  log_reset();
  pid_t pid = _Fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(vigil_remove(v, dir) == VIGIL_EFORKED ? 0 : 1);
  int status = tu_reap(pid);
  static char paths[4][256];
  int n = create_round(dir, "after-raw-fork", paths, 0);
  const char *bad = await_created(v, 0, paths, n);
  vigil_close(v);
  tu_rm_tree(dir);
  if (status != 0 || bad)
    fail_msg("in a child made by _Fork vigil_remove %s; %s",
             status == 0 ? "returned VIGIL_EFORKED" : "did not return VIGIL_EFORKED",
             bad ? bad : "the parent still gets its events");
}

/* ---- no leaks ------------------------------------------------------------ */

/*
 * One cycle: open, add the tree, make a file, read what comes, close.
 * Returns the number of events read, or -1 with *why set. (No cmocka here:
 * it runs on many threads at once.)
 */
static int one_cycle(const char *dir, const char *file, int *why, int *err) {
  vigil_t *v;
  /*
   * The inotify instance limit (fs.inotify.max_user_instances, 128 here)
   * is shared with every process of the same user: other test programs
   * running at the same time can hold the instances this one needs, so
   * hitting it is waited out, for up to 30 s. A leak of this process's own
   * instances cannot hide behind that: it would show in the descriptor
   * count the test compares.
   */
  int64_t until = tu_now_us() + 30000000;
  /*
   * With "auto", a limit reached makes the root polled, and a pass would
   * come too late for the read below: these cycles are inotify's, and ask
   * for it, so that the limit is an error that can be waited out.
   */
  vigil_options o;
  vigil_options_init(&o);
  o.backend = "inotify";
  while ((*err = vigil_open(&v, &o)) == VIGIL_EINSTLIMIT && tu_now_us() < until)
    nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
  if (*err < 0)
    return *why = 1, -1;
  if ((*err = vigil_add(v, dir, 0)) < 0) {
    vigil_close(v);
    return *why = 2, -1;
  }
  int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0) {
    write_full(fd, "x", 1);
    close(fd);
  }
  int events = 0;
  vigil_event ev;
  while (vigil_read(v, &ev, 0) == 1)
    events++;
  unlink(file);
  vigil_close(v);
  if (events == 0)
    return *why = 3, -1;
  return events;
}

typedef struct {
  char dir[128], file[160];
  long warm, rest; /* cycles before and after the first measurement */
  long events;
  int why; /* why a cycle failed: 0 if none did */
  int err; /* the error of the call that failed */
  long failed_at;
  pthread_barrier_t *bar;
} cycler;

static void *cycler_main(void *arg) {
  cycler *c = arg;
  for (long i = 0; i < c->warm + c->rest && !c->why; i++) {
    if (i == c->warm) {
      pthread_barrier_wait(c->bar); /* warm-up done: the main thread measures */
      pthread_barrier_wait(c->bar);
    }
    int n = one_cycle(c->dir, c->file, &c->why, &c->err);
    if (n < 0)
      c->failed_at = i;
    else
      c->events += n;
  }
  if (c->why && c->failed_at < c->warm) {
    pthread_barrier_wait(c->bar);
    pthread_barrier_wait(c->bar);
  }
  pthread_barrier_wait(c->bar); /* all done: the main thread measures again */
  pthread_barrier_wait(c->bar);
  return NULL;
}

typedef struct {
  int fds;
  long rss_kib;
  long long heap;
} usage;

static void measure(usage *u) {
  /*
   * Memory that malloc holds free is not a leak; giving it back first makes
   * the resident set show what is live (a sanitizer build leaves its
   * allocator alone, and is judged by its exact heap count instead).
   */
  if (!SANITIZED)
    malloc_trim(0);
  u->fds = tu_count_fds();
  u->rss_kib = vm_rss_kib();
  u->heap = heap_in_use();
}

/*
 * 100,000 open/add/read/close cycles (VIGIL_LIFECYCLE_CYCLES) in one
 * process, each on a small tree of its own, with a file made and its
 * events read. Closing an inotify descriptor that held watches waits for
 * the kernel's SRCU grace period (about 10 ms), so 100,000 cycles in a row
 * would take a quarter of an hour; the cycles are shared among
 * VIGIL_LIFECYCLE_THREADS threads (64), whose waits overlap. All threads
 * pause after the warm-up (1% of the cycles, at least 1,000) and again at
 * the end, and in both pauses the process is measured: the number of open
 * descriptors must be exactly the same, and neither the live heap nor the
 * resident set may have grown by more than 1 MiB. A sanitizer build runs
 * 10,000 cycles and does not judge the resident set (its allocator keeps
 * freed memory in quarantine on purpose); LeakSanitizer checks at exit.
 */
static void open_close_cycles_leak_nothing(void **state) {
  (void)state;
  long cycles = env_long("VIGIL_LIFECYCLE_CYCLES", SANITIZED ? 10000 : 100000);
  long nthreads = env_long("VIGIL_LIFECYCLE_THREADS", 64);
  if (nthreads > cycles)
    nthreads = cycles;
  long warm = cycles / 100 > 1000 ? cycles / 100 : 1000;
  if (warm > cycles / 2)
    warm = cycles / 2;
  cycler *c = calloc((size_t)nthreads, sizeof *c);
  pthread_t *t = calloc((size_t)nthreads, sizeof *t);
  assert_true(c && t);
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
  for (long i = 0; i < nthreads; i++) {
    make_small_tree(c[i].dir, sizeof c[i].dir, "cycles");
    snprintf(c[i].file, sizeof c[i].file, "%s/a/deep/new", c[i].dir);
    c[i].warm = warm / nthreads + (i < warm % nthreads);
    c[i].rest = (cycles - warm) / nthreads + (i < (cycles - warm) % nthreads);
    c[i].bar = &bar;
  }
  int64_t t0 = tu_now_us();
  for (long i = 0; i < nthreads; i++)
    assert_int_equal(pthread_create(&t[i], NULL, cycler_main, &c[i]), 0);
  usage before, after;
  pthread_barrier_wait(&bar);
  measure(&before);
  pthread_barrier_wait(&bar);
  pthread_barrier_wait(&bar);
  measure(&after);
  pthread_barrier_wait(&bar);
  long events = 0;
  for (long i = 0; i < nthreads; i++) {
    pthread_join(t[i], NULL);
    events += c[i].events;
  }
  double secs = (double)(tu_now_us() - t0) / 1e6;
  pthread_barrier_destroy(&bar);
  print_message("%ld open/add/read/close cycles on %ld threads in %.1f s (%ld events read); "
                "from after %ld warm-up cycles to the end: fds %+d, RSS %+ld KiB, heap %+lld "
                "bytes\n",
                cycles, nthreads, secs, events, warm, after.fds - before.fds,
                after.rss_kib - before.rss_kib, after.heap - before.heap);
  /* Every tree is removed before a failure is reported: fail_msg does not return. */
  long failed = -1;
  for (long i = 0; i < nthreads; i++) {
    if (c[i].why && failed < 0)
      failed = i;
    tu_rm_tree(c[i].dir);
  }
  if (failed >= 0) {
    cycler *f = &c[failed];
    fail_msg("thread %ld, cycle %ld: %s (%s)", failed, f->failed_at,
             f->why == 1   ? "vigil_open failed"
             : f->why == 2 ? "vigil_add failed"
                           : "no event was read",
             f->why == 3 ? "-" : vigil_strerror(f->err));
  }
  free(c);
  free(t);
  assert_int_equal(after.fds, before.fds);
  assert_true(after.heap - before.heap <= 1024 * 1024);
  if (!SANITIZED)
    assert_true(after.rss_kib - before.rss_kib <= 1024);
}

typedef struct {
  const char *dir;
  atomic_int stop;
  atomic_long writes;
} writer_arg;

/* Creates, writes and deletes files in the watched directory as fast as it can. */
static void *writer(void *arg) {
  writer_arg *a = arg;
  char p[256];
  long i = 0;
  while (!atomic_load(&a->stop)) {
    snprintf(p, sizeof p, "%s/w%ld", a->dir, i % 64);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
      write_full(fd, "x", 1);
      close(fd);
    }
    unlink(p);
    i++;
  }
  atomic_store(&a->writes, i);
  return NULL;
}

static atomic_int last_tid;

static void tid_cb(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  (void)ev;
  (void)ud;
  atomic_store(&last_tid, (int)gettid());
  atomic_fetch_add(&cb_calls, 1);
}

/*
 * Microseconds during which some runnable task of the machine waited for
 * a CPU (the kernel's pressure stall information), or -1 if unknown.
 */
static long long cpu_stall_us(void) {
  int fd = open("/proc/pressure/cpu", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char text[256];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return -1;
  text[n] = '\0';
  const char *t = strstr(text, "total=");
  return t ? atoll(t + 6) : -1;
}

/*
 * 10,000 vigil_start/vigil_stop cycles (VIGIL_LIFECYCLE_STOP_CYCLES) while
 * another thread writes files as fast as it can. Every vigil_stop returns
 * a count (never -ETIMEDOUT: the callback is quick) within grace_ms +
 * 10 ms, grace cycling through 0, 1, 2 and 5 ms; half the cycles stop at
 * once, half after the callback has run. Afterwards no thread of vigil's is
 * left: each thread id the callback saw is gone, and /proc/self/task has as
 * many entries as after the first cycle (so a sanitizer runtime's own
 * threads are in both counts).
 *
 * The bound is vigil's, not the scheduler's: a stop during which the
 * machine's runnable tasks waited for a CPU for at least half of the stop
 * (the kernel's pressure stall information) measures the machine, not
 * vigil. Such stops are counted and printed, not failed; on an idle machine
 * there are none.
 */
static void start_stop_cycles_are_bounded_and_leave_no_thread(void **state) {
  (void)state;
  long cycles = env_long("VIGIL_LIFECYCLE_STOP_CYCLES", SANITIZED ? 2000 : 10000);
  char *dir = left.dir;
  make_small_tree(dir, sizeof left.dir, "startstop");
  assert_int_equal(vigil_open(&left.v, NULL), 0);
  vigil_t *v = left.v;
  assert_int_equal(vigil_add(v, dir, 0), 0);
  assert_int_equal(vigil_start(v, tid_cb, NULL), 0);
  assert_true(vigil_stop(v, 10) >= 0);
  int tasks = count_tasks();
  int fds = tu_count_fds();

  static writer_arg w;
  w = (writer_arg){.dir = dir};
  left_thread_start(writer, &w, &w.stop);
  static int *tids;
  free(tids); /* what a failed run left */
  tids = calloc((size_t)cycles, sizeof *tids);
  assert_non_null(tids);
  static const int graces[] = {0, 1, 2, 5};
  int64_t slowest = 0, worst_over = INT64_MIN, worst_over_all = INT64_MIN;
  long worst_at = -1, dropped = 0, waited = 0, excused = 0;
  int worst_grace = 0;
  for (long i = 0; i < cycles; i++) {
    int grace = graces[i % 4];
    atomic_store(&last_tid, 0);
    int calls = atomic_load(&cb_calls);
    assert_int_equal(vigil_start(v, tid_cb, NULL), 0);
    if (i & 1) {
      /* Let the thread reach its callback first, so a stop finds it busy. */
      int64_t until = tu_now_us() + 1000000;
      while (atomic_load(&cb_calls) == calls && tu_now_us() < until)
        sched_yield();
      waited += atomic_load(&cb_calls) != calls;
    }
    long long stall0 = cpu_stall_us();
    int64_t t0 = tu_now_us();
    int rc = vigil_stop(v, grace);
    int64_t took = tu_now_us() - t0;
    long long stall = stall0 < 0 ? 0 : cpu_stall_us() - stall0;
    int64_t over = took - grace * 1000;
    if (over > worst_over_all)
      worst_over_all = over;
    if (rc < 0 || over > 10000) {
      if (stall * 2 < took)
        fail_msg("cycle %ld: vigil_stop(%d) returned %d after %.3f ms (bound: grace + 10 ms; "
                 "CPU stall meanwhile %.3f ms)",
                 i, grace, rc, (double)took / 1000.0, (double)stall / 1000.0);
      excused++;
      /* Starved of CPU, the thread may still be finishing: wait for it. */
      int64_t until = tu_now_us() + 5000000;
      while (rc < 0 && tu_now_us() < until) {
        sched_yield();
        rc = vigil_stop(v, 0);
      }
      assert_true(rc >= 0);
    } else if (over > worst_over) {
      worst_over = over;
      worst_at = i;
      worst_grace = grace;
    }
    dropped += rc;
    tids[i] = atomic_load(&last_tid);
    if (took > slowest)
      slowest = took;
  }
  left_thread_join();
  /* The events of the last cycles are left behind: read them away. */
  vigil_event ev;
  while (vigil_read(v, &ev, 0) == 1)
    ;
  print_message("%ld start/stop cycles, %ld writes, %ld events dropped; slowest stop %.3f ms; "
                "most over its grace: %.3f ms (cycle %ld, grace %d ms); %ld stops taken while "
                "the CPU was contended, not held to the bound (with them, most over its grace: "
                "%.3f ms)\n",
                cycles, atomic_load(&w.writes), dropped, (double)slowest / 1000.0,
                (double)worst_over / 1000.0, worst_at, worst_grace, excused,
                (double)worst_over_all / 1000.0);
  /* The callback ran in many cycles, so stops found the thread busy. */
  assert_true(waited > cycles / 4);
  for (long i = 0; i < cycles; i++)
    if (tids[i] && !tu_wait_task_gone(tids[i], 2000000))
      fail_msg("the thread %d of cycle %ld is still alive", tids[i], i);
  free(tids);
  tids = NULL;
  int64_t until = tu_now_us() + 2000000;
  while (count_tasks() != tasks && tu_now_us() < until)
    sched_yield();
  assert_int_equal(count_tasks(), tasks);
  assert_int_equal(tu_count_fds(), fds);
  left_close();
  left_rm_tree();
}

/* ---- the real limits, in a user namespace -------------------------------- */

/*
 * Every dup() made in this process comes here, so that a descriptor vigil
 * makes for a moment without close-on-exec is seen even though it is
 * closed again at once.
 */
static atomic_int dups_without_cloexec;

int dup(int fd) {
  int r = (int)syscall(SYS_dup, fd);
  if (r >= 0) {
    int flags = fcntl(r, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC))
      atomic_fetch_add(&dups_without_cloexec, 1);
  }
  return r;
}

/*
 * Enters a new user namespace where this process is root, and sets one of
 * its inotify limits (/proc/sys/user/NAME). The host's /proc/sys/fs/inotify
 * is never touched. Returns 0, or -errno if the kernel does not allow it
 * (a process with more than one thread, such as one with ThreadSanitizer's
 * helper thread, cannot enter a user namespace).
 */
static int userns_limit(const char *name, int value) {
  int rc = tu_enter_userns(0);
  if (rc < 0)
    return rc;
  char path[128], val[32];
  snprintf(path, sizeof path, "/proc/sys/user/%s", name);
  snprintf(val, sizeof val, "%d", value);
  return tu_write_file(path, val) < 0 ? -errno : 0;
}

/* Runs fn in a forked child; TU_SKIP from it skips the test. */
/*
 * Runs fn(dir) in a child and gives its verdict. The trees the test made
 * (dir, and "dir-small" if fn made one) are removed first: a skip or a
 * failure does not return.
 */
static void in_child(int (*fn)(const char *), const char *dir) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(fn(dir));
  int status = tu_reap(pid);
  if (dir) {
    char small[160];
    snprintf(small, sizeof small, "%s-small", dir);
    tu_rm_tree(small);
    tu_rm_tree(dir);
  }
  tu_child_verdict(status);
}

static int enter_userns(const char *name, int value) {
  int rc = userns_limit(name, value);
  if (rc < 0)
    dprintf(2, "skipped: cannot set /proc/sys/user/%s in a new user namespace: %s\n", name,
            strerror(-rc));
  return rc;
}

/* vigil_open with the backend named (an explicit one fails at its limits). */
static int open_backend(vigil_t **v, const char *backend) {
  vigil_options o;
  vigil_options_init(&o);
  o.backend = backend;
  return vigil_open(v, &o);
}

static int watch_limit_child(const char *dir) {
  if (enter_userns("max_inotify_watches", 5) < 0)
    return TU_SKIP;
  vigil_t *v;
  TU_CHILD_CHECK(open_backend(&v, "inotify") == 0);
  /* The tree has 12 directories; 5 watches fit. */
  TU_CHILD_CHECK(vigil_add(v, dir, 0) == VIGIL_EWATCHLIMIT);
  vigil_stats st;
  TU_CHILD_CHECK(vigil_get_stats(v, &st, sizeof st) == 0);
  TU_CHILD_CHECK(st.add_watches == 5);
  /* Nothing of the failed root is left: no root, no watch, no event. */
  TU_CHILD_CHECK(st.roots == 0 && st.watches == 0 && st.dirs == 0 && st.entries == 0);
  vigil_event ev;
  TU_CHILD_CHECK(vigil_read(v, &ev, 0) == 0);
  /* Its watches went back to the kernel: 5 fit again, in the same instance. */
  char small[256];
  snprintf(small, sizeof small, "%s/d00", dir);
  TU_CHILD_CHECK(vigil_add(v, small, 0) == 0);
  TU_CHILD_CHECK(vigil_get_stats(v, &st, sizeof st) == 0 && st.watches == 5);
  /* The namespace's own limit bit: raising the host's would not help. */
  TU_CHILD_CHECK(strstr(vigil_strerror(VIGIL_EWATCHLIMIT), "user.max_inotify_watches"));
  TU_CHILD_CHECK(!strstr(vigil_strerror(VIGIL_EWATCHLIMIT), "fs.inotify"));
  vigil_close(v);
  return 0;
}

/* A tree of 12 directories: the root, d00 with s0..s3, and d01..d06. */
static void make_limit_tree(char *dir, size_t cap, const char *tag) {
  char p[256];
  tu_tmpdir(dir, cap, tag);
  snprintf(p, sizeof p, "%s/d00", dir);
  assert_int_equal(mkdir(p, 0755), 0);
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/d00/s%d", dir, i);
    assert_int_equal(mkdir(p, 0755), 0);
  }
  for (int i = 1; i < 7; i++) {
    snprintf(p, sizeof p, "%s/d%02d", dir, i);
    assert_int_equal(mkdir(p, 0755), 0);
  }
}

/*
 * The real watch limit: vigil_add fails with VIGIL_EWATCHLIMIT, says how
 * many watches it placed, and leaves nothing behind (the same instance can
 * then use every watch the limit allows).
 */
static void watch_limit_in_a_user_namespace(void **state) {
  (void)state;
  char dir[128];
  make_limit_tree(dir, sizeof dir, "lifecycle-limit");
  in_child(watch_limit_child, dir);
}

static int instance_limit_child(const char *dir) {
  (void)dir;
  if (enter_userns("max_inotify_instances", 0) < 0)
    return TU_SKIP;
  atomic_store(&dups_without_cloexec, 0);
  vigil_t *v = NULL;
  int fds = tu_count_fds();
  TU_CHILD_CHECK(open_backend(&v, "inotify") == VIGIL_EINSTLIMIT && v == NULL);
  TU_CHILD_CHECK(tu_count_fds() == fds);
  TU_CHILD_CHECK(strstr(vigil_strerror(VIGIL_EINSTLIMIT), "user.max_inotify_instances"));
  TU_CHILD_CHECK(!strstr(vigil_strerror(VIGIL_EINSTLIMIT), "fs.inotify"));
  /* Not even the descriptor vigil makes for a moment to tell the two limits apart. */
  TU_CHILD_CHECK(atomic_load(&dups_without_cloexec) == 0);
  return 0;
}

/*
 * The real instance limit: vigil_open fails with VIGIL_EINSTLIMIT (not the
 * kernel's EMFILE), leaves no descriptor open, and opens none that lacks
 * close-on-exec on the way.
 */
static void instance_limit_in_a_user_namespace(void **state) {
  (void)state;
  in_child(instance_limit_child, NULL);
}

/* Is root watched by backend be, and why instead of inotify (0: not instead)? */
static int root_is(vigil_t *v, const char *root, const char *be, int why) {
  const char *name = NULL;
  int got = -1;
  return vigil_root_backend(v, root, &name) == 0 && strcmp(name, be) == 0 &&
         vigil_root_fallback(v, root, &got) == 0 && got == why;
}

static int auto_watch_limit_child(const char *dir) {
  if (enter_userns("max_inotify_watches", 5) < 0)
    return TU_SKIP;
  vigil_t *v;
  TU_CHILD_CHECK(vigil_open(&v, NULL) == 0);
  /* Beside the tree (roots of two backends may not overlap): one watch. */
  char small[160];
  snprintf(small, sizeof small, "%s-small", dir);
  TU_CHILD_CHECK(mkdir(small, 0755) == 0);
  TU_CHILD_CHECK(vigil_add(v, small, 0) == 0);
  TU_CHILD_CHECK(root_is(v, small, "inotify", 0));
  /* The tree has 12 directories; 4 more watches fit: it is polled, all of it. */
  TU_CHILD_CHECK(vigil_add(v, dir, 0) == 0);
  TU_CHILD_CHECK(root_is(v, dir, "poll", VIGIL_EWATCHLIMIT));
  vigil_stats st;
  TU_CHILD_CHECK(vigil_get_stats(v, &st, sizeof st) == 0);
  TU_CHILD_CHECK(st.roots == 2 && st.watches == 13 && st.polled == 12);
  /* None of the watches the failed attempt placed is kept: 4 more fit. */
  char more[256];
  for (int i = 0; i < 4; i++) {
    snprintf(more, sizeof more, "%s/s%d", small, i);
    TU_CHILD_CHECK(mkdir(more, 0755) == 0);
  }
  TU_CHILD_CHECK(vigil_remove(v, small) == 0);
  TU_CHILD_CHECK(vigil_add(v, small, 0) == 0);
  TU_CHILD_CHECK(root_is(v, small, "inotify", 0));
  TU_CHILD_CHECK(vigil_get_stats(v, &st, sizeof st) == 0);
  TU_CHILD_CHECK(st.watches == 17 && st.polled == 12);
  vigil_close(v);
  tu_rm_tree(small);
  return 0;
}

/*
 * With the backend "auto", the watch limit reached while a root is added
 * makes that root polled, whole; vigil_root_fallback says why, and every
 * watch the attempt placed went back to the kernel.
 */
static void auto_polls_at_the_watch_limit(void **state) {
  (void)state;
  char dir[128];
  make_limit_tree(dir, sizeof dir, "lifecycle-auto-limit");
  in_child(auto_watch_limit_child, dir);
}

static int auto_instance_limit_child(const char *dir) {
  if (enter_userns("max_inotify_instances", 0) < 0)
    return TU_SKIP;
  vigil_t *v = NULL;
  TU_CHILD_CHECK(vigil_open(&v, NULL) == 0);
  TU_CHILD_CHECK(vigil_add(v, dir, 0) == 0);
  TU_CHILD_CHECK(root_is(v, dir, "poll", VIGIL_EINSTLIMIT));
  vigil_close(v);
  return 0;
}

/* With "auto", no inotify instance to be had: every root is polled, and says why. */
static void auto_polls_at_the_instance_limit(void **state) {
  (void)state;
  char dir[128];
  tu_tmpdir(dir, sizeof dir, "lifecycle-auto-inst");
  in_child(auto_instance_limit_child, dir);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--list-fds") == 0)
    return list_fds_main();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(exec_child_inherits_no_vigil_fd),
      cmocka_unit_test_teardown(exec_during_scans_inherits_no_directory_fd, teardown_leftovers),
      cmocka_unit_test(fork_child_gets_eforked_and_parent_loses_nothing),
      cmocka_unit_test(fork_with_a_started_thread),
      cmocka_unit_test_teardown(fork_while_the_thread_is_busy, teardown_leftovers),
      cmocka_unit_test(fork_child_wake_does_not_reach_the_parent),
      cmocka_unit_test(fork_without_atfork_handlers_is_detected),
      cmocka_unit_test(watch_limit_in_a_user_namespace),
      cmocka_unit_test(instance_limit_in_a_user_namespace),
      cmocka_unit_test(auto_polls_at_the_watch_limit),
      cmocka_unit_test(auto_polls_at_the_instance_limit),
      cmocka_unit_test_teardown(start_stop_cycles_are_bounded_and_leave_no_thread,
                                teardown_leftovers),
      cmocka_unit_test(open_close_cycles_leak_nothing),
  };
  /* VIGIL_LIFECYCLE_ONLY=PATTERN runs only the tests whose names match it. */
  const char *only = getenv("VIGIL_LIFECYCLE_ONLY");
  if (only && *only)
    cmocka_set_test_filter(only);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
