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
      T(close_stops_a_started_instance),
      T(close_from_inside_the_callback),
      T(restart_after_stop),
      T(add_while_started),
      T(wake_from_a_signal_handler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
