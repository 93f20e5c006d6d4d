/*
 * Mounts through the library's own descriptors: a mount over a watched
 * directory makes vigil_fd readable even when the caller's poll of it is
 * what takes the kernel's news, reaches the thread of vigil_start, and is
 * delivered by vigil_drain. Each check runs in a forked child inside a
 * private mount namespace (a user namespace too when not root); where the
 * kernel allows neither, the test is skipped and says why.
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
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"
#include "platform/platform.h"

/* A private mount namespace, entered as root or through a user namespace. */
static int enter_mount_ns(void) {
  if (unshare(CLONE_NEWNS) < 0) {
    int rc = tu_enter_userns(CLONE_NEWNS);
    if (rc < 0) {
      dprintf(2, "skipped: cannot enter a mount namespace: %s\n", strerror(-rc));
      return -1;
    }
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
    dprintf(2, "skipped: cannot make the mounts private: %s\n", strerror(errno));
    return -1;
  }
  return 0;
}

static char top[64], sub[96], hidden[128], shown[128];

static int mount_over_sub(void) {
  if (mount("vigiltest", sub, "tmpfs", 0, "size=64k") < 0)
    return -1;
  int fd = open(shown, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0)
    close(fd);
  return fd >= 0 ? 0 : -1;
}

/* Runs fn in a forked child in its own mount namespace. */
static void in_namespace(int (*fn)(void)) {
  strcpy(top, "/tmp/vigil-mounts-XXXXXX");
  assert_non_null(mkdtemp(top));
  snprintf(sub, sizeof sub, "%s/sub", top);
  snprintf(hidden, sizeof hidden, "%s/hidden", sub);
  snprintf(shown, sizeof shown, "%s/shown", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  int fd = open(hidden, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  close(fd);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(enter_mount_ns() < 0 ? TU_SKIP : fn());
  int status = tu_reap(pid);
  unlink(hidden);
  rmdir(sub);
  rmdir(top);
  tu_child_verdict(status);
}

/* What a mount over sub must report: hidden removed, then shown created. */
typedef struct {
  int removed, created, other;
} seen;

static void note(seen *s, const vigil_event *ev) {
  if (ev->kind == VIGIL_REMOVED && strcmp(ev->path, hidden) == 0 && !s->created)
    s->removed++;
  else if (ev->kind == VIGIL_CREATED && strcmp(ev->path, shown) == 0)
    s->created++;
  else if (ev->kind == VIGIL_OVERFLOW || ev->kind == VIGIL_ERROR || ev->kind == VIGIL_REMOVED ||
           ev->kind == VIGIL_CREATED)
    s->other++;
}

static vigil_t *watch_top(void) {
  vigil_t *v;
  if (vigil_open(&v, NULL) < 0)
    return NULL;
  if (vigil_add(v, top, 0) < 0) {
    vigil_close(v);
    return NULL;
  }
  return v;
}

static int fd_wakes_child(void) {
  vigil_t *v = watch_top();
  TU_CHILD_CHECK(v);
  TU_CHILD_CHECK(mount_over_sub() == 0);
  /* The caller's poll takes the kernel's news; vigil_read must not need it. */
  seen s = {0};
  struct pollfd p = {.fd = vigil_fd(v), .events = POLLIN};
  for (int i = 0; i < 100 && !s.created; i++) {
    TU_CHILD_CHECK(poll(&p, 1, 5000) == 1);
    vigil_event ev;
    while (vigil_read(v, &ev, 0) == 1)
      note(&s, &ev);
  }
  TU_CHILD_CHECK(s.removed == 1 && s.created == 1 && s.other == 0);
  vigil_close(v);
  return 0;
}

static void vigil_fd_wakes_on_a_mount(void **state) {
  (void)state;
  if (strcmp(vigil__plat_name, "posix") == 0) {
    /* test_platform.c checks what vigil_fd means there instead. */
    print_message("skipped: on the POSIX platform layer vigil_fd does not follow the sources\n");
    skip();
  }
  in_namespace(fd_wakes_child);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void on_event(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  pthread_mutex_lock(&lock);
  note(ud, ev);
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&lock);
}

static int thread_child(void) {
  vigil_t *v = watch_top();
  TU_CHILD_CHECK(v);
  seen s = {0};
  TU_CHILD_CHECK(vigil_start(v, on_event, &s) == 0);
  TU_CHILD_CHECK(mount_over_sub() == 0);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&lock);
  while (!s.created && pthread_cond_timedwait(&cond, &lock, &until) == 0)
    ;
  seen got = s;
  pthread_mutex_unlock(&lock);
  TU_CHILD_CHECK(vigil_stop(v, 1000) == 0);
  TU_CHILD_CHECK(got.removed == 1 && got.created == 1 && got.other == 0);
  vigil_close(v);
  return 0;
}

static void the_thread_sees_a_mount(void **state) {
  (void)state;
  in_namespace(thread_child);
}

static void drain_note(vigil_t *v, const vigil_event *ev, void *ud) {
  (void)v;
  note(ud, ev);
}

static int drain_child(void) {
  vigil_t *v = watch_top();
  TU_CHILD_CHECK(v);
  TU_CHILD_CHECK(mount_over_sub() == 0);
  /* Made before the drain: it is delivered, like a record already queued. */
  seen s = {0};
  TU_CHILD_CHECK(vigil_drain(v, drain_note, &s, 5000) >= 2);
  TU_CHILD_CHECK(s.removed == 1 && s.created == 1 && s.other == 0);
  vigil_close(v);
  return 0;
}

static void the_drain_delivers_a_mount_made_before_it(void **state) {
  (void)state;
  in_namespace(drain_child);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vigil_fd_wakes_on_a_mount),
      cmocka_unit_test(the_thread_sees_a_mount),
      cmocka_unit_test(the_drain_delivers_a_mount_made_before_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
