/*
 * The background thread (src/thread.c) and wakeups: vigil_start,
 * vigil_stop from another thread and from the callback, the drain and its
 * bound, blocked signals, vigil_close on a started instance, and
 * vigil_wake from a signal handler. Built with -fsanitize=thread in CI.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"
#include "vigil.h"

typedef struct {
  char dir[64];
  vigil_t *v;
  atomic_int created;
  atomic_int calls;
  atomic_int stop_from_cb; /* call vigil_stop inside cb on this call number */
  atomic_int close_from_cb;
  atomic_int stop_rc;
  atomic_int sigint_blocked;
  atomic_int cb_sleep_ms;
  atomic_int tid;       /* the callback thread's id */
  atomic_int cb_closed; /* set after vigil_close returned inside cb */
} fixture;

static void make_files(const char *dir, const char *prefix, int n) {
  char name[64];
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "%s%d", prefix, i);
    tu_write_at(dir, name, "");
  }
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  tu_tmpdir(f->dir, sizeof f->dir, "thread");
  assert_int_equal(vigil_open(&f->v, NULL), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->v)
    vigil_close(f->v);
  assert_int_equal(tu_rm_tree(f->dir), 0);
  free(f);
  return 0;
}

static void on_event(vigil_t *v, const vigil_event *ev, void *ud) {
  fixture *f = ud;
  int call = atomic_fetch_add(&f->calls, 1) + 1;
  atomic_store(&f->tid, gettid());
  if (ev->kind == VIGIL_CREATED)
    atomic_fetch_add(&f->created, 1);
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  atomic_store(&f->sigint_blocked, sigismember(&cur, SIGINT) && sigismember(&cur, SIGTERM));
  if (atomic_load(&f->stop_from_cb) == call)
    atomic_store(&f->stop_rc, vigil_stop(v, 1000));
  int ms = atomic_load(&f->cb_sleep_ms);
  if (ms)
    usleep((useconds_t)ms * 1000);
  if (atomic_load(&f->close_from_cb) == call) {
    vigil_close(v);
    /* The last touch of f by this thread. */
    atomic_store_explicit(&f->cb_closed, 1, memory_order_release);
  }
}

static void drain_delivers_everything_queued_before_stop(void **state) {
  fixture *f = *state;
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  assert_int_equal(vigil_start(f->v, on_event, f), VIGIL_EBUSY);
  vigil_event ev;
  assert_int_equal(vigil_read(f->v, &ev, 0), VIGIL_EBUSY);
  make_files(f->dir, "f", 2000);
  /* Every create is in the kernel's queue now; stop must deliver them all. */
  int rc = vigil_stop(f->v, 2000);
  assert_int_equal(rc, 0);
  assert_int_equal(atomic_load(&f->created), 2000);
  assert_true(atomic_load(&f->sigint_blocked));
  /* vigil_stop joined the thread: it is gone by the time stop returns. */
  assert_true(tu_wait_task_gone(atomic_load(&f->tid), 0));
}

static void stop_from_inside_the_callback_returns_at_once(void **state) {
  fixture *f = *state;
  atomic_store(&f->stop_from_cb, 1);
  atomic_store(&f->stop_rc, -1);
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  make_files(f->dir, "g", 50);
  /* The thread ends when the first callback returns. */
  int64_t until = tu_now_us() + 5000000;
  while (atomic_load(&f->calls) == 0 && tu_now_us() < until)
    usleep(1000);
  assert_true(tu_wait_task_gone(atomic_load(&f->tid), 5000000));
  assert_int_equal(atomic_load(&f->stop_rc), 0);
  assert_int_equal(atomic_load(&f->calls), 1);
  assert_int_equal(atomic_load(&f->created), 1);
  /* The undelivered events stayed queued: a plain read gets them now. */
  vigil_event ev;
  int more = 0;
  while (vigil_read(f->v, &ev, 100) == 1)
    more += ev.kind == VIGIL_CREATED;
  assert_int_equal(more, 49);
}

static void stop_is_bounded_under_a_storm(void **state) {
  fixture *f = *state;
  atomic_store(&f->cb_sleep_ms, 1); /* a slow consumer, so the queue stays full */
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  make_files(f->dir, "h", 3000);
  int64_t t0 = tu_now_us();
  int dropped = vigil_stop(f->v, 20);
  int64_t took = tu_now_us() - t0;
  assert_true(dropped > 0);
  assert_true(took < (20 + 10) * 1000);
  /* Dropping is never silent: the next reader hears of it. */
  vigil_event ev;
  assert_int_equal(vigil_read(f->v, &ev, 1000), 1);
  assert_int_equal(ev.kind, VIGIL_OVERFLOW);
}

/*
 * A storm as the thread sees it under wine's ReadDirectoryChangesW: every
 * read brings records and none of them ends in an event (each file made
 * and deleted before vigil looks), so the thread goes from one read to
 * the next. This backend is that storm, for busy_ms after its first read;
 * its descriptor stays readable all that time.
 */
typedef struct {
  int fd[2];
  int64_t until_us; /* the storm's end, set by the first read */
  atomic_long reads;
} busy_state;

static const int busy_ms = 2000;

static int busy_open(void **out, vigil_os_fd_t *fd, const vigil__backend_config *cfg) {
  (void)cfg;
  busy_state *b = calloc(1, sizeof *b);
  assert_non_null(b);
  assert_int_equal(pipe2(b->fd, O_CLOEXEC | O_NONBLOCK), 0);
  assert_int_equal(write(b->fd[1], "", 1), 1);
  *out = b;
  *fd = b->fd[0];
  return 0;
}

static int busy_storming(busy_state *b) {
  if (!b->until_us)
    b->until_us = tu_now_us() + busy_ms * 1000;
  if (tu_now_us() < b->until_us)
    return 1;
  char c;
  (void)!read(b->fd[0], &c, 1); /* over: nothing to read from now on */
  return 0;
}

static int busy_watch(void *st, vigil__node *dir, int fd) {
  (void)st, (void)dir, (void)fd;
  return 0;
}

static void busy_unwatch(void *st, vigil__node *dir) {
  (void)st, (void)dir;
}

static int busy_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  (void)v, (void)max_units;
  busy_state *b = st;
  out->wait_ms = -1;
  if (!busy_storming(b))
    return 0;
  atomic_fetch_add(&b->reads, 1);
  out->records = 3;
  out->units = 1;
  return 0;
}

static vigil__node *busy_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  (void)st;
  return after ? NULL : (vigil__node *)(uintptr_t)dir;
}

static size_t busy_watches(void *st) {
  (void)st;
  return 1;
}

static size_t busy_pending(void *st) {
  return busy_storming(st);
}

static size_t busy_discard(void *st, size_t max_units) {
  (void)st, (void)max_units;
  return 0;
}

static void busy_flush(void *st, vigil_t *v) {
  (void)st, (void)v;
}

static void busy_close(void *st) {
  busy_state *b = st;
  close(b->fd[0]);
  close(b->fd[1]);
  free(b);
}

static const vigil__backend busy_backend = {
    .name = "busy",
    .caps = VIGIL__CAP_RECURSIVE,
    .open = busy_open,
    .watch = busy_watch,
    .unwatch = busy_unwatch,
    .read = busy_read,
    .sharing = busy_sharing,
    .watches = busy_watches,
    .pending = busy_pending,
    .discard = busy_discard,
    .flush = busy_flush,
    .close = busy_close,
};

static void stop_is_bounded_while_every_read_brings_records(void **state) {
  fixture *f = *state;
  vigil_close(f->v);
  assert_int_equal(vigil__open_with(&f->v, NULL, &busy_backend), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  busy_state *b = f->v->src[0].state;
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  while (atomic_load(&b->reads) < 1000)
    usleep(1000);
  int64_t t0 = tu_now_us();
  int dropped = vigil_stop(f->v, 20);
  int64_t took = tu_now_us() - t0;
  print_message("vigil_stop took %.1f ms in a storm of %d ms\n", took / 1000.0, busy_ms);
  assert_true(dropped >= 0);
  assert_true(took < (20 + 10) * 1000);
}

static void close_stops_a_started_instance(void **state) {
  fixture *f = *state;
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  make_files(f->dir, "i", 100);
  int64_t until = tu_now_us() + 5000000;
  while (atomic_load(&f->calls) == 0 && tu_now_us() < until)
    usleep(1000);
  vigil_close(f->v);
  f->v = NULL;
  assert_true(tu_wait_task_gone(atomic_load(&f->tid), 0));
}

static void close_from_inside_the_callback(void **state) {
  fixture *f = *state;
  atomic_store(&f->close_from_cb, 1);
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  make_files(f->dir, "j", 10);
  int64_t until = tu_now_us() + 5000000;
  while (!atomic_load_explicit(&f->cb_closed, memory_order_acquire) && tu_now_us() < until)
    usleep(1000);
  assert_true(atomic_load(&f->cb_closed));
  assert_true(tu_wait_task_gone(atomic_load(&f->tid), 5000000));
  f->v = NULL; /* freed by its own thread */
}

static void restart_after_stop(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(vigil_start(f->v, on_event, f), 0);
    assert_true(vigil_stop(f->v, 100) >= 0);
  }
  assert_int_equal(vigil_stop(f->v, 0), 0); /* not started: nothing to do */
  make_files(f->dir, "k", 5);
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  assert_int_equal(vigil_stop(f->v, 1000), 0);
  assert_int_equal(atomic_load(&f->created), 5);
}

static void *add_from_other_thread(void *arg) {
  fixture *f = arg;
  char sub[128];
  snprintf(sub, sizeof sub, "%s/added", f->dir);
  return (void *)(intptr_t)vigil_add(f->v, sub, 0);
}

static void add_while_started(void **state) {
  fixture *f = *state;
  char other[128];
  snprintf(other, sizeof other, "%s/added", f->dir);
  assert_int_equal(vigil_remove(f->v, f->dir), 0);
  assert_int_equal(mkdir(other, 0755), 0);
  assert_int_equal(vigil_start(f->v, on_event, f), 0);
  pthread_t t;
  void *rc;
  pthread_create(&t, NULL, add_from_other_thread, f);
  pthread_join(t, &rc);
  assert_int_equal((intptr_t)rc, 0);
  make_files(other, "l", 7);
  assert_int_equal(vigil_stop(f->v, 1000), 0);
  assert_int_equal(atomic_load(&f->created), 7);
}

/* vigil_wake from a signal handler while another thread blocks in vigil_read. */
static vigil_t *signal_target;
static atomic_int handler_errno_kept;

static void on_alarm(int sig) {
  (void)sig;
  errno = 1234;
  vigil_wake(signal_target);
  atomic_store(&handler_errno_kept, errno == 1234);
}

typedef struct {
  vigil_t *v;
  int rc;
  int64_t took_us;
} reader_arg;

static void *blocked_reader(void *arg) {
  reader_arg *a = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* the signal goes to the main thread */
  vigil_event ev;
  int64_t t0 = tu_now_us();
  a->rc = vigil_read(a->v, &ev, -1);
  a->took_us = tu_now_us() - t0;
  return NULL;
}

static void wake_from_a_signal_handler(void **state) {
  fixture *f = *state;
  signal_target = f->v;
  struct sigaction sa = {.sa_handler = on_alarm};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  reader_arg a = {.v = f->v, .rc = -1};
  pthread_t t;
  pthread_create(&t, NULL, blocked_reader, &a);
  usleep(50000);
  /* Deliver SIGALRM to this thread, which is not blocked in vigil_read. */
  pthread_kill(pthread_self(), SIGALRM);
  pthread_join(t, NULL);
  assert_int_equal(a.rc, 0);
  assert_true(atomic_load(&handler_errno_kept));
  signal(SIGALRM, SIG_DFL);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(drain_delivers_everything_queued_before_stop),
      T(stop_from_inside_the_callback_returns_at_once),
      T(stop_is_bounded_under_a_storm),
      T(stop_is_bounded_while_every_read_brings_records),
      T(close_stops_a_started_instance),
      T(close_from_inside_the_callback),
      T(restart_after_stop),
      T(add_while_started),
      T(wake_from_a_signal_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
