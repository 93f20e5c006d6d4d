/*
 * Batching in a storm (vigil_options.batch_us, vigil__wait): a change
 * after a quiet spell is not gathered, vigil_wake ends a gathering wait at
 * once, nothing gathered is lost, and batching can be turned off. The gathering time is set far
 * above the bounds checked here, so that each check fails clearly if the behaviour is missing
 * rather than by a hair on a slow machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"
#include "vigil.h"

#define LONG_BATCH_US 10000000 /* 10 s */
#define FILES 200

typedef struct {
  char dir[64];
  vigil_t *v;
  atomic_int created;    /* files the writer has made */
  atomic_int seen;       /* created events the reader has had */
  atomic_int woken;      /* the reader had a 0 from vigil_read */
  atomic_llong woken_at; /* when, in microseconds */
  atomic_int failed;     /* the reader's error, or 0 */
} fixture;

static void make_file(const char *dir, int i) {
  char name[32];
  snprintf(name, sizeof name, "f%d", i);
  tu_write_at(dir, name, "");
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir, sizeof f->dir, "batch");
  vigil_options o;
  vigil_options_init(&o);
  o.batch_us = LONG_BATCH_US;
  o.events = VIGIL_MASK(VIGIL_CREATED);
  assert_int_equal(vigil_open(&f->v, &o), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  vigil_close(f->v);
  assert_int_equal(tu_rm_tree(f->dir), 0);
  free(f);
  return 0;
}

/* Makes one file after 50 ms of quiet, well over the storm threshold. */
static void *late_writer(void *arg) {
  fixture *f = arg;
  struct timespec quiet = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
  nanosleep(&quiet, NULL);
  make_file(f->dir, 0);
  atomic_store(&f->woken_at, tu_now_us());
  return NULL;
}

/* A lone change after a quiet spell is read at once, not gathered. */
static void test_lone_change_not_delayed(void **state) {
  fixture *f = *state;
  vigil_event ev;
  assert_int_equal(vigil_read(f->v, &ev, 0), 0);
  pthread_t t;
  int64_t t0 = tu_now_us();
  assert_int_equal(pthread_create(&t, NULL, late_writer, f), 0);
  /* Blocked here before the file exists. */
  assert_int_equal(vigil_read(f->v, &ev, 5000), 1);
  int64_t got = tu_now_us();
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(ev.kind, VIGIL_CREATED);
  assert_true(got - t0 >= 50000);
  /* Gathered, it would have taken LONG_BATCH_US (or the 5 s timeout). */
  assert_true(got - atomic_load(&f->woken_at) < 2000000);
}

/* The reader: blocking reads until one returns 0 (woken). */
static void *reader(void *arg) {
  fixture *f = arg;
  vigil_event ev;
  for (;;) {
    int r = vigil_read(f->v, &ev, -1);
    if (r == 1) {
      if (ev.kind == VIGIL_CREATED)
        atomic_fetch_add(&f->seen, 1);
      continue;
    }
    if (r < 0)
      atomic_store(&f->failed, r); /* cmocka asserts only on its own thread */
    atomic_store(&f->woken_at, tu_now_us());
    atomic_store(&f->woken, 1);
    return NULL;
  }
}

/*
 * A gathering wait, made certain: the test makes every blocking wait that
 * the kernel ends count as a storm (vigil__wait's thresholds are fields of
 * the instance), so the reader, blocked when the first file appears,
 * gathers for LONG_BATCH_US. Meanwhile the files wait in the kernel
 * unread; vigil_wake ends the gathering wait at once; every file is then
 * delivered. What makes a storm by default is measured in bench/ (the
 * batching table of docs/benchmarks.md), not here.
 */
static void test_gathering_wait_ends_on_wake_and_loses_nothing(void **state) {
  fixture *f = *state;
  f->v->storm_records = 0;
  f->v->storm_wait_us = INT64_MAX;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, reader, f), 0);
  for (int i = 0; i < FILES; i++) {
    make_file(f->dir, i);
    atomic_fetch_add(&f->created, 1);
  }
  /* Give a reader that does not gather every chance to read them all. */
  usleep(200000);
  int seen = atomic_load(&f->seen);
  assert_false(atomic_load(&f->woken));
  assert_true(seen < FILES); /* the rest waits, gathered */

  int64_t woke = tu_now_us();
  assert_int_equal(vigil_wake(f->v), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(atomic_load(&f->woken));
  assert_int_equal(atomic_load(&f->failed), 0);
  assert_true(atomic_load(&f->woken_at) - woke < 2000000);

  /* Nothing gathered was lost: the rest comes without blocking long. */
  vigil_event ev;
  int64_t until = tu_now_us() + 5000000;
  while (atomic_load(&f->seen) < FILES && tu_now_us() < until) {
    int r = vigil_read(f->v, &ev, 0);
    assert_true(r >= 0);
    if (r == 1 && ev.kind == VIGIL_CREATED)
      atomic_fetch_add(&f->seen, 1);
  }
  assert_int_equal(atomic_load(&f->seen), FILES);
}

/* batch_us < 0: no gathering; the same paced storm is read as it comes. */
static void test_negative_turns_it_off(void **state) {
  fixture *f = *state;
  vigil_close(f->v);
  vigil_options o;
  vigil_options_init(&o);
  o.batch_us = -1;
  o.events = VIGIL_MASK(VIGIL_CREATED);
  assert_int_equal(vigil_open(&f->v, &o), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, reader, f), 0);
  for (int i = 0; i < FILES; i++) {
    make_file(f->dir, i);
    usleep(100);
  }
  int64_t until = tu_now_us() + 5000000;
  while (atomic_load(&f->seen) < FILES && tu_now_us() < until)
    usleep(1000);
  assert_int_equal(atomic_load(&f->seen), FILES);
  assert_int_equal(vigil_wake(f->v), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(atomic_load(&f->failed), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lone_change_not_delayed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gathering_wait_ends_on_wake_and_loses_nothing, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_negative_turns_it_off, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
