/*
 * The API's room to grow: vigil_options set up by vigil_options_init and
 * read up to its size (an older, smaller struct gets the defaults of what
 * it lacks; a newer, larger one is accepted only if what the library does
 * not know is zero), vigil_get_stats filling only the caller's size,
 * vigil_version agreeing with the header, VIGIL_MASK, and the choice of
 * backend (vigil_options.backend, vigil_backend_name, vigil_root_backend,
 * vigil_root_fallback).
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
#include "instance.h"

#define GARBAGE 0xa5

/* Does every byte of p[from, to) still hold GARBAGE? */
static int untouched(const void *p, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    if (((const unsigned char *)p)[i] != GARBAGE)
      return 0;
  return 1;
}

static void test_init_sets_size_and_defaults(void **state) {
  (void)state;
  vigil_options o;
  memset(&o, GARBAGE, sizeof o);
  assert_int_equal(vigil_options_init(&o), 0);
  assert_int_equal(o.size, sizeof o);
  assert_null(o.exclude);
  assert_int_equal(o.exclude_count, 0);
  assert_int_equal(o.events, 0);
  assert_int_equal(o.move_wait_ms, 0);
  assert_int_equal(o.batch_us, 0);
  assert_null(o.ignore_file);
  assert_null(o.progress);
  assert_null(o.progress_userdata);
  assert_null(o.backend);
  assert_int_equal(o.poll_interval_ms, 0);

  /* The defaults the zeros stand for are the ones of no options at all. */
  vigil_t *v, *d;
  assert_int_equal(vigil_open(&v, &o), 0);
  assert_int_equal(vigil_open(&d, NULL), 0);
  assert_int_equal(v->events, VIGIL_KINDS_DEFAULT);
  assert_int_equal(v->move_wait_ms, 10);
  assert_int_equal(v->batch_us, VIGIL__BATCH_US);
  assert_null(v->ignore_file);
  assert_null(v->filter);
  assert_int_equal(v->events, d->events);
  assert_int_equal(v->move_wait_ms, d->move_wait_ms);
  assert_int_equal(v->batch_us, d->batch_us);
  vigil_close(v);
  vigil_close(d);
}

/*
 * An older program's struct ends earlier. The library must write and read
 * only that many bytes, and give what lies beyond the defaults: here the
 * bytes after the struct are garbage, which must not become batch_us or
 * an ignore file name.
 */
static void test_older_smaller_options_accepted(void **state) {
  (void)state;
  size_t older = offsetof(vigil_options, batch_us); /* ends after move_wait_ms */
  vigil_options o;
  memset(&o, GARBAGE, sizeof o);
  assert_int_equal(vigil_options_init_sized(&o, older), 0);
  assert_int_equal(o.size, older);
  assert_true(untouched(&o, older, sizeof o));
  o.move_wait_ms = 33;
  o.events = VIGIL_MASK(VIGIL_CREATED);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  assert_int_equal(v->move_wait_ms, 33);
  assert_int_equal(v->events, VIGIL_MASK(VIGIL_CREATED));
  assert_int_equal(v->batch_us, VIGIL__BATCH_US);
  assert_null(v->ignore_file);
  assert_null(v->progress);
  vigil_close(v);

  /* Exactly that many bytes allocated: AddressSanitizer sees any read past them. */
  vigil_options *small = malloc(older);
  assert_non_null(small);
  assert_int_equal(vigil_options_init_sized(small, older), 0);
  assert_int_equal(vigil_open(&v, small), 0);
  vigil_close(v);
  free(small);
}

static void test_bad_size_rejected(void **state) {
  (void)state;
  vigil_t *v = (vigil_t *)&v;
  vigil_options o;

  /* Options not set up by vigil_options_init, as 0.1 programs wrote them. */
  memset(&o, 0, sizeof o);
  o.batch_us = 1000;
  assert_int_equal(vigil_open(&v, &o), VIGIL_EOPTIONS);
  assert_null(v);

  /* Sizes that end inside a field, or inside the size itself. */
  size_t bad[] = {1, sizeof(size_t) - 1, offsetof(vigil_options, batch_us) + 1, sizeof o - 1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(vigil_options_init_sized(&o, bad[i]), VIGIL_EOPTIONS);
    vigil_options_init(&o);
    o.size = bad[i];
    assert_int_equal(vigil_open(&v, &o), VIGIL_EOPTIONS);
  }
  assert_int_equal(vigil_options_init_sized(NULL, sizeof o), -EINVAL);
  assert_string_equal(vigil_strerror(VIGIL_EOPTIONS),
                      "vigil_options has a size this library does not know, or sets options it "
                      "lacks: set it up with vigil_options_init, and build with the vigil.h of "
                      "this library");
}

/*
 * A newer program's struct is larger. The fields this library lacks must
 * be zero: a request it would silently ignore is refused instead.
 */
static void test_newer_larger_options(void **state) {
  (void)state;
  struct {
    vigil_options o;
    size_t newer[2];
  } n;
  memset(&n, GARBAGE, sizeof n);
  assert_int_equal(vigil_options_init_sized(&n.o, sizeof n), 0);
  assert_int_equal(n.o.size, sizeof n);
  assert_int_equal(n.newer[0], 0);
  assert_int_equal(n.newer[1], 0);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &n.o), 0);
  vigil_close(v);
  n.newer[1] = 1;
  assert_int_equal(vigil_open(&v, &n.o), VIGIL_EOPTIONS);
}

static void test_stats_fill_only_the_callers_size(void **state) {
  (void)state;
  char dir[64];
  tu_tmpdir(dir, sizeof dir, "api");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);

  vigil_stats full;
  assert_int_equal(vigil_get_stats(v, &full, sizeof full), 0);
  assert_int_equal(full.roots, 1);
  assert_int_equal(full.dirs, 1);
  assert_int_equal(full.watches, 1);
  assert_int_equal(full.polled, 0); /* a local directory: inotify */

  /* An older struct that ends before watches. */
  size_t older = offsetof(vigil_stats, watches);
  vigil_stats st;
  memset(&st, GARBAGE, sizeof st);
  assert_int_equal(vigil_get_stats(v, &st, older), 0);
  assert_int_equal(st.roots, full.roots);
  assert_int_equal(st.dirs, full.dirs);
  assert_int_equal(st.entries, full.entries);
  assert_true(untouched(&st, older, sizeof st));

  /* A newer struct: the counters this library does not keep read 0. */
  struct {
    vigil_stats s;
    size_t newer;
  } n;
  memset(&n, GARBAGE, sizeof n);
  assert_int_equal(vigil_get_stats(v, &n.s, sizeof n), 0);
  assert_int_equal(n.s.watches, full.watches);
  assert_int_equal(n.s.add_watches, full.add_watches);
  assert_int_equal(n.s.polled, full.polled);
  assert_int_equal(n.newer, 0);

  memset(&st, GARBAGE, sizeof st);
  assert_int_equal(vigil_get_stats(v, &st, 0), -EINVAL);
  assert_int_equal(vigil_get_stats(v, &st, sizeof(size_t) + 1), -EINVAL);
  assert_true(untouched(&st, 0, sizeof st));

  vigil_close(v);
  assert_int_equal(tu_rm_tree(dir), 0);
}

static void test_version_matches_header(void **state) {
  (void)state;
  assert_int_equal(vigil_version(), VIGIL_VERSION);
  assert_int_equal(vigil_version() >> 16, VIGIL_VERSION_MAJOR);
  assert_int_equal((vigil_version() >> 8) & 0xff, VIGIL_VERSION_MINOR);
  assert_int_equal(vigil_version() & 0xff, VIGIL_VERSION_PATCH);
  assert_string_equal(vigil_version_string(), VIGIL_VERSION_STRING);
  char s[32];
  snprintf(s, sizeof s, "%d.%d.%d", VIGIL_VERSION_MAJOR, VIGIL_VERSION_MINOR, VIGIL_VERSION_PATCH);
  assert_string_equal(vigil_version_string(), s);
}

/* VIGIL_MASK selects kinds: only the removal of a file made and removed is delivered. */
static void test_mask_selects_kinds(void **state) {
  (void)state;
  for (int k = VIGIL_CREATED; k <= VIGIL_KIND_MAX; k++)
    assert_int_equal(VIGIL_MASK(k), 1u << k);
  char dir[64];
  tu_tmpdir(dir, sizeof dir, "api");
  vigil_options o;
  vigil_options_init(&o);
  o.events = VIGIL_MASK(VIGIL_REMOVED);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  assert_int_equal(vigil_add(v, dir, 0), 0);
  char p[96];
  snprintf(p, sizeof p, "%s/f", dir);
  tu_write(p, "x");
  assert_int_equal(unlink(p), 0);
  vigil_event ev;
  assert_int_equal(vigil_read(v, &ev, 5000), 1);
  assert_int_equal(ev.kind, VIGIL_REMOVED);
  assert_string_equal(ev.path, p);
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  vigil_close(v);
  assert_int_equal(tu_rm_tree(dir), 0);
}

static void test_backend_choice(void **state) {
  (void)state;
  assert_string_equal(vigil_backend_name(0), "inotify");
  assert_string_equal(vigil_backend_name(1), "poll");
  assert_null(vigil_backend_name(2));

  char dir[64];
  tu_tmpdir(dir, sizeof dir, "api");
  const char *choices[] = {NULL, "auto", "inotify"};
  for (size_t i = 0; i < sizeof choices / sizeof choices[0]; i++) {
    vigil_options o;
    vigil_options_init(&o);
    o.backend = choices[i];
    vigil_t *v;
    assert_int_equal(vigil_open(&v, &o), 0);
    assert_int_equal(vigil_add(v, dir, 0), 0);
    const char *name = NULL;
    assert_int_equal(vigil_root_backend(v, dir, &name), 0);
    assert_string_equal(name, "inotify");
    assert_int_equal(vigil_root_backend(v, "/not/a/root", &name), VIGIL_ENOTROOT);
    assert_int_equal(vigil_root_backend(v, dir, NULL), -EINVAL);
    assert_int_equal(vigil_root_backend(v, NULL, &name), -EINVAL);
    /* A local directory: inotify by choice, not for want of it. */
    int why = -1;
    assert_int_equal(vigil_root_fallback(v, dir, &why), 0);
    assert_int_equal(why, 0);
    assert_int_equal(vigil_root_fallback(v, "/not/a/root", &why), VIGIL_ENOTROOT);
    assert_int_equal(vigil_root_fallback(v, dir, NULL), -EINVAL);
    assert_int_equal(vigil_root_fallback(NULL, dir, &why), -EINVAL);
    assert_int_equal(vigil_remove(v, dir), 0);
    assert_int_equal(vigil_root_backend(v, dir, &name), VIGIL_ENOTROOT);
    vigil_close(v);
  }
  /* Polling, chosen by name, with its interval. */
  vigil_options po;
  vigil_options_init(&po);
  po.backend = "poll";
  po.poll_interval_ms = 20;
  vigil_t *pv;
  assert_int_equal(vigil_open(&pv, &po), 0);
  assert_int_equal(vigil_add(pv, dir, 0), 0);
  const char *name = NULL;
  assert_int_equal(vigil_root_backend(pv, dir, &name), 0);
  assert_string_equal(name, "poll");
  char p[96];
  snprintf(p, sizeof p, "%s/f", dir);
  tu_write(p, "x");
  vigil_event ev;
  assert_int_equal(vigil_read(pv, &ev, 5000), 1);
  assert_int_equal(ev.kind, VIGIL_CREATED);
  assert_string_equal(ev.path, p);
  assert_true(ev.flags & VIGIL_SYNTHETIC);
  vigil_close(pv);
  assert_int_equal(tu_rm_tree(dir), 0);

  /* A name that is not built in, including a near miss, fails the open. */
  const char *unknown[] = {"", "fanotify", "INOTIFY", "inotify ", "POLL"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    vigil_options o;
    vigil_options_init(&o);
    o.backend = unknown[i];
    vigil_t *v = (vigil_t *)&v;
    assert_int_equal(vigil_open(&v, &o), VIGIL_ENOBACKEND);
    assert_null(v);
  }
  assert_string_equal(vigil_strerror(VIGIL_ENOBACKEND),
                      "no backend of that name is built in (vigil_backend_name lists those that "
                      "are)");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_sets_size_and_defaults),
      cmocka_unit_test(test_older_smaller_options_accepted),
      cmocka_unit_test(test_bad_size_rejected),
      cmocka_unit_test(test_newer_larger_options),
      cmocka_unit_test(test_stats_fill_only_the_callers_size),
      cmocka_unit_test(test_version_matches_header),
      cmocka_unit_test(test_mask_selects_kinds),
      cmocka_unit_test(test_backend_choice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
