/*
 * vigil_drain: at a stop, every event already read or already queued in
 * the kernel is delivered, and nothing that arrives during the drain; the
 * time bound holds and what is left stays queued; the errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"

#define EARLY 50
#define LATE 20

typedef struct {
  char dir[64];
  vigil_t *v;
  int early[EARLY]; /* created events seen, per file */
  int late[LATE];
  int other;     /* created events for names we did not make */
  int make_late; /* the callback makes the late files on its first call */
  int calls;
} fixture;

static void make_file(const char *dir, const char *prefix, int i) {
  char name[64];
  snprintf(name, sizeof name, "%s%d", prefix, i);
  tu_write_at(dir, name, "x");
}

static void count(fixture *f, const vigil_event *ev) {
  if (ev->kind != VIGIL_CREATED)
    return;
  const char *base = strrchr(ev->path, '/');
  base = base ? base + 1 : ev->path;
  int i;
  if (sscanf(base, "early%d", &i) == 1 && i >= 0 && i < EARLY)
    f->early[i]++;
  else if (sscanf(base, "late%d", &i) == 1 && i >= 0 && i < LATE)
    f->late[i]++;
  else
    f->other++;
}

static void on_event(vigil_t *v, const vigil_event *ev, void *userdata) {
  (void)v;
  fixture *f = userdata;
  if (f->make_late && f->calls++ == 0)
    for (int i = 0; i < LATE; i++)
      make_file(f->dir, "late", i);
  count(f, ev);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir, sizeof f->dir, "drain");
  assert_int_equal(vigil_open(&f->v, NULL), 0);
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

/* Reads without blocking long until nothing more comes; counts into f. */
static void read_rest(fixture *f) {
  vigil_event ev;
  int r;
  while ((r = vigil_read(f->v, &ev, 200)) == 1)
    count(f, &ev);
  assert_int_equal(r, 0);
}

/*
 * Files made before the drain are all delivered by it, once; files the
 * callback makes during the drain are not, and come with a later read.
 */
static void test_drains_what_was_queued_and_nothing_later(void **state) {
  fixture *f = *state;
  for (int i = 0; i < EARLY; i++)
    make_file(f->dir, "early", i);
  f->make_late = 1;
  int n = vigil_drain(f->v, on_event, f, -1);
  assert_true(n >= EARLY);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 1);
  for (int i = 0; i < LATE; i++)
    assert_int_equal(f->late[i], 0);
  assert_int_equal(f->other, 0);
  read_rest(f);
  for (int i = 0; i < LATE; i++)
    assert_int_equal(f->late[i], 1);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 1);
}

/* Events already read into vigil's queue are drained too. */
static void test_drains_events_already_read(void **state) {
  fixture *f = *state;
  for (int i = 0; i < EARLY; i++)
    make_file(f->dir, "early", i);
  vigil_event ev;
  assert_int_equal(vigil_read(f->v, &ev, 1000), 1);
  count(f, &ev);
  assert_true(vigil_drain(f->v, on_event, f, -1) > 0);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 1);
  /* Nothing of them is left for a later read. */
  read_rest(f);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 1);
}

/* No time at all: nothing is delivered, and nothing is lost. */
static void test_no_time_leaves_everything_queued(void **state) {
  fixture *f = *state;
  for (int i = 0; i < EARLY; i++)
    make_file(f->dir, "early", i);
  assert_int_equal(vigil_drain(f->v, on_event, f, 0), 0);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 0);
  read_rest(f);
  for (int i = 0; i < EARLY; i++)
    assert_int_equal(f->early[i], 1);
}

static void on_nothing(vigil_t *v, const vigil_event *ev, void *userdata) {
  (void)v;
  (void)ev;
  (void)userdata;
}

static void test_errors(void **state) {
  fixture *f = *state;
  assert_int_equal(vigil_drain(NULL, on_event, f, -1), -EINVAL);
  assert_int_equal(vigil_drain(f->v, NULL, f, -1), -EINVAL);
  assert_int_equal(vigil_start(f->v, on_nothing, NULL), 0);
  assert_int_equal(vigil_drain(f->v, on_event, f, -1), VIGIL_EBUSY);
  assert_true(vigil_stop(f->v, 100) >= 0);
  /* Nothing to drain: 0. */
  assert_int_equal(vigil_drain(f->v, on_event, f, -1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_drains_what_was_queued_and_nothing_later, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_drains_events_already_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_time_leaves_everything_queued, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
