/*
 * The platform layer (src/platform/), whichever one was built: the wake
 * (also from a signal handler, and kept across a change of the queue's
 * level), the sources and their tags, the timer, the queue's level on
 * vigil_fd, batching's gathering wait, close-on-exec; and what vigil_fd
 * means on that layer (include/vigil.h, at vigil_os_fd_t).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"

#define TAG_A 1u
#define TAG_B 4u

static int is_linux_layer(void) {
  return strcmp(vigil__plat_name, "linux") == 0;
}

/* Is fd readable right now? */
static int readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, 0);
  assert_true(n >= 0);
  return n == 1 && (p.revents & POLLIN);
}

static int setup(void **state) {
  vigil__plat *p;
  assert_int_equal(vigil__plat_open(&p), 0);
  *state = p;
  return 0;
}

static int teardown(void **state) {
  vigil__plat_close(*state);
  return 0;
}

static void wake_before_a_wait_ends_it_once(void **state) {
  vigil__plat *p = *state;
  unsigned ready = 99;
  assert_int_equal(vigil__plat_wake(p), 0);
  assert_int_equal(vigil__plat_wake(p), 0);
  int64_t t0 = tu_now_us();
  assert_int_equal(vigil__plat_wait(p, 5000, &ready), 1);
  assert_true(tu_now_us() - t0 < 1000000);
  assert_int_equal(ready, 0);
  /* Both wakes were one: the next wait runs out. */
  assert_int_equal(vigil__plat_wait(p, 20, &ready), 0);
}

static vigil__plat *handler_plat;

static void on_alarm(int sig) {
  (void)sig;
  vigil__plat_wake(handler_plat);
}

/* A wake from a signal handler, the case it is async-signal-safe for. */
static void wake_from_a_signal_handler(void **state) {
  vigil__plat *p = *state;
  handler_plat = p;
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART}, old;
  sigemptyset(&sa.sa_mask);
  assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
  struct itimerval it = {.it_value = {.tv_usec = 50000}};
  assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
  unsigned ready;
  int64_t t0 = tu_now_us();
  /* The signal interrupts the wait (1) or lands before it (the wake: 1). */
  assert_int_equal(vigil__plat_wait(p, 10000, &ready), 1);
  assert_true(tu_now_us() - t0 < 5000000);
  sigaction(SIGALRM, &old, NULL);
}

static void *wake_later(void *arg) {
  usleep(30000);
  vigil__plat_wake(arg);
  return NULL;
}

static void wake_from_another_thread(void **state) {
  vigil__plat *p = *state;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, wake_later, p), 0);
  unsigned ready;
  int64_t t0 = tu_now_us();
  assert_int_equal(vigil__plat_wait(p, -1, &ready), 1);
  assert_true(tu_now_us() - t0 >= 25000);
  pthread_join(t, NULL);
}

/* Each source is reported by its tag, IN and PRI alike, and only when ready. */
static void sources_are_reported_by_tag(void **state) {
  vigil__plat *p = *state;
  int a[2], b[2];
  assert_int_equal(pipe(a), 0);
  assert_int_equal(pipe(b), 0);
  assert_int_equal(vigil__plat_add(p, a[0], VIGIL__PLAT_IN, TAG_A), 0);
  assert_int_equal(vigil__plat_add(p, b[0], VIGIL__PLAT_IN, TAG_B), 0);
  unsigned ready = 99;
  assert_int_equal(vigil__plat_wait(p, 0, &ready), 0);
  assert_int_equal(ready, 0);
  assert_int_equal(write(b[1], "x", 1), 1);
  assert_int_equal(vigil__plat_wait(p, 5000, &ready), 0);
  assert_int_equal(ready, TAG_B);
  assert_int_equal(write(a[1], "x", 1), 1);
  assert_int_equal(vigil__plat_wait(p, 5000, &ready), 0);
  assert_int_equal(ready, TAG_A | TAG_B);
  /* A wake with sources ready is still a wake. */
  assert_int_equal(vigil__plat_wake(p), 0);
  assert_int_equal(vigil__plat_wait(p, 5000, &ready), 1);
  for (int i = 0; i < 2; i++) {
    close(a[i]);
    close(b[i]);
  }
}

/* The timer ends a wait without end, not before it is due; disarmed, it does not. */
static void timer_ends_a_wait_when_due(void **state) {
  vigil__plat *p = *state;
  unsigned ready;
  vigil__plat_timer(p, 40);
  int64_t t0 = tu_now_us();
  assert_int_equal(vigil__plat_wait(p, -1, &ready), 0);
  int64_t took = tu_now_us() - t0;
  assert_true(took >= 39000);
  assert_true(took < 5000000);
  assert_int_equal(ready, 0);
  /* Armed again for later, then disarmed: the wait's own timeout ends it. */
  vigil__plat_timer(p, 10);
  vigil__plat_timer(p, -1);
  t0 = tu_now_us();
  assert_int_equal(vigil__plat_wait(p, 60, &ready), 0);
  assert_true(tu_now_us() - t0 >= 59000);
}

/*
 * The queue's level: vigil_fd readable exactly while it is on; it does not
 * make a wait report a wake, and a wake that comes while it is on
 * survives its end.
 */
static void queue_level_on_vigil_fd(void **state) {
  vigil__plat *p = *state;
  int fd = vigil__plat_fd(p);
  assert_false(readable(fd));
  vigil__plat_ready(p, 1);
  vigil__plat_ready(p, 1);
  assert_true(readable(fd));
  unsigned ready;
  assert_int_equal(vigil__plat_wait(p, 0, &ready), 0);
  assert_true(readable(fd)); /* a wait leaves the level as it was */
  assert_int_equal(vigil__plat_wake(p), 0);
  vigil__plat_ready(p, 0);
  assert_true(readable(fd)); /* the wake is still pending */
  assert_int_equal(vigil__plat_wait(p, 0, &ready), 1);
  assert_false(readable(fd));
  assert_int_equal(vigil__plat_wait(p, 0, &ready), 0);
}

static void gather_ends_on_a_wake_or_runs_out(void **state) {
  vigil__plat *p = *state;
  int64_t t0 = tu_now_us();
  assert_int_equal(vigil__plat_gather(p, 30000), 0);
  assert_true(tu_now_us() - t0 >= 29000);
  assert_int_equal(vigil__plat_wake(p), 0);
  t0 = tu_now_us();
  assert_int_equal(vigil__plat_gather(p, 5000000), 1);
  assert_true(tu_now_us() - t0 < 1000000);
  assert_false(readable(vigil__plat_fd(p)));
}

/* vigil_fd is close-on-exec and non-blocking, on either layer. */
static void descriptors_are_cloexec(void **state) {
  vigil__plat *p = *state;
  int fd = vigil__plat_fd(p);
  assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  if (!is_linux_layer())
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK); /* the pipe's end is read by vigil */
}

/*
 * What vigil_fd means for a program that polls it (vigil.h): on Linux it
 * becomes readable for a change with no call of vigil running; on the
 * POSIX layer it does not, but it is readable after vigil_wake and while
 * events wait, and vigil_read's own wait sees the change.
 */
static void vigil_fd_on_this_layer(void **state) {
  (void)state;
  char dir[64], path[96];
  tu_tmpdir(dir, sizeof dir, "platform");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  int fd = vigil_fd(v);
  assert_false(readable(fd));
  /* vigil_wake makes it readable, and the read it makes return 0 takes that away. */
  assert_int_equal(vigil_wake(v), 0);
  assert_true(readable(fd));
  vigil_event ev;
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  assert_false(readable(fd));
  snprintf(path, sizeof path, "%s/a", dir);
  tu_write(path, "a");
  snprintf(path, sizeof path, "%s/b", dir);
  tu_write(path, "b");
  if (is_linux_layer()) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
  } else {
    /* The inotify descriptor has the records, but nothing has told the pipe. */
    usleep(20000);
    assert_false(readable(fd));
  }
  /* One event read, more queued: readable, on both layers, until all are read. */
  assert_int_equal(vigil_read(v, &ev, 5000), 1);
  assert_int_equal(ev.kind, VIGIL_CREATED);
  assert_true(readable(fd));
  int n = 1;
  while (vigil_read(v, &ev, 0) == 1)
    n++;
  assert_true(n >= 2);
  assert_false(readable(fd));
  vigil_close(v);
  tu_rm_tree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(wake_before_a_wait_ends_it_once, setup, teardown),
      cmocka_unit_test_setup_teardown(wake_from_a_signal_handler, setup, teardown),
      cmocka_unit_test_setup_teardown(wake_from_another_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(sources_are_reported_by_tag, setup, teardown),
      cmocka_unit_test_setup_teardown(timer_ends_a_wait_when_due, setup, teardown),
      cmocka_unit_test_setup_teardown(queue_level_on_vigil_fd, setup, teardown),
      cmocka_unit_test_setup_teardown(gather_ends_on_a_wake_or_runs_out, setup, teardown),
      cmocka_unit_test_setup_teardown(descriptors_are_cloexec, setup, teardown),
      cmocka_unit_test(vigil_fd_on_this_layer),
  };
  printf("platform layer: %s\n", vigil__plat_name);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
