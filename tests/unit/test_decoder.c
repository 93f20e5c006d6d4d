/*
 * Unit tests of the inotify record decoder and rename pairing
 * (src/backend/inotify.c), fed with hand-made records as if read from the
 * descriptor, and checked through what vigil_read delivers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"
#include "backend/inotify.h"

typedef struct {
  char dir[64];
  vigil_t *v;
  int wd_top; /* the kernel's descriptor for the root */
  int wd_sub; /* and for root/sub */
  char buf[4096];
  size_t len;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  tu_tmpdir(f->dir, sizeof f->dir, "decoder");
  tu_mkdir_at(f->dir, "sub");
  tu_write_at(f->dir, "a", "");
  assert_int_equal(vigil_open(&f->v, NULL), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  vigil__root *r = f->v->roots;
  f->wd_top = vigil__node_slot(r->top)->num;
  vigil__node *s = vigil__tree_find(&f->v->tree, r->top, "sub", 3);
  assert_non_null(s);
  f->wd_sub = vigil__node_slot(s)->num;
  assert_true(f->wd_top > 0 && f->wd_sub > 0 && f->wd_top != f->wd_sub);
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

/* Appends one record, its name padded to a multiple of 16 as the kernel does. */
static void rec(fixture *f, int wd, uint32_t mask, uint32_t cookie, const char *name) {
  struct inotify_event e = {.wd = wd, .mask = mask, .cookie = cookie};
  size_t n = name ? strlen(name) + 1 : 0;
  e.len = (uint32_t)((n + 15) / 16 * 16);
  assert_true(f->len + sizeof e + e.len <= sizeof f->buf);
  memcpy(f->buf + f->len, &e, sizeof e);
  memset(f->buf + f->len + sizeof e, 0, e.len);
  if (name)
    memcpy(f->buf + f->len + sizeof e, name, n - 1);
  f->len += sizeof e + e.len;
}

static void feed(fixture *f) {
  vigil__inotify_decode(f->v->src[0].state, f->v, f->buf, f->len);
  f->len = 0;
}

/* The next event, or kind 0 when none comes within timeout_ms. */
static vigil_event next(fixture *f, int timeout_ms) {
  vigil_event ev = {0};
  int r = vigil_read(f->v, &ev, timeout_ms);
  assert_true(r >= 0);
  if (r == 0)
    ev.kind = 0;
  return ev;
}

static void expect(fixture *f, vigil_kind kind, const char *rel, const char *from_rel) {
  vigil_event ev = next(f, 200);
  assert_int_equal(ev.kind, kind);
  char want[256];
  snprintf(want, sizeof want, "%s/%s", f->dir, rel);
  assert_string_equal(ev.path, want);
  if (from_rel) {
    snprintf(want, sizeof want, "%s/%s", f->dir, from_rel);
    assert_string_equal(ev.from, want);
  } else {
    assert_null(ev.from);
  }
}

static void expect_nothing(fixture *f) {
  assert_int_equal(next(f, 30).kind, 0);
}

static void rename_pair_in_one_buffer(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MOVED_FROM, 7, "a");
  rec(f, f->wd_sub, IN_MOVED_TO, 7, "b");
  feed(f);
  expect(f, VIGIL_MOVED, "sub/b", "a");
  expect_nothing(f);
}

static void rename_pair_split_across_reads(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MOVED_FROM, 9, "a");
  feed(f);
  rec(f, f->wd_top, IN_MOVED_TO, 9, "c");
  feed(f);
  expect(f, VIGIL_MOVED, "c", "a");
  expect_nothing(f);
}

static void unpaired_source_is_a_move_out_after_the_wait(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MOVED_FROM, 11, "a");
  feed(f);
  /* Nothing else arrives: within the wait, "a" has left the tree. */
  expect(f, VIGIL_REMOVED, "a", NULL);
  expect_nothing(f);
}

static void unpaired_source_does_not_hold_back_the_next_record(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MOVED_FROM, 12, "a");
  rec(f, f->wd_top, IN_ATTRIB | IN_ISDIR, 0, "sub");
  feed(f);
  expect(f, VIGIL_REMOVED, "a", NULL);
  expect(f, VIGIL_ATTRIB, "sub", NULL);
}

static void mismatched_cookie_is_out_then_in(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "z", "");
  rec(f, f->wd_top, IN_MOVED_FROM, 1, "a");
  rec(f, f->wd_top, IN_MOVED_TO, 2, "z");
  feed(f);
  expect(f, VIGIL_REMOVED, "a", NULL);
  expect(f, VIGIL_CREATED, "z", NULL);
}

/* The next event is kind for rel, with exactly these flags. */
static void expect_flags(fixture *f, vigil_kind kind, const char *rel, unsigned flags) {
  vigil_event ev = next(f, 200);
  assert_int_equal(ev.kind, kind);
  char want[256];
  snprintf(want, sizeof want, "%s/%s", f->dir, rel);
  assert_string_equal(ev.path, want);
  assert_int_equal(ev.flags, flags);
}

static void moves_in_and_out_say_so_on_the_top_only(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "sub/inner", "");
  expect_flags(f, VIGIL_CREATED, "sub/inner", 0);
  expect_flags(f, VIGIL_CLOSED, "sub/inner", 0);
  /* sub (with inner) renamed away; z arrives from outside. */
  rec(f, f->wd_top, IN_MOVED_FROM | IN_ISDIR, 3, "sub");
  rec(f, f->wd_top, IN_MOVED_TO, 4, "z");
  feed(f);
  expect_flags(f, VIGIL_REMOVED, "sub/inner", 0);
  expect_flags(f, VIGIL_REMOVED, "sub", VIGIL_ISDIR | VIGIL_BY_MOVE);
  expect_flags(f, VIGIL_CREATED, "z", VIGIL_BY_MOVE);
  /* Plain deletes and creates do not carry it. */
  rec(f, f->wd_top, IN_DELETE, 0, "z");
  rec(f, f->wd_top, IN_CREATE, 0, "z");
  feed(f);
  expect_flags(f, VIGIL_REMOVED, "z", 0);
  expect_flags(f, VIGIL_CREATED, "z", 0);
  /* An unpaired source settled after the wait says so too. */
  rec(f, f->wd_top, IN_MOVED_FROM, 5, "a");
  feed(f);
  expect_flags(f, VIGIL_REMOVED, "a", VIGIL_BY_MOVE);
  expect_nothing(f);
}

static void a_paired_rename_is_one_moved_without_the_flag(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MOVED_FROM, 7, "a");
  rec(f, f->wd_sub, IN_MOVED_TO, 7, "b");
  feed(f);
  vigil_event ev = next(f, 200);
  assert_int_equal(ev.kind, VIGIL_MOVED);
  assert_int_equal(ev.flags, 0);
  expect_nothing(f);
}

static void create_of_a_known_entry_is_not_repeated(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_CREATE, 0, "a");
  rec(f, f->wd_top, IN_CREATE | IN_ISDIR, 0, "sub");
  feed(f);
  expect_nothing(f);
}

static void delete_of_an_unknown_entry_is_ignored(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_DELETE, 0, "never-existed");
  rec(f, 9999, IN_CREATE, 0, "unknown-descriptor");
  feed(f);
  expect_nothing(f);
}

static void modify_attrib_close_map_to_kinds(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MODIFY, 0, "a");
  rec(f, f->wd_top, IN_ATTRIB, 0, "a");
  rec(f, f->wd_top, IN_CLOSE_WRITE, 0, "a");
  feed(f);
  expect(f, VIGIL_MODIFIED, "a", NULL);
  expect(f, VIGIL_ATTRIB, "a", NULL);
  expect(f, VIGIL_CLOSED, "a", NULL);
}

static void repeated_modify_is_merged(void **state) {
  fixture *f = *state;
  for (int i = 0; i < 5; i++)
    rec(f, f->wd_top, IN_MODIFY, 0, "a");
  feed(f);
  expect(f, VIGIL_MODIFIED, "a", NULL);
  expect_nothing(f);
}

static void sub_directory_self_events_are_left_to_the_parent(void **state) {
  fixture *f = *state;
  rec(f, f->wd_sub, IN_ATTRIB | IN_ISDIR, 0, NULL);
  rec(f, f->wd_sub, IN_DELETE_SELF, 0, NULL);
  feed(f);
  expect_nothing(f);
}

static void ignored_watch_below_the_top_waits_for_the_parent(void **state) {
  fixture *f = *state;
  vigil_stats st;
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  size_t before = st.watches;
  rec(f, f->wd_sub, IN_IGNORED, 0, NULL);
  rec(f, f->wd_top, IN_DELETE | IN_ISDIR, 0, "sub");
  feed(f);
  expect(f, VIGIL_REMOVED, "sub", NULL);
  expect_nothing(f);
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.watches, before - 1);
}

static void overflow_reports_and_rescans(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "new-during-overflow", "");
  rec(f, -1, IN_Q_OVERFLOW, 0, NULL);
  feed(f);
  vigil_event ev = next(f, 200);
  assert_int_equal(ev.kind, VIGIL_OVERFLOW);
  assert_null(ev.path);
  int created = 0;
  while ((ev = next(f, 50)).kind) {
    if (ev.kind == VIGIL_CREATED && strstr(ev.path, "new-during-overflow")) {
      assert_true(ev.flags & VIGIL_SYNTHETIC);
      created++;
    }
  }
  assert_int_equal(created, 1);
}

static void root_deleted_reports_contents_then_root(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_DELETE_SELF, 0, NULL);
  feed(f);
  int removed = 0;
  vigil_event ev;
  while ((ev = next(f, 50)).kind) {
    assert_int_equal(ev.kind, VIGIL_REMOVED);
    removed++;
    if (strcmp(ev.path, f->dir) == 0)
      break;
  }
  assert_int_equal(removed, 3); /* a, sub, then the root itself */
  vigil_stats st;
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 0);
}

static void truncated_and_malformed_buffers_are_harmless(void **state) {
  fixture *f = *state;
  rec(f, f->wd_top, IN_MODIFY, 0, "a");
  /* A record whose length runs past the end of the buffer. */
  struct inotify_event e = {.wd = f->wd_top, .mask = IN_CREATE, .len = 4000};
  memcpy(f->buf + f->len, &e, sizeof e);
  f->len += sizeof e + 8;
  feed(f);
  expect(f, VIGIL_MODIFIED, "a", NULL);
  expect_nothing(f);
  /* A name with no terminating NUL inside its record. */
  rec(f, f->wd_top, IN_CREATE, 0, "0123456789abcde");
  memset(f->buf + sizeof e, 'x', 16);
  feed(f);
  expect_nothing(f);
  /* Half a header. */
  vigil__inotify_decode(f->v->src[0].state, f->v, (const char *)&e, sizeof e / 2);
  expect_nothing(f);
}

/* Swaps dir/a and dir/b on disk, as renameat2(RENAME_EXCHANGE) does. */
static void exchange_on_disk(fixture *f, const char *a, const char *b) {
  char pa[256], pb[256];
  snprintf(pa, sizeof pa, "%s/%s", f->dir, a);
  snprintf(pb, sizeof pb, "%s/%s", f->dir, b);
  assert_int_equal(renameat2(AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE), 0);
  /* The kernel's own records of it are dropped: the test feeds its own. */
  vigil_t *v = f->v;
  v->src[0].be->discard(v->src[0].state, v->src[0].be->pending(v->src[0].state));
}

/* The kernel's records of an exchange of the file a and the directory sub. */
static void exchange_records(fixture *f, int between) {
  rec(f, f->wd_top, IN_MOVED_FROM, 21, "a");
  rec(f, f->wd_top, IN_MOVED_TO, 21, "sub");
  if (between)
    rec(f, f->wd_top, IN_ATTRIB, 0, "unrelated");
  rec(f, f->wd_top, IN_MOVED_FROM | IN_ISDIR, 22, "sub");
  rec(f, f->wd_top, IN_MOVED_TO | IN_ISDIR, 22, "a");
  rec(f, f->wd_sub, IN_MOVE_SELF, 0, NULL);
}

static void exchange_is_moved_then_created(void **state) {
  fixture *f = *state;
  exchange_on_disk(f, "a", "sub");
  exchange_records(f, 0);
  feed(f);
  expect(f, VIGIL_MOVED, "sub", "a");
  expect_flags(f, VIGIL_CREATED, "a", VIGIL_ISDIR | VIGIL_BY_MOVE);
  expect_nothing(f);
  /* The directory kept its watch, and it is now a. */
  rec(f, f->wd_sub, IN_CREATE, 0, "x");
  feed(f);
  expect(f, VIGIL_CREATED, "a/x", NULL);
  expect_nothing(f);
}

static void exchange_with_a_record_between_asks_for_a_rescan(void **state) {
  fixture *f = *state;
  exchange_on_disk(f, "a", "sub");
  exchange_records(f, 1);
  feed(f);
  expect(f, VIGIL_MOVED, "sub", "a");
  expect(f, VIGIL_MOVED, "a", "sub");
  vigil_event ev = next(f, 200);
  assert_int_equal(ev.kind, VIGIL_OVERFLOW);
}

static void renames_there_and_back_are_no_exchange(void **state) {
  fixture *f = *state;
  /* On disk, a is back where it was and b is gone. */
  rec(f, f->wd_top, IN_MOVED_FROM, 31, "a");
  rec(f, f->wd_top, IN_MOVED_TO, 31, "b");
  rec(f, f->wd_top, IN_MOVED_FROM, 32, "b");
  rec(f, f->wd_top, IN_MOVED_TO, 32, "a");
  feed(f);
  expect(f, VIGIL_MOVED, "b", "a");
  expect(f, VIGIL_MOVED, "a", "b");
  expect_nothing(f);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(rename_pair_in_one_buffer),
      T(rename_pair_split_across_reads),
      T(unpaired_source_is_a_move_out_after_the_wait),
      T(unpaired_source_does_not_hold_back_the_next_record),
      T(mismatched_cookie_is_out_then_in),
      T(moves_in_and_out_say_so_on_the_top_only),
      T(a_paired_rename_is_one_moved_without_the_flag),
      T(create_of_a_known_entry_is_not_repeated),
      T(delete_of_an_unknown_entry_is_ignored),
      T(modify_attrib_close_map_to_kinds),
      T(repeated_modify_is_merged),
      T(sub_directory_self_events_are_left_to_the_parent),
      T(ignored_watch_below_the_top_waits_for_the_parent),
      T(overflow_reports_and_rescans),
      T(root_deleted_reports_contents_then_root),
      T(truncated_and_malformed_buffers_are_harmless),
      T(exchange_is_moved_then_created),
      T(exchange_with_a_record_between_asks_for_a_rescan),
      T(renames_there_and_back_are_no_exchange),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
