/*
 * Options of one root (vigil_add_opts): exclude patterns and the ignore
 * file's name per root, relative to that root and consulted only for it,
 * with the instance's options as the default of roots that name none; and
 * the struct's room to grow, as vigil_options has.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"

#define GARBAGE 0xa5

static char dir[64];

static void mk(const char *rel) {
  tu_mkdir_at(dir, rel);
}

static void put(const char *rel, const char *text) {
  tu_write_at(dir, rel, text);
}

static void path_of(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", dir, rel);
}

static int setup(void **state) {
  (void)state;
  tu_tmpdir(dir, sizeof dir, "rootopts");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return tu_rm_tree(dir);
}

/* The events read until the marker's creation, as "kind path" lines. */
typedef struct {
  char lines[64][300];
  size_t n;
} seen;

static void read_until(vigil_t *v, const char *marker_rel, seen *s) {
  char marker[256];
  path_of(marker, sizeof marker, marker_rel);
  put(marker_rel, "m");
  s->n = 0;
  vigil_event ev;
  for (;;) {
    assert_int_equal(vigil_read(v, &ev, 2000), 1);
    if (ev.kind == VIGIL_CREATED && strcmp(ev.path, marker) == 0)
      break;
    assert_true(s->n < 64);
    snprintf(s->lines[s->n++], sizeof s->lines[0], "%s %s", vigil_kind_name(ev.kind),
             ev.path + strlen(dir) + 1);
  }
  assert_int_equal(unlink(marker), 0);
}

/* How many times "kind rel" was seen. */
static int count(const seen *s, const char *kind, const char *rel) {
  char want[300];
  snprintf(want, sizeof want, "%s %s", kind, rel);
  int k = 0;
  for (size_t i = 0; i < s->n; i++)
    k += strcmp(s->lines[i], want) == 0;
  return k;
}

static void add(vigil_t *v, const char *rel, unsigned flags, const vigil_root_options *ro) {
  char p[256];
  path_of(p, sizeof p, rel);
  assert_int_equal(vigil_add_opts(v, p, flags, ro), 0);
}

/*
 * Three roots of one instance: one with the instance's patterns, one with
 * its own instead (an anchored one among them, which anchors at that
 * root), one that excludes nothing although the instance does.
 */
static void each_root_has_its_own_patterns(void **state) {
  (void)state;
  const char *roots[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    char rel[64];
    mk(roots[i]);
    snprintf(rel, sizeof rel, "%s/build", roots[i]);
    mk(rel);
    snprintf(rel, sizeof rel, "%s/sub", roots[i]);
    mk(rel);
    snprintf(rel, sizeof rel, "%s/sub/build", roots[i]);
    mk(rel);
  }
  const char *inst[] = {"*.tmp"};
  vigil_options o;
  vigil_options_init(&o);
  o.exclude = inst;
  o.exclude_count = 1;
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  add(v, "a", 0, NULL);
  const char *own[] = {"*.log", "/build"};
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.exclude = own;
  ro.exclude_count = 2;
  add(v, "b", 0, &ro);
  const char *none[] = {NULL};
  vigil_root_options_init(&ro);
  ro.exclude = none;
  ro.exclude_count = 0;
  add(v, "c", 0, &ro);

  /* b/build is neither listed nor watched: 4 + 3 + 4 directories. */
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 11);

  const char *files[] = {"x.tmp", "x.log", "build/f", "sub/build/f"};
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 4; k++) {
      char rel[64];
      snprintf(rel, sizeof rel, "%s/%s", roots[i], files[k]);
      put(rel, "x");
    }
  seen s;
  read_until(v, "c/marker", &s);
  /* a: the instance's *.tmp. b: its own *.log and /build, not *.tmp. c: nothing. */
  int want[3][4] = {{0, 1, 1, 1}, {1, 0, 0, 1}, {1, 1, 1, 1}};
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 4; k++) {
      char rel[64];
      snprintf(rel, sizeof rel, "%s/%s", roots[i], files[k]);
      assert_int_equal(count(&s, "created", rel), want[i][k]);
    }
  vigil_close(v);
}

/*
 * Overlapping roots: what both see is reported once, by the outer root,
 * and so judged by the outer root's own patterns, relative to the outer
 * root; the inner root's patterns do not hide it.
 */
static void overlapping_roots_report_by_the_outer_patterns(void **state) {
  (void)state;
  mk("o");
  mk("o/in");
  mk("o/in/x");
  const char *outer[] = {"/in/x"}, *inner[] = {"y"};
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.exclude = inner;
  ro.exclude_count = 1;
  add(v, "o/in", 0, &ro);
  ro.exclude = outer;
  add(v, "o", 0, &ro);
  put("o/x", "x");
  put("o/in/x/f", "x");
  put("o/in/y", "x");
  seen s;
  read_until(v, "o/marker", &s);
  assert_int_equal(count(&s, "created", "o/x"), 1);
  assert_int_equal(count(&s, "created", "o/in/x/f"), 0);
  assert_int_equal(count(&s, "created", "o/in/y"), 1);
  size_t created = 0;
  for (size_t i = 0; i < s.n; i++)
    created += strncmp(s.lines[i], "created ", 8) == 0;
  assert_int_equal(created, 2);
  vigil_close(v);
}

/*
 * The ignore file's name per root: the instance's, another one, or none;
 * and a later edit takes effect for the roots that read that name only.
 */
static void each_root_has_its_own_ignore_file(void **state) {
  (void)state;
  const char *roots[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    char rel[64];
    mk(roots[i]);
    snprintf(rel, sizeof rel, "%s/.gitignore", roots[i]);
    put(rel, "*.o\n");
    snprintf(rel, sizeof rel, "%s/.vigilignore", roots[i]);
    put(rel, "*.v\n");
  }
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  add(v, "a", 0, NULL);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.ignore_file = ".vigilignore";
  add(v, "b", 0, &ro);
  vigil_root_options_init(&ro);
  ro.ignore_file = "";
  add(v, "c", 0, &ro);

  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/x.o", roots[i]);
    put(rel, "x");
    snprintf(rel, sizeof rel, "%s/x.v", roots[i]);
    put(rel, "x");
  }
  seen s;
  read_until(v, "c/marker", &s);
  assert_int_equal(count(&s, "created", "a/x.o"), 0);
  assert_int_equal(count(&s, "created", "a/x.v"), 1);
  assert_int_equal(count(&s, "created", "b/x.o"), 1);
  assert_int_equal(count(&s, "created", "b/x.v"), 0);
  assert_int_equal(count(&s, "created", "c/x.o"), 1);
  assert_int_equal(count(&s, "created", "c/x.v"), 1);

  /* Each root's .vigilignore now also leaves out *.o: only b reads it. */
  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/.vigilignore", roots[i]);
    put(rel, "*.v\n*.o\n");
  }
  read_until(v, "c/marker2", &s);
  assert_int_equal(count(&s, "removed", "b/x.o"), 1);
  assert_int_equal(count(&s, "removed", "a/x.o"), 0);
  assert_int_equal(count(&s, "removed", "c/x.o"), 0);
  assert_int_equal(count(&s, "modified", "a/.vigilignore"), 1);
  assert_int_equal(count(&s, "modified", "c/.vigilignore"), 1);
  /* And a's .gitignore no longer leaves out *.o: only a reads it. */
  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/.gitignore", roots[i]);
    put(rel, "\n");
  }
  read_until(v, "c/marker3", &s);
  assert_int_equal(count(&s, "created", "a/x.o"), 1);
  assert_int_equal(count(&s, "created", "b/x.o"), 0);
  assert_int_equal(count(&s, "created", "c/x.o"), 0);
  vigil_close(v);
}

/* vigil_add's flags, with options of the root's own. */
static void flags_and_defaults(void **state) {
  (void)state;
  mk("n");
  mk("n/d");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  add(v, "n", VIGIL_NORECURSE, &ro);
  put("n/d/f", "x");
  put("n/g", "x");
  seen s;
  read_until(v, "n/marker", &s);
  assert_int_equal(count(&s, "created", "n/d/f"), 0);
  assert_int_equal(count(&s, "created", "n/g"), 1);
  vigil_close(v);
}

/* Bad options fail vigil_add_opts, and nothing of the root is left. */
static void bad_options_leave_nothing(void **state) {
  (void)state;
  mk("e");
  char p[256];
  path_of(p, sizeof p, "e");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  const char *bad[] = {"[unterminated"};
  ro.exclude = bad;
  ro.exclude_count = 1;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), VIGIL_EPATTERN);
  const char *null_pattern[] = {"ok", NULL};
  ro.exclude = null_pattern;
  ro.exclude_count = 2;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), -EINVAL);
  ro.exclude = NULL;
  ro.exclude_count = 1;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), -EINVAL);
  vigil_root_options_init(&ro);
  ro.base_exclude = bad;
  ro.base_exclude_count = 1;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), VIGIL_EPATTERN);
  ro.base_exclude = null_pattern;
  ro.base_exclude_count = 2;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), -EINVAL);
  ro.base_exclude = NULL;
  ro.base_exclude_count = 1;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), -EINVAL);
  vigil_root_options_init(&ro);
  ro.size = 3;
  assert_int_equal(vigil_add_opts(v, p, 0, &ro), VIGIL_EOPTIONS);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 0);
  assert_int_equal(st.watches, 0);
  assert_int_equal(vigil_add_opts(NULL, p, 0, NULL), -EINVAL);
  assert_int_equal(vigil_add_opts(v, NULL, 0, NULL), -EINVAL);
  /* NULL options are vigil_add's defaults. */
  assert_int_equal(vigil_add_opts(v, p, 0, NULL), 0);
  assert_int_equal(vigil_add_opts(v, p, 0, NULL), VIGIL_EEXIST);
  vigil_close(v);
}

/* vigil_root_watched tells which of several roots ended. */
static void root_watched_tells_which_root_ended(void **state) {
  (void)state;
  mk("a");
  mk("b");
  char a[256], b[256], bdir[256];
  path_of(a, sizeof a, "a");
  path_of(b, sizeof b, "b/");
  path_of(bdir, sizeof bdir, "b");
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add_opts(v, a, 0, NULL), 0);
  assert_int_equal(vigil_add_opts(v, b, 0, NULL), 0);
  assert_int_equal(vigil_root_watched(v, a), 1);
  assert_int_equal(vigil_root_watched(v, b), 1);
  assert_int_equal(vigil_root_watched(v, bdir), VIGIL_ENOTROOT); /* the string as given */
  assert_int_equal(rmdir(bdir), 0);
  vigil_event ev;
  do
    assert_int_equal(vigil_read(v, &ev, 2000), 1);
  while (ev.kind != VIGIL_REMOVED || strcmp(ev.path, b) != 0);
  assert_int_equal(vigil_root_watched(v, b), 0);
  assert_int_equal(vigil_root_watched(v, a), 1);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 1);
  /* Added again once it is back, before the old one is forgotten: watched. */
  mk("b");
  assert_int_equal(vigil_add_opts(v, b, 0, NULL), 0);
  assert_int_equal(vigil_root_watched(v, b), 1);
  assert_int_equal(vigil_remove(v, b), 0);
  assert_int_equal(vigil_remove(v, b), 0);
  assert_int_equal(vigil_root_watched(v, b), VIGIL_ENOTROOT);
  assert_int_equal(vigil_root_watched(NULL, b), -EINVAL);
  assert_int_equal(vigil_root_watched(v, NULL), -EINVAL);
  vigil_close(v);
}

/* The struct's versions, as vigil_options has them. */
static void sizes_old_and_new(void **state) {
  (void)state;
  vigil_root_options ro;
  memset(&ro, GARBAGE, sizeof ro);
  assert_int_equal(vigil_root_options_init(&ro), 0);
  assert_int_equal(ro.size, sizeof ro);
  assert_null(ro.exclude);
  assert_int_equal(ro.exclude_count, 0);
  assert_null(ro.ignore_file);
  assert_null(ro.backend);
  assert_null(ro.base_exclude);
  assert_int_equal(ro.base_exclude_count, 0);
  assert_int_equal(vigil_root_options_init(NULL), -EINVAL);
  assert_int_equal(vigil_root_options_init_sized(&ro, 3), VIGIL_EOPTIONS);

  mk("s");
  mk("s/d");
  put("s/.gitignore", "d\n");
  char p[256];
  path_of(p, sizeof p, "s");
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);

  /*
   * An older program's struct that ends at exclude_count: exactly that many bytes,
   * so AddressSanitizer sees a read past them; the rest is the instance's
   * (its ignore file leaves d out: one watch).
   */
  size_t older = offsetof(vigil_root_options, ignore_file);
  vigil_root_options *small = malloc(older);
  assert_non_null(small);
  assert_int_equal(vigil_root_options_init_sized(small, older), 0);
  size_t got;
  memcpy(&got, small, sizeof got);
  assert_int_equal(got, older);
  assert_int_equal(vigil_add_opts(v, p, 0, small), 0);
  free(small);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 1);
  assert_int_equal(vigil_remove(v, p), 0);

  /* One that ends at backend, from before base_exclude: read no further. */
  older = offsetof(vigil_root_options, base_exclude);
  small = malloc(older);
  assert_non_null(small);
  assert_int_equal(vigil_root_options_init_sized(small, older), 0);
  assert_int_equal(vigil_add_opts(v, p, 0, small), 0);
  free(small);
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 1);
  assert_int_equal(vigil_remove(v, p), 0);

  /* A newer program's larger struct: accepted while what this library lacks is zero. */
  struct {
    vigil_root_options ro;
    size_t later;
  } big;
  assert_int_equal(vigil_root_options_init_sized(&big.ro, sizeof big), 0);
  assert_int_equal(big.later, 0);
  big.later = 1;
  assert_int_equal(vigil_add_opts(v, p, 0, &big.ro), VIGIL_EOPTIONS);
  big.later = 0;
  big.ro.ignore_file = "";
  assert_int_equal(vigil_add_opts(v, p, 0, &big.ro), 0);
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 2); /* no ignore file: d is watched */
  vigil_close(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(each_root_has_its_own_patterns, setup, teardown),
      cmocka_unit_test_setup_teardown(overlapping_roots_report_by_the_outer_patterns, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(each_root_has_its_own_ignore_file, setup, teardown),
      cmocka_unit_test_setup_teardown(flags_and_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_options_leave_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(root_watched_tells_which_root_ended, setup, teardown),
      cmocka_unit_test_setup_teardown(sizes_old_and_new, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
