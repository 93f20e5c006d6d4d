/*
 * Unit tests of the kinds that must be asked for (VIGIL_OPENED,
 * VIGIL_CLOSED_NOWRITE): their names, the kernel mask they need (read
 * back from /proc/self/fdinfo of the inotify descriptor), and what a real
 * directory delivers with and without them in the mask. Each wait ends on
 * a sentinel event, never on a sleep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"

typedef struct {
  char dir[64];
  vigil_t *v;
} fixture;

static void path_of(const fixture *f, const char *rel, char *out, size_t size) {
  snprintf(out, size, "%s/%s", f->dir, rel);
}

static void make_file(const fixture *f, const char *rel) {
  tu_write_at(f->dir, rel, "x");
}

/* Opens rel read-only, reads a byte and closes it. */
static void read_file(const fixture *f, const char *rel) {
  char p[256], c;
  path_of(f, rel, p, sizeof p);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, &c, 1), 1);
  close(fd);
}

static fixture *open_with(unsigned events) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir, sizeof f->dir, "kinds");
  tu_mkdir_at(f->dir, "sub");
  make_file(f, "a");
  vigil_options opt;
  vigil_options_init(&opt);
  opt.events = events;
  assert_int_equal(vigil_open(&f->v, &opt), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  return f;
}

static void close_fixture(fixture *f) {
  vigil_close(f->v);
  assert_int_equal(tu_rm_tree(f->dir), 0);
  free(f);
}

/* The next event; fails when none comes within 2 s. */
static vigil_event next(fixture *f) {
  vigil_event ev = {0};
  assert_int_equal(vigil_read(f->v, &ev, 2000), 1);
  return ev;
}

static void expect(fixture *f, vigil_kind kind, const char *rel) {
  vigil_event ev = next(f);
  char want[256];
  path_of(f, rel, want, sizeof want);
  if (ev.kind != kind || strcmp(ev.path, want) != 0)
    fail_msg("expected %s %s, got %s %s", vigil_kind_name(kind), want,
             vigil_kind_name(ev.kind) ? vigil_kind_name(ev.kind) : "?", ev.path ? ev.path : "");
}

/*
 * The inotify watch masks that the instance's descriptor holds: the bits
 * of every one in *all, the bits of any one returned.
 */
static unsigned long kernel_masks(const fixture *f, int *watches, unsigned long *all_of) {
  char p[64], line[512];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", f->v->src[0].fd);
  FILE *in = fopen(p, "re");
  assert_non_null(in);
  unsigned long all = 0;
  *all_of = ~0ul;
  *watches = 0;
  while (fgets(line, sizeof line, in)) {
    const char *m = strstr(line, " mask:");
    if (strncmp(line, "inotify ", 8) != 0 || !m)
      continue;
    unsigned long one = strtoul(m + 6, NULL, 16);
    all |= one;
    *all_of &= one;
    ++*watches;
  }
  fclose(in);
  return all;
}

static void names_round_trip(void **state) {
  (void)state;
  assert_int_equal(VIGIL_OPENED, VIGIL_ERROR + 1);
  assert_int_equal(VIGIL_CLOSED_NOWRITE, VIGIL_ERROR + 2);
  assert_int_equal(VIGIL_KIND_MAX, VIGIL_CLOSED_NOWRITE);
  assert_string_equal(vigil_kind_name(VIGIL_OPENED), "opened");
  assert_string_equal(vigil_kind_name(VIGIL_CLOSED_NOWRITE), "closed_nowrite");
  for (int k = VIGIL_CREATED; k <= VIGIL_KIND_MAX; k++)
    assert_int_equal(vigil_kind_parse(vigil_kind_name((vigil_kind)k)), k);
  assert_null(vigil_kind_name((vigil_kind)(VIGIL_KIND_MAX + 1)));
  assert_int_equal(vigil_kind_parse("closed-nowrite"), 0);
  /* The default is every older kind, and neither of the costly two. */
  for (int k = VIGIL_CREATED; k <= VIGIL_ERROR; k++)
    assert_true(VIGIL_KINDS_DEFAULT & (1u << k));
  assert_false(VIGIL_KINDS_DEFAULT & (1u << VIGIL_OPENED));
  assert_false(VIGIL_KINDS_DEFAULT & (1u << VIGIL_CLOSED_NOWRITE));
  assert_false(VIGIL_KINDS_DEFAULT & 1u);
}

static void default_mask_asks_the_kernel_for_no_opens(void **state) {
  (void)state;
  fixture *f = open_with(0);
  int watches;
  unsigned long every;
  unsigned long m = kernel_masks(f, &watches, &every);
  assert_int_equal(watches, 2);
  assert_false(m & IN_OPEN);
  assert_false(m & IN_CLOSE_NOWRITE);
  assert_true(every & IN_CLOSE_WRITE);
  close_fixture(f);
}

static void each_costly_kind_adds_only_its_own_bit(void **state) {
  (void)state;
  fixture *f = open_with(1u << VIGIL_OPENED);
  int watches;
  unsigned long every;
  unsigned long m = kernel_masks(f, &watches, &every);
  assert_int_equal(watches, 2);
  assert_true(every & IN_OPEN);
  assert_false(m & IN_CLOSE_NOWRITE);
  close_fixture(f);
  f = open_with((1u << VIGIL_CLOSED_NOWRITE) | (1u << VIGIL_CREATED));
  m = kernel_masks(f, &watches, &every);
  assert_false(m & IN_OPEN);
  assert_true(every & IN_CLOSE_NOWRITE);
  /* A directory made later gets the same mask. */
  char p[256];
  path_of(f, "later", p, sizeof p);
  assert_int_equal(mkdir(p, 0755), 0);
  expect(f, VIGIL_CREATED, "later");
  m = kernel_masks(f, &watches, &every);
  assert_int_equal(watches, 3);
  assert_false(m & IN_OPEN);
  assert_true(every & IN_CLOSE_NOWRITE);
  close_fixture(f);
}

static void default_mask_reports_no_read(void **state) {
  (void)state;
  fixture *f = open_with(0);
  read_file(f, "a");
  read_file(f, "sub/../a");
  make_file(f, "sentinel");
  /* The reads are absent: the first events are the sentinel's. */
  expect(f, VIGIL_CREATED, "sentinel");
  expect(f, VIGIL_MODIFIED, "sentinel");
  expect(f, VIGIL_CLOSED, "sentinel");
  close_fixture(f);
}

static void opened_and_closed_nowrite_in_order(void **state) {
  (void)state;
  unsigned all = VIGIL_KINDS_DEFAULT | (1u << VIGIL_OPENED) | (1u << VIGIL_CLOSED_NOWRITE);
  fixture *f = open_with(all);
  read_file(f, "a");
  expect(f, VIGIL_OPENED, "a");
  expect(f, VIGIL_CLOSED_NOWRITE, "a");
  /* A write is opened ... closed, never closed_nowrite. */
  make_file(f, "sub/b");
  expect(f, VIGIL_CREATED, "sub/b");
  expect(f, VIGIL_OPENED, "sub/b");
  expect(f, VIGIL_MODIFIED, "sub/b");
  expect(f, VIGIL_CLOSED, "sub/b");
  /* Listing a directory reports nothing (vigil lists directories itself). */
  char p[256];
  path_of(f, "sub", p, sizeof p);
  DIR *d = opendir(p);
  assert_non_null(d);
  while (readdir(d))
    ;
  closedir(d);
  make_file(f, "sentinel");
  expect(f, VIGIL_CREATED, "sentinel");
  close_fixture(f);
}

static void only_the_asked_kind_is_delivered(void **state) {
  (void)state;
  fixture *f = open_with((1u << VIGIL_CLOSED_NOWRITE) | (1u << VIGIL_CREATED));
  read_file(f, "a");
  make_file(f, "sentinel");
  expect(f, VIGIL_CLOSED_NOWRITE, "a");
  expect(f, VIGIL_CREATED, "sentinel");
  read_file(f, "sentinel");
  expect(f, VIGIL_CLOSED_NOWRITE, "sentinel");
  close_fixture(f);
}

/*
 * A tree of more directories than half the kernel's queue holds: listing
 * each one queues an open and a close without writing on its parent's
 * watch (and on its own), which is more records than the queue takes.
 */
static fixture *open_big(unsigned events, int *ndirs) {
  FILE *q = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
  assert_non_null(q);
  long max = 0;
  assert_int_equal(fscanf(q, "%ld", &max), 1);
  fclose(q);
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir, sizeof f->dir, "kinds-big");
  *ndirs = (int)(max / 2 + 1000);
  char rel[32];
  for (int i = 0; i < *ndirs; i += 100) {
    snprintf(rel, sizeof rel, "g%05d", i);
    tu_mkdir_at(f->dir, rel);
    for (int j = 1; j < 100 && i + j < *ndirs; j++) {
      snprintf(rel, sizeof rel, "g%05d/d%02d", i, j);
      tu_mkdir_at(f->dir, rel);
    }
  }
  vigil_options opt;
  vigil_options_init(&opt);
  opt.events = events;
  assert_int_equal(vigil_open(&f->v, &opt), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  return f;
}

/* Reads until created for rel; returns how many overflow events came first. */
static int overflows_before(fixture *f, const char *rel) {
  char want[256];
  path_of(f, rel, want, sizeof want);
  int n = 0;
  for (;;) {
    vigil_event ev = {0};
    int r = vigil_read(f->v, &ev, 5000);
    if (r != 1)
      fail_msg("no created %s (read returned %d) after %d overflows", want, r, n);
    if (ev.kind == VIGIL_OVERFLOW)
      n++;
    else if (ev.kind == VIGIL_CREATED && strcmp(ev.path, want) == 0)
      return n;
  }
}

static void own_listings_do_not_overflow_the_queue(void **state) {
  (void)state;
  int ndirs;
  unsigned all = VIGIL_KINDS_DEFAULT | (1u << VIGIL_OPENED) | (1u << VIGIL_CLOSED_NOWRITE);
  fixture *f = open_big(all, &ndirs);
  /* Every watch has the whole mask once the setup is done. */
  int watches;
  unsigned long every;
  kernel_masks(f, &watches, &every);
  assert_int_equal(watches, ndirs + 1);
  assert_true((every & (IN_OPEN | IN_CLOSE_NOWRITE)) == (IN_OPEN | IN_CLOSE_NOWRITE));
  make_file(f, "after-setup");
  assert_int_equal(overflows_before(f, "after-setup"), 0);
  /* A repair lists the whole tree again: one overflow, not one per rescan. */
  f->v->need_repair = 1;
  make_file(f, "after-repair");
  assert_int_equal(overflows_before(f, "after-repair"), 1);
  kernel_masks(f, &watches, &every);
  assert_int_equal(watches, ndirs + 1);
  assert_true((every & (IN_OPEN | IN_CLOSE_NOWRITE)) == (IN_OPEN | IN_CLOSE_NOWRITE));
  /* And opens are still reported in a directory the repair listed. */
  make_file(f, "g00100/d07/f");
  assert_int_equal(overflows_before(f, "g00100/d07/f"), 0);
  expect(f, VIGIL_OPENED, "g00100/d07/f");
  close_fixture(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_round_trip),
      cmocka_unit_test(default_mask_asks_the_kernel_for_no_opens),
      cmocka_unit_test(each_costly_kind_adds_only_its_own_bit),
      cmocka_unit_test(default_mask_reports_no_read),
      cmocka_unit_test(opened_and_closed_nowrite_in_order),
      cmocka_unit_test(only_the_asked_kind_is_delivered),
      cmocka_unit_test(own_listings_do_not_overflow_the_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
