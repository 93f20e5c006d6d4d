/*
 * Unit tests of the gitignore matcher (src/filter.c).
 *
 * The expectations in the two tables were checked against real git
 * (`git check-ignore --no-index` on files and directories created in a
 * scratch repository), including the corners where git's implementation
 * differs from what its manual page suggests. Every table row respects the
 * contract of vigil__filter_excluded: no parent directory of the path is
 * excluded by the same rules.
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
#include <time.h>

#include "filter.h"
#include "vigil.h"

enum { F = 0, D = 1 }; /* a file, a directory */

/* One pattern added at the root, one path, and whether it is excluded. */
typedef struct {
  const char *pattern;
  const char *path;
  int is_dir;
  int want;
} single_case;

static const single_case singles[] = {
    /* A name without a slash matches at any depth, files and directories. */
    {"node_modules", "node_modules", D, 1},
    {"node_modules", "a/node_modules", D, 1},
    {"node_modules", "a/b/node_modules", D, 1},
    {"node_modules", "node_modules", F, 1},
    {"node_modules", "node_modules_x", D, 0},
    {"node_modules", "xnode_modules", D, 0},
    {"node_modules", "node_modules.d/x", F, 0},
    /* A trailing slash matches directories only. */
    {"foo/", "foo", F, 0},
    {"foo/", "foo", D, 1},
    {"foo/", "a/foo", D, 1},
    {"foo/", "a/foo", F, 0},
    {"foo//", "foo", D, 0},
    /* A leading or middle slash anchors the pattern. */
    {"/build", "build", D, 1},
    {"/build", "build", F, 1},
    {"/build", "a/build", D, 0},
    {"doc/frotz", "doc/frotz", F, 1},
    {"doc/frotz", "a/doc/frotz", F, 0},
    {"/doc/frotz", "doc/frotz", D, 1},
    {"doc/frotz/", "doc/frotz", D, 1},
    {"doc/frotz/", "doc/frotz", F, 0},
    {"/*.c", "a.c", F, 1},
    {"/*.c", "a/b.c", F, 0},
    {"a/*", "a", D, 0},
    {"a/*", "a/b", F, 1},
    {"a/*/c", "a/b/c", F, 1},
    {"a/*/c", "a/c", F, 0},
    {"a/*/c", "a/b/d/c", F, 0},
    /* '*' and '?' never match '/'. */
    {"*.c", "a.c", F, 1},
    {"*.c", "x/y/a.c", F, 1},
    {"*.c", ".c", F, 1},
    {"*.c", "a.h", F, 0},
    {"*.c", "a.cc", F, 0},
    {"*", "anything", F, 1},
    {"?", "ab/c", F, 1},
    {"?", "ab", F, 0},
    {"a?c", "abc", F, 1},
    {"a?c", "ac", F, 0},
    {"x/a?c", "x/a/c", F, 0},
    {"foo*", "foobar", F, 1},
    {"foo*", "fo", F, 0},
    {".#*", ".#x", F, 1},
    {"*a*b", "xaxxb", F, 1},
    {"*a*b", "xaxxbx", F, 0},
    /* "**" in its three special positions. */
    {"a/**/b", "a/b", F, 1},
    {"a/**/b", "a/x/b", F, 1},
    {"a/**/b", "a/x/y/b", F, 1},
    {"a/**/b", "a/xb", F, 0},
    {"a/**/b", "ab", F, 0},
    {"a/**/b", "x/a/b", F, 0},
    {"a/**/b", "b", F, 0},
    {"a/**/**/b", "a/b", F, 1},
    {"a/**/b/**/c", "a/x/b/y/z/c", F, 1},
    {"a/**/b/**/c", "a/b/c", F, 1},
    {"a/**/b/**/c", "a/c/b", F, 0},
    {"**/foo", "foo", F, 1},
    {"**/foo", "a/foo", F, 1},
    {"**/foo", "a/b/foo", D, 1},
    {"**/foo", "afoo", F, 0},
    {"**/foo/bar", "foo/bar", F, 1},
    {"**/foo/bar", "a/foo/bar", F, 1},
    {"**/foo/bar", "a/foo/x/bar", F, 0},
    {"abc/**", "abc", D, 0},
    {"abc/**", "abc/x", F, 1},
    {"abc/**", "abc/x", D, 1},
    {"a/**/", "a/b", D, 1},
    {"a/**/", "a/b", F, 0},
    {"/**/x", "x", F, 1},
    {"/**/x", "a/x", F, 1},
    {"**", "a", F, 1},
    {"**", "a", D, 1},
    /* Other runs of stars are plain stars. */
    {"a**b", "axb", F, 1},
    {"a**b", "x/ab", F, 1},
    {"x/a**b", "x/a/b", F, 0},
    {"x/**b", "x/ab", F, 1},
    {"x/**b", "x/a/b", F, 0},
    {"***/foo", "a/b/foo", F, 1},
    /*
     * Git compares the literal head of a pattern with a slash first and
     * matches the rest on its own, so stars right after the head count as
     * a leading "**" there. The manual page would say these do not match.
     */
    {"x/ab**/c", "x/abc", F, 1},
    {"x/ab**/c", "x/ab/c", F, 1},
    {"x/ab**/c", "x/abz/c", F, 1},
    {"x/ab**/c", "x/abz/y/c", F, 1},
    {"x/ab**/c", "x/abzc", F, 0},
    {"x/ab*/c", "x/abc", F, 0},
    {"x/a\\b**/c", "x/abc", F, 0},
    /* "**" only matches nothing when a plain '/' follows it. */
    {"**\\/foo", "foo", F, 0},
    {"**\\/foo", "x/foo", F, 1},
    {"a/**\\/b", "a/b", F, 0},
    {"a/**\\/b", "a/x/b", F, 1},
    {"a\\/b", "a/b", F, 1},
    {"a[/]b", "a/b", F, 0},
    {"x/[a/]b", "x/ab", F, 1},
    {"[a/]b", "ab", F, 1},
    {"[a/]b", "d/ab", F, 0},
    /* Classes. */
    {"[ab]x", "ax", F, 1},
    {"[ab]x", "bx", F, 1},
    {"[ab]x", "cx", F, 0},
    {"[!a]x", "ax", F, 0},
    {"[!a]x", "bx", F, 1},
    {"[^a]x", "ax", F, 0},
    {"[^a]x", "bx", F, 1},
    {"[a-c]", "b", F, 1},
    {"[a-c]", "d", F, 0},
    {"[a-c-e]", "-", F, 1},
    {"[a-c-e]", "e", F, 1},
    {"[a-c-e]", "d", F, 0},
    {"[z-a]", "z", F, 1},
    {"[z-a]", "a", F, 0},
    {"[z-a]", "-", F, 0},
    {"[]]", "]", F, 1},
    {"[]a]", "a", F, 1},
    {"[!]]", "]", F, 0},
    {"[!]]", "a", F, 1},
    {"[a-]", "-", F, 1},
    {"[-a]", "-", F, 1},
    {"[\\]]", "]", F, 1},
    {"[a\\-c]", "-", F, 1},
    {"[a\\-c]", "b", F, 0},
    {"[*]", "*", F, 1},
    {"[*]", "a", F, 0},
    {"[[:digit:]]x", "1x", F, 1},
    {"[[:digit:]]x", "ax", F, 0},
    {"[[:alpha:]]", "A", F, 1},
    {"[[:alpha:]]", "1", F, 0},
    {"[[:alnum:]_]*", "_x", F, 1},
    {"[[:upper:]]*", "Readme", F, 1},
    {"[[:upper:]]*", "readme", F, 0},
    {"[[:lower:]]", "q", F, 1},
    {"[[:xdigit:]]", "F", F, 1},
    {"[[:xdigit:]]", "g", F, 0},
    {"[[:punct:]]", "_", F, 1},
    {"[[:punct:]]", "~", F, 1},
    {"[[:punct:]]", "a", F, 0},
    {"[[:space:]]x", " x", F, 1},
    {"[[:space:]]x", "\tx", F, 1},
    {"[[:space:]]x", "\vx", F, 0},
    {"[[:blank:]]x", "\tx", F, 1},
    {"[[:cntrl:]]x", "\x01x", F, 1},
    {"[[:graph:]]", " ", F, 0},
    {"[[:print:]]", " ", F, 1},
    {"[![:digit:]]", "7", F, 0},
    {"[![:digit:]]", "q", F, 1},
    {"[[:al]", "[", F, 1},
    {"x[[:al]", "x:", F, 1},
    {"[[:al]", "b", F, 0},
    {"[[:]]", "[]", F, 1},
    {"[\xc3\xa9]", "\xc3", F, 1},
    {"[\xc3\xa9]", "\xc3\xa9", F, 0},
    /* Escapes, including the ones for a leading '!' or '#'. */
    {"\\*", "*", F, 1},
    {"\\*", "a", F, 0},
    {"\\?", "?", F, 1},
    {"\\[a]", "[a]", F, 1},
    {"\\[a]", "a", F, 0},
    {"\\a", "a", F, 1},
    {"\\!important", "!important", F, 1},
    {"\\#foo", "#foo", F, 1},
    {"a\\ b", "a b", F, 1},
    {"*\\*", "a*", F, 1},
    {"*\\*", "a", F, 0},
    {"a\\\\b", "a\\b", F, 1},
    /* Trailing spaces go unless escaped; leading ones stay. */
    {"foo   ", "foo", F, 1},
    {"foo   ", "foo ", F, 0},
    {"foo\\ ", "foo ", F, 1},
    {"foo\\ ", "foo", F, 0},
    {"foo\\  ", "foo ", F, 1},
    {"foo \\ ", "foo  ", F, 1},
    {" foo", " foo", F, 1},
    {" foo", "foo", F, 0},
    {" #foo", " #foo", F, 1},
    {"a b", "a b", F, 1},
    /* A line ending is dropped, as when git reads a file. */
    {"foo\n", "foo", F, 1},
    {"foo\r\n", "foo", F, 1},
    {"foo \r\n", "foo", F, 1},
};

/*
 * Several rules, each a base and a line (the line NULL ends them), one path
 * and the verdict. A base stands for a .gitignore in that directory; such
 * files are listed parents first, the order in which git consults them.
 */
typedef struct {
  const char *rules[12];
  const char *path;
  int is_dir;
  int want;
} multi_case;

static const multi_case multis[] = {
    /* The last rule that matches decides. */
    {{"", "*.log", "", "!keep.log"}, "keep.log", F, 0},
    {{"", "*.log", "", "!keep.log"}, "a.log", F, 1},
    {{"", "!keep.log", "", "*.log"}, "keep.log", F, 1},
    {{"", "*", "", "!*.c"}, "a.c", F, 0},
    {{"", "*", "", "!*.c", "", "bad.c"}, "bad.c", F, 1},
    {{"", "*.d", "", "!x.d/"}, "x.d", F, 1},
    {{"", "*.d", "", "!x.d/"}, "x.d", D, 0},
    {{"", "/*", "", "!/keep"}, "keep", D, 0},
    {{"", "/*", "", "!/keep"}, "other", D, 1},
    {{"", "/*", "", "!/keep", "", "/keep/*", "", "!/keep/this"}, "keep/this", F, 0},
    {{"", "/*", "", "!/keep", "", "/keep/*", "", "!/keep/this"}, "keep/that", F, 1},
    /* Comments and blank lines are no rules. */
    {{"", "# *.c", "", "", "", "   "}, "x.c", F, 0},
    {{"", "*.c", "", "#!x.c"}, "x.c", F, 1},
    /* A rule of a nested directory applies below it, relative to it. */
    {{"sub/dir", "*.o"}, "sub/dir/a.o", F, 1},
    {{"sub/dir", "*.o"}, "sub/dir/x/a.o", F, 1},
    {{"sub/dir", "*.o"}, "a.o", F, 0},
    {{"sub/dir", "*.o"}, "sub/a.o", F, 0},
    {{"sub/dir", "*.o"}, "sub/dirx/a.o", F, 0},
    {{"sub/dir", "*"}, "sub/dir", D, 0},
    {{"sub", "/build"}, "sub/build", D, 1},
    {{"sub", "/build"}, "sub/x/build", D, 0},
    {{"sub", "/build"}, "build", D, 0},
    {{"sub", "x/y"}, "sub/x/y", F, 1},
    {{"sub", "x/y"}, "x/y", F, 0},
    {{"sub", "x/y"}, "a/sub/x/y", F, 0},
    {{"sub", "**/y"}, "sub/y", F, 1},
    {{"sub", "**/y"}, "sub/x/y", F, 1},
    {{"sub", "**/y"}, "y", F, 0},
    {{"sub", "x/**"}, "sub/x/y", F, 1},
    {{"sub", "x/**"}, "sub/x", D, 0},
    {{"a", "b/"}, "a/b", D, 1},
    {{"a", "b/"}, "a/b", F, 0},
    {{"a/b", "/c*/d"}, "a/b/cc/d", F, 1},
    /* A nested rule comes later, so it wins over the root's. */
    {{"", "*.txt", "sub", "!keep.txt"}, "sub/keep.txt", F, 0},
    {{"", "*.txt", "sub", "!keep.txt"}, "keep.txt", F, 1},
    {{"", "*.txt", "sub", "!keep.txt"}, "sub/x/keep.txt", F, 0},
    {{"", "!keep.txt", "sub", "*.txt"}, "sub/keep.txt", F, 1},
    {{"", "/sub/x.txt", "sub", "!x.txt"}, "sub/x.txt", F, 0},
};

static vigil__filter *new_filter(void) {
  vigil__filter *f = vigil__filter_new();
  assert_non_null(f);
  return f;
}

static int excluded(const vigil__filter *f, const char *path, int is_dir) {
  return vigil__filter_excluded(f, path, strlen(path), is_dir);
}

static void test_single_table(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
    const single_case *c = &singles[i];
    vigil__filter *f = new_filter();
    assert_int_equal(vigil__filter_add(f, c->pattern, NULL), 0);
    assert_int_equal(vigil__filter_count(f), 1);
    int got = excluded(f, c->path, c->is_dir);
    if (got != c->want) {
      print_error("pattern \"%s\" path \"%s\"%s: got %d, want %d\n", c->pattern, c->path,
                  c->is_dir ? " (dir)" : "", got, c->want);
      failures++;
    }
    vigil__filter_free(f);
  }
  assert_int_equal(failures, 0);
}

static void test_multi_table(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof multis / sizeof multis[0]; i++) {
    const multi_case *c = &multis[i];
    vigil__filter *f = new_filter();
    for (size_t k = 0; k < 12 && c->rules[k + 1]; k += 2)
      assert_int_equal(vigil__filter_add(f, c->rules[k + 1], c->rules[k]), 0);
    int got = excluded(f, c->path, c->is_dir);
    if (got != c->want) {
      print_error("case %zu path \"%s\"%s: got %d, want %d\n", i, c->path,
                  c->is_dir ? " (dir)" : "", got, c->want);
      failures++;
    }
    vigil__filter_free(f);
  }
  assert_int_equal(failures, 0);
}

/* Lines that are malformed, and so rejected, and the filter is unchanged. */
static void test_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      /* Unterminated classes; a ']' right after '[' or "[!" is a member. */
      "[",
      "a[",
      "[a",
      "*[ab",
      "*.[ch",
      "[]",
      "[!]",
      "[!",
      "[a-",
      "[a\\",
      "x/[a/b",
      /* A closed POSIX class in an open bracket, and unknown POSIX classes. */
      "[[:alpha:]",
      "[[:foo:]]",
      "[[::]]",
      "[[:ALPHA:]]",
      /* A lone trailing backslash. */
      "\\",
      "foo\\",
      "a/\\",
      /* Nothing left once the '!' and the slashes are taken off. */
      "!",
      "! ",
      "!/",
      "/",
      "//",
      "/ ",
      /* Two lines. */
      "a\nb",
  };
  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_add(f, "keep", NULL), 0);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = vigil__filter_add(f, bad[i], NULL);
    if (rc != VIGIL_EPATTERN)
      print_error("pattern \"%s\": got %d\n", bad[i], rc);
    assert_int_equal(rc, VIGIL_EPATTERN);
  }
  assert_int_equal(vigil__filter_add(f, NULL, NULL), VIGIL_EPATTERN);
  assert_int_equal(vigil__filter_add(NULL, "x", NULL), -EINVAL);
  assert_int_equal(vigil__filter_count(f), 1);
  assert_int_equal(excluded(f, "keep", 0), 1);
  assert_int_equal(excluded(f, "[", 0), 0);
  vigil__filter_free(f);
}

/* Blank lines and comments are accepted and add no rule. */
static void test_blank_and_comments(void **state) {
  (void)state;
  static const char *const none[] = {
      "", "\n", "\r\n", "   ", "  \n", "#", "# comment", "#*", "#!x",
  };
  vigil__filter *f = new_filter();
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
    assert_int_equal(vigil__filter_add(f, none[i], NULL), 0);
  assert_int_equal(vigil__filter_count(f), 0);
  assert_int_equal(excluded(f, "#", 0), 0);
  assert_int_equal(excluded(f, "comment", 0), 0);
  assert_int_equal(vigil__filter_add(f, "\\#", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "a", ""), 0);
  assert_int_equal(vigil__filter_count(f), 2);
  assert_int_equal(excluded(f, "#", 0), 1);
  vigil__filter_free(f);
}

static void test_null_and_empty(void **state) {
  (void)state;
  vigil__filter_free(NULL);
  assert_int_equal(vigil__filter_count(NULL), 0);
  assert_int_equal(vigil__filter_excluded(NULL, "a", 1, 0), 0);
  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_count(f), 0);
  assert_int_equal(excluded(f, "a", 0), 0);
  assert_int_equal(vigil__filter_add(f, "*", NULL), 0);
  assert_int_equal(vigil__filter_excluded(f, "", 0, 1), 0);
  assert_int_equal(excluded(f, "a", 0), 1);
  vigil__filter_free(f);
}

/* The path is bounded by len, not by a NUL. */
static void test_length_not_nul(void **state) {
  (void)state;
  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_add(f, "*.c", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "/dir/x", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "/lit", NULL), 0);
  const char buf[] = "a/b.cXYZ";
  assert_int_equal(vigil__filter_excluded(f, buf, 5, 0), 1);
  assert_int_equal(vigil__filter_excluded(f, buf, 6, 0), 0);
  const char buf2[] = "dir/xy";
  assert_int_equal(vigil__filter_excluded(f, buf2, 5, 0), 1);
  assert_int_equal(vigil__filter_excluded(f, buf2, 6, 0), 0);
  const char buf3[] = "lit/";
  assert_int_equal(vigil__filter_excluded(f, buf3, 3, 1), 1);
  vigil__filter_free(f);
}

/* Base is relative to the root; NULL and "" both mean the root itself. */
static void test_base_forms(void **state) {
  (void)state;
  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_add(f, "/a", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "/b", ""), 0);
  assert_int_equal(vigil__filter_add(f, "/c", "/s/t/"), 0);
  assert_int_equal(excluded(f, "a", 0), 1);
  assert_int_equal(excluded(f, "b", 0), 1);
  assert_int_equal(excluded(f, "s/t/c", 0), 1);
  assert_int_equal(excluded(f, "s/c", 0), 0);
  assert_int_equal(excluded(f, "c", 0), 0);
  /* A base that is a prefix of a name is not its directory. */
  assert_int_equal(excluded(f, "s/tt/c", 0), 0);
  vigil__filter_free(f);
}

/* Many rules: only the newest matching one counts. */
static void test_many_rules(void **state) {
  (void)state;
  vigil__filter *f = new_filter();
  char line[64];
  for (int i = 0; i < 1000; i++) {
    snprintf(line, sizeof line, "%sf%d", i % 2 ? "!" : "", i % 10);
    assert_int_equal(vigil__filter_add(f, line, NULL), 0);
  }
  assert_int_equal(vigil__filter_count(f), 1000);
  /* The last rule for f<k> is rule 990 + k, negated when k is odd. */
  for (int k = 0; k < 10; k++) {
    snprintf(line, sizeof line, "d/f%d", k);
    assert_int_equal(excluded(f, line, 0), k % 2 == 0);
  }
  assert_int_equal(excluded(f, "f10", 0), 0);
  vigil__filter_free(f);
}

/* A pattern too long to compile is rejected rather than truncated. */
static void test_huge_pattern(void **state) {
  (void)state;
  size_t n = 70000;
  char *p = malloc(n + 1);
  assert_non_null(p);
  memset(p, 'a', n);
  p[n] = '\0';
  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_add(f, p, NULL), VIGIL_EPATTERN);
  p[60000] = '\0';
  p[0] = '*';
  assert_int_equal(vigil__filter_add(f, p, NULL), 0);
  p[0] = 'a';
  assert_int_equal(excluded(f, p, 0), 1);
  assert_int_equal(excluded(f, p + 1, 0), 1);
  assert_int_equal(excluded(f, p + 2, 0), 0);
  vigil__filter_free(f);
  free(p);
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Patterns that make a naive backtracking matcher take exponential time must
 * finish at once. The limit is generous so that sanitizer builds and loaded
 * machines pass; an exponential matcher would take years, not seconds.
 */
static void test_pathological(void **state) {
  (void)state;
  size_t n = 20000;
  char *s = malloc(n + 1);
  assert_non_null(s);
  double t0 = seconds();

  vigil__filter *f = new_filter();
  assert_int_equal(vigil__filter_add(f, "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", NULL), 0);
  memset(s, 'a', n);
  s[n] = '\0';
  assert_int_equal(excluded(f, s, 0), 0);
  s[n - 1] = 'b';
  assert_int_equal(excluded(f, s, 0), 1);
  vigil__filter_free(f);

  /* The same inside an anchored component, and with "**" between components. */
  f = new_filter();
  assert_int_equal(vigil__filter_add(f, "x/*a*a*a*a*a*a*a*a*a*a*a*a*b", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "**/a/**/a/**/a/**/a/**/a/**/a/**/b", NULL), 0);
  assert_int_equal(vigil__filter_add(f, "**/*a*a*a*/**/*a*a*a*/**/*a*a*b", NULL), 0);
  s[0] = 'x';
  s[1] = '/';
  memset(s + 2, 'a', n - 2);
  assert_int_equal(excluded(f, s, 0), 0);
  s[n - 1] = 'b';
  assert_int_equal(excluded(f, s, 0), 1);
  /* A deep path of "a" components: "a/a/a/.../a", of odd length. */
  for (size_t i = 0; i < n - 1; i++)
    s[i] = i % 2 ? '/' : 'a';
  s[n - 1] = '\0';
  assert_int_equal(excluded(f, s, 0), 0);
  s[n - 2] = 'b';
  assert_int_equal(excluded(f, s, 0), 1);
  /* Components of "aaa" separated by slashes, for the component globs. */
  for (size_t i = 0; i < n; i++)
    s[i] = i % 4 == 3 ? '/' : 'a';
  s[n - 1] = 'a';
  assert_int_equal(excluded(f, s, 0), 0);
  vigil__filter_free(f);

  double t = seconds() - t0;
  free(s);
  if (t > 5.0)
    fail_msg("pathological patterns took %.2f s", t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_table),   cmocka_unit_test(test_multi_table),
      cmocka_unit_test(test_malformed),      cmocka_unit_test(test_blank_and_comments),
      cmocka_unit_test(test_null_and_empty), cmocka_unit_test(test_length_not_nul),
      cmocka_unit_test(test_base_forms),     cmocka_unit_test(test_many_rules),
      cmocka_unit_test(test_huge_pattern),   cmocka_unit_test(test_pathological),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
