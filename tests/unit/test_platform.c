/*
 * The platform layer (src/platform/), whichever one was built: the wake
 * (also from a signal handler, and kept across a change of the queue's
 * level), the sources and their tags, the timer, the queue's level on
 * vigil_fd, batching's gathering wait, close-on-exec; what vigil_fd
 * means on that layer; and that a program waiting by itself on
 * vigil_wait_fds, for no longer than vigil_timeout, misses nothing there
 * (include/vigil.h, "Waiting").
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
#include <stdlib.h>
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

/* The descriptors vigil_wait_fds lists, as a poll set. Returns how many. */
static nfds_t told_fds(vigil_t *v, struct pollfd *pf, nfds_t cap) {
  vigil_wait_fd fds[16];
  int n = vigil_wait_fds(v, fds, 16);
  assert_true(n >= 1 && n <= 16 && (nfds_t)n <= cap);
  for (int i = 0; i < n; i++) {
    assert_true(fds[i].events == VIGIL_WAIT_IN || fds[i].events == VIGIL_WAIT_PRI);
    pf[i] = (struct pollfd){.fd = fds[i].fd,
                            .events = fds[i].events == VIGIL_WAIT_IN ? POLLIN : POLLPRI};
  }
  return (nfds_t)n;
}

/*
 * Waits as a program with its own loop does: on vigil_wait_fds, for no
 * longer than vigil_timeout. Returns 1 when a descriptor became ready, 0
 * when vigil_timeout's time ran out, -1 when bound_ms ran out first (the
 * program would have slept through what it had to do). *timed, if given,
 * gets what vigil_timeout said.
 */
static int wait_as_told(vigil_t *v, int bound_ms, int *timed) {
  struct pollfd pf[16];
  nfds_t n = told_fds(v, pf, 16);
  int t;
  assert_int_equal(vigil_timeout(v, &t), 0);
  assert_true(t >= -1);
  if (timed)
    *timed = t;
  int w = t >= 0 && t < bound_ms ? t : bound_ms;
  int r;
  while ((r = poll(pf, n, w)) < 0 && errno == EINTR)
    ;
  assert_true(r >= 0);
  if (r > 0)
    return 1;
  return w == t ? 0 : -1;
}

/* Reads what is ready without blocking; returns the first event of kind, if any. */
static int read_ready(vigil_t *v, vigil_kind kind, char *path, size_t size) {
  vigil_event ev;
  int found = 0, r;
  while ((r = vigil_read(v, &ev, 0)) == 1)
    if (!found && ev.kind == kind) {
      found = 1;
      snprintf(path, size, "%s", ev.path);
    }
  assert_int_equal(r, 0);
  return found;
}

/*
 * What vigil_wait_fds lists: vigil_fd first, and on Linux nothing else
 * (the epoll descriptor holds every source and the timer); on the POSIX
 * layer also the backend's descriptor and the mount table's (POLLPRI).
 */
static void wait_fds_list_what_to_wait_on(void **state) {
  (void)state;
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  vigil_wait_fd fds[8];
  int n = vigil_wait_fds(v, fds, 8);
  assert_int_equal(vigil_wait_fds(v, NULL, 0), n);
  assert_int_equal(vigil_wait_fds(v, NULL, 1), -EINVAL);
  assert_int_equal(vigil_wait_fds(NULL, fds, 8), -EINVAL);
  assert_true(n >= 1);
  assert_int_equal(fds[0].fd, vigil_fd(v));
  assert_int_equal(fds[0].events, VIGIL_WAIT_IN);
  /* Too little room: the count is still the whole list's. */
  vigil_wait_fd one;
  assert_int_equal(vigil_wait_fds(v, &one, 1), n);
  assert_int_equal(one.fd, vigil_fd(v));
  int t = 99;
  assert_int_equal(vigil_timeout(v, &t), 0);
  assert_int_equal(t, -1); /* nothing is due */
  assert_int_equal(vigil_timeout(v, NULL), -EINVAL);
  if (is_linux_layer()) {
    assert_int_equal(n, 1);
  } else {
    int pri = 0;
    for (int i = 1; i < n; i++)
      pri += fds[i].events == VIGIL_WAIT_PRI;
    assert_true(n >= 2);
    assert_true(pri <= 1); /* the mount table, where there is one */
  }
  vigil_close(v);
}

static void *write_later(void *arg) {
  usleep(50000);
  tu_write(arg, "x");
  return NULL;
}

/*
 * A change made while the program waits on what vigil_wait_fds lists,
 * and nothing else: the wait ends, and a read that does not block has
 * the event. Before vigil_wait_fds, a program on the POSIX layer had
 * only vigil_fd, which a change does not make readable.
 */
static void a_change_ends_a_wait_on_the_listed_fds(void **state) {
  (void)state;
  char dir[64], path[96], got[160];
  tu_tmpdir(dir, sizeof dir, "platform");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  snprintf(path, sizeof path, "%s/new", dir);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, write_later, path), 0);
  int found = 0;
  int64_t until = tu_now_us() + 10000000;
  while (!found && tu_now_us() < until) {
    int w = wait_as_told(v, 5000, NULL);
    assert_int_not_equal(w, -1);
    found = read_ready(v, VIGIL_CREATED, got, sizeof got);
  }
  pthread_join(t, NULL);
  assert_true(found);
  assert_string_equal(got, path);
  vigil_close(v);
  tu_rm_tree(dir);
}

/*
 * A rename out of the tree is held back for its pair (move_wait_ms). No
 * descriptor says when the wait is over; vigil_timeout does, and the read
 * made when it runs out reports the entry removed. On Linux the timer is
 * in vigil_fd, so the timeout stays -1 and vigil_fd becomes readable.
 */
static void a_held_back_rename_is_settled_by_the_timeout(void **state) {
  (void)state;
  char dir[64], out[64], from[96], to[96], got[160];
  tu_tmpdir(dir, sizeof dir, "platform");
  tu_tmpdir(out, sizeof out, "platform-out");
  snprintf(from, sizeof from, "%s/f", dir);
  snprintf(to, sizeof to, "%s/f", out);
  tu_write(from, "x");
  vigil_options o;
  vigil_options_init(&o);
  o.move_wait_ms = 100;
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  assert_int_equal(rename(from, to), 0);
  int found = 0, by_timeout = 0, timed;
  int64_t until = tu_now_us() + 10000000;
  while (!found && tu_now_us() < until) {
    int w = wait_as_told(v, 5000, &timed);
    assert_int_not_equal(w, -1);
    if (is_linux_layer())
      assert_int_equal(timed, -1);
    by_timeout |= w == 0;
    found = read_ready(v, VIGIL_REMOVED, got, sizeof got);
  }
  assert_true(found);
  assert_string_equal(got, from);
  /* Only the timeout could tell the POSIX layer's caller that the wait was over. */
  if (!is_linux_layer())
    assert_true(by_timeout);
  vigil_close(v);
  tu_rm_tree(dir);
  tu_rm_tree(out);
}

/*
 * A backend with no descriptor, as one that polls: each read says when it
 * wants the next one. The program waiting on vigil_wait_fds is told when
 * (vigil_timeout on the POSIX layer, vigil_fd's timer on Linux), and its
 * read calls the backend's read again.
 */
static int nofd_reads;

static int nofd_open(void **state, int *fd, const vigil__backend_config *cfg) {
  (void)cfg;
  *state = &nofd_reads;
  *fd = -1;
  return 0;
}
static int nofd_watch(void *state, vigil__node *dir, int fd) {
  (void)state, (void)dir, (void)fd;
  return 0;
}
static void nofd_unwatch(void *state, vigil__node *dir) {
  (void)state, (void)dir;
}
static int nofd_read(void *state, vigil_t *v, size_t max_units, vigil__read_result *out) {
  (void)v, (void)max_units;
  (*(int *)state)++;
  out->wait_ms = 40;
  return 0;
}
static vigil__node *nofd_sharing(void *state, const vigil__node *dir, const vigil__node *after) {
  (void)state;
  return after ? NULL : (vigil__node *)dir;
}
static size_t nofd_zero(void *state) {
  (void)state;
  return 0;
}
static size_t nofd_discard(void *state, size_t max_units) {
  (void)state, (void)max_units;
  return 0;
}
static void nofd_flush(void *state, vigil_t *v) {
  (void)state, (void)v;
}
static void nofd_close(void *state) {
  (void)state;
}

static const vigil__backend nofd_backend = {
    .name = "nofd",
    .caps = VIGIL__CAP_DIR_CHANGED,
    .open = nofd_open,
    .watch = nofd_watch,
    .unwatch = nofd_unwatch,
    .read = nofd_read,
    .sharing = nofd_sharing,
    .watches = nofd_zero,
    .pending = nofd_zero,
    .discard = nofd_discard,
    .flush = nofd_flush,
    .close = nofd_close,
};

static void a_backend_without_a_descriptor_is_read_when_due(void **state) {
  (void)state;
  vigil_t *v;
  nofd_reads = 0;
  assert_int_equal(vigil__open_with(&v, NULL, &nofd_backend), 0);
  vigil_event ev;
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  int before = nofd_reads, timed;
  assert_true(before >= 1);
  int64_t t0 = tu_now_us();
  int w = wait_as_told(v, 5000, &timed);
  assert_int_not_equal(w, -1);
  if (is_linux_layer()) {
    assert_int_equal(timed, -1);
    assert_int_equal(w, 1); /* the timerfd in vigil_fd */
  } else {
    assert_true(timed >= 0 && timed <= 40);
    assert_int_equal(w, 0);
  }
  assert_true(tu_now_us() - t0 >= 30000);
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  assert_true(nofd_reads > before);
  vigil_close(v);
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
      cmocka_unit_test(wait_fds_list_what_to_wait_on),
      cmocka_unit_test(a_change_ends_a_wait_on_the_listed_fds),
      cmocka_unit_test(a_held_back_rename_is_settled_by_the_timeout),
      cmocka_unit_test(a_backend_without_a_descriptor_is_read_when_due),
  };
  printf("platform layer: %s\n", vigil__plat_name);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
