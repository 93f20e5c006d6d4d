/*
 * Per-directory ignore files (vigil_options.ignore_file): nested files
 * apply below their directory, each root keeps its own, the caller's
 * exclude patterns have the last word, and a root's base patterns
 * (vigil_root_options.base_exclude) the first: git's order, from its
 * command line down to .git/info/exclude and the global excludes file.
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
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", dir, rel);
}

static void mk(const char *rel) {
  tu_mkdir_at(dir, rel);
}

static void put(const char *rel, const char *text) {
  tu_write_at(dir, rel, text);
}

static int setup(void **state) {
  (void)state;
  tu_tmpdir(dir, sizeof dir, "ignore");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return tu_rm_tree(dir);
}

/* Creates each file, then a marker, and counts how often each was reported. */
static void reported(vigil_t *v, const char *const *rels, size_t n, int *seen, const char *mrel) {
  for (size_t i = 0; i < n; i++) {
    put(rels[i], "x");
    seen[i] = 0;
  }
  put(mrel, "m");
  char marker[256];
  path_of(marker, sizeof marker, mrel);
  vigil_event ev;
  for (;;) {
    int r = vigil_read(v, &ev, 2000);
    assert_int_equal(r, 1);
    if (ev.kind != VIGIL_CREATED)
      continue;
    if (strcmp(ev.path, marker) == 0)
      break;
    for (size_t i = 0; i < n; i++) {
      char p[256];
      path_of(p, sizeof p, rels[i]);
      if (strcmp(ev.path, p) == 0)
        seen[i]++;
    }
  }
  unlink(marker);
}

static void nested_files_apply_below_their_directory(void **state) {
  (void)state;
  mk("r");
  mk("r/sub");
  mk("r/sub/gen");
  mk("r/gen");
  mk("r/sub/deep");
  mk("r/sub/deep/gen");
  put("r/.gitignore", "*.o\n");
  put("r/sub/.gitignore", "/gen\n!keep.o\n");
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  char root[256];
  path_of(root, sizeof root, "r");
  assert_int_equal(vigil_add(v, root, 0), 0);
  const char *rels[] = {"r/a.o",   "r/sub/b.o",        "r/sub/keep.o", "r/sub/gen/x",
                        "r/gen/x", "r/sub/deep/gen/x", "r/sub/c"};
  int want[] = {0, 0, 1, 0, 1, 1, 1};
  int seen[7];
  reported(v, rels, 7, seen, "r/marker");
  for (int i = 0; i < 7; i++)
    assert_int_equal(seen[i], want[i]);
  vigil_close(v);
}

static void each_root_keeps_its_own_ignore_files(void **state) {
  (void)state;
  mk("a");
  mk("a/sub");
  mk("a/sub/gen");
  mk("b");
  mk("b/sub");
  mk("b/sub/gen");
  put("a/sub/.gitignore", "/gen\n");
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  char a[256], b[256];
  path_of(a, sizeof a, "a");
  path_of(b, sizeof b, "b");
  assert_int_equal(vigil_add(v, a, 0), 0);
  assert_int_equal(vigil_add(v, b, 0), 0);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 5); /* a, a/sub, b, b/sub, b/sub/gen */
  const char *rels[] = {"a/sub/gen/x", "b/sub/gen/x"};
  int seen[2];
  reported(v, rels, 2, seen, "b/marker");
  assert_int_equal(seen[0], 0);
  assert_int_equal(seen[1], 1);
  vigil_close(v);
}

static void caller_patterns_have_the_last_word(void **state) {
  (void)state;
  mk("w");
  mk("w/.git");
  mk("w/logs");
  /* A whitelist ignore file that would bring everything back. */
  put("w/.gitignore", "*\n!*/\n!*.c\n!*.log\n");
  const char *ex[] = {".git/", "*.log"};
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  o.exclude = ex;
  o.exclude_count = 2;
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  char root[256];
  path_of(root, sizeof root, "w");
  assert_int_equal(vigil_add(v, root, 0), 0);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 2); /* w and w/logs; never w/.git */
  const char *rels[] = {"w/.git/HEAD", "w/logs/a.log", "w/logs/a.c", "w/logs/a.txt"};
  int want[] = {0, 0, 1, 0};
  int seen[4];
  /* The ignore file excludes "marker" itself, so the marker is a .c file. */
  for (int i = 0; i < 4; i++)
    put(rels[i], "x");
  put("w/zz-marker.c", "m");
  char marker[256];
  path_of(marker, sizeof marker, "w/zz-marker.c");
  memset(seen, 0, sizeof seen);
  vigil_event ev;
  for (;;) {
    assert_int_equal(vigil_read(v, &ev, 2000), 1);
    if (ev.kind != VIGIL_CREATED)
      continue;
    if (strcmp(ev.path, marker) == 0)
      break;
    for (int i = 0; i < 4; i++) {
      char p[256];
      path_of(p, sizeof p, rels[i]);
      if (strcmp(ev.path, p) == 0)
        seen[i]++;
    }
  }
  for (int i = 0; i < 4; i++)
    assert_int_equal(seen[i], want[i]);
  vigil_close(v);
}

/* -- ignore files that change after setup ----------------------------------- */

/*
 * The contract for a change of an ignore file: entries it newly excludes
 * are reported removed (children first) and are no longer watched;
 * entries it newly includes are listed and reported created. Replay of
 * the stream therefore still gives the watched tree. These tests keep a
 * replay of every event and compare it with the tree they expect.
 */

#define SET_MAX 64

typedef struct {
  char path[SET_MAX][128];
  size_t n;
} pathset;

static ssize_t set_find(const pathset *s, const char *p) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->path[i], p) == 0)
      return (ssize_t)i;
  return -1;
}

static void set_add(pathset *s, const char *p) {
  if (set_find(s, p) >= 0)
    fail_msg("created twice: %s", p);
  assert_true(s->n < SET_MAX);
  snprintf(s->path[s->n++], sizeof s->path[0], "%s", p);
}

static void set_del(pathset *s, const char *p) {
  ssize_t i = set_find(s, p);
  if (i < 0)
    fail_msg("removed but never there: %s", p);
  s->n--;
  memcpy(s->path[i], s->path[s->n], sizeof s->path[0]);
}

/* The same set as the list of paths given, in any order. */
static void set_is(const pathset *s, const char *const *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (set_find(s, want[i]) < 0)
      fail_msg("replay lacks %s", want[i]);
  for (size_t i = 0; i < s->n; i++) {
    size_t j = 0;
    while (j < n && strcmp(s->path[i], want[j]) != 0)
      j++;
    if (j == n)
      fail_msg("replay has %s", s->path[i]);
  }
}

static const char *rel_of(const char *root, const char *path) {
  size_t n = strlen(root);
  assert_int_equal(strncmp(path, root, n), 0);
  return path[n] == '/' ? path + n + 1 : path + n;
}

/*
 * Creates the marker file mark in a second root, "mk", and applies every
 * event up to its creation to the replay; then removes the marker again.
 * The marker is not in the root under test, since a listing there (which
 * a changed ignore file causes) could report it before the events that
 * come first. Returns how many events came before the marker.
 */
static size_t replay_until(vigil_t *v, const char *root, pathset *s, const char *mark) {
  char mp[256];
  snprintf(mp, sizeof mp, "%s/mk/%s", dir, mark);
  int fd = open(mp, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  close(fd);
  size_t n = 0;
  vigil_event ev;
  for (;;) {
    assert_int_equal(vigil_read(v, &ev, 2000), 1);
    if (ev.kind == VIGIL_CREATED && strcmp(ev.path, mp) == 0)
      break;
    n++;
    if (ev.kind == VIGIL_CREATED)
      set_add(s, rel_of(root, ev.path));
    else if (ev.kind == VIGIL_REMOVED)
      set_del(s, rel_of(root, ev.path));
    else if (ev.kind == VIGIL_MOVED) {
      char from[128];
      snprintf(from, sizeof from, "%s", rel_of(root, ev.from));
      size_t fl = strlen(from);
      const char *to = rel_of(root, ev.path);
      ssize_t i = set_find(s, to);
      if (i >= 0)
        set_del(s, to);
      for (size_t k = 0; k < s->n; k++) {
        char *p = s->path[k];
        if (strncmp(p, from, fl) == 0 && (p[fl] == '\0' || p[fl] == '/')) {
          char rest[128];
          snprintf(rest, sizeof rest, "%s", p + fl);
          snprintf(p, sizeof s->path[0], "%s%s", to, rest);
        }
      }
    } else {
      assert_true(ev.kind == VIGIL_MODIFIED || ev.kind == VIGIL_CLOSED || ev.kind == VIGIL_ATTRIB);
      assert_true(set_find(s, rel_of(root, ev.path)) >= 0);
    }
  }
  assert_int_equal(unlink(mp), 0);
  do
    assert_int_equal(vigil_read(v, &ev, 2000), 1);
  while (!(ev.kind == VIGIL_REMOVED && strcmp(ev.path, mp) == 0));
  return n;
}

/* An instance reading .gitignore files, with rel added with ro (NULL: the defaults). */
static vigil_t *open_with(const char *rel, const vigil_root_options *ro, pathset *s,
                          const char *const *initial, size_t n) {
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  char root[256];
  path_of(root, sizeof root, rel);
  assert_int_equal(vigil_add_opts(v, root, 0, ro), 0);
  mk("mk");
  path_of(root, sizeof root, "mk");
  assert_int_equal(vigil_add(v, root, 0), 0);
  s->n = 0;
  for (size_t i = 0; i < n; i++)
    set_add(s, initial[i]);
  return v;
}

static vigil_t *open_ignoring(const char *rel, pathset *s, const char *const *initial, size_t n) {
  return open_with(rel, NULL, s, initial, n);
}

/* Kernel watches held, the marker root's included. */
static size_t watches(vigil_t *v) {
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  return st.watches;
}

#define N(a) (sizeof(a) / sizeof(a)[0])

static void ignore_file_created_later_drops_what_it_excludes(void **state) {
  (void)state;
  mk("r");
  mk("r/dist");
  mk("r/dist/deep");
  put("r/dist/deep/a.js", "x");
  mk("r/src");
  put("r/src/m.c", "x");
  put("r/x.o", "x");
  pathset s;
  const char *init[] = {"dist", "dist/deep", "dist/deep/a.js", "src", "src/m.c", "x.o"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256];
  path_of(root, sizeof root, "r");
  assert_int_equal(watches(v), 5);
  put("r/.gitignore", "dist/\n*.o\n");
  replay_until(v, root, &s, "m1");
  const char *after[] = {".gitignore", "src", "src/m.c"};
  set_is(&s, after, N(after));
  /* No longer watched: nothing in dist/ is reported, and new *.o neither. */
  assert_int_equal(watches(v), 3);
  put("r/dist/b.js", "x");
  put("r/dist/deep/a.js", "y");
  put("r/y.o", "x");
  assert_int_equal(replay_until(v, root, &s, "m2"), 0);
  set_is(&s, after, N(after));
  vigil_close(v);
}

static void ignore_file_edited_adds_and_removes_patterns(void **state) {
  (void)state;
  mk("r");
  mk("r/gen");
  put("r/gen/g.c", "x");
  put("r/a.o", "x");
  put("r/b.c", "x");
  put("r/.gitignore", "*.o\n");
  pathset s;
  const char *init[] = {".gitignore", "gen", "gen/g.c", "b.c"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256];
  path_of(root, sizeof root, "r");
  /* A pattern added. */
  put("r/.gitignore", "*.o\ngen/\n");
  replay_until(v, root, &s, "m1");
  const char *s1[] = {".gitignore", "b.c"};
  set_is(&s, s1, N(s1));
  assert_int_equal(watches(v), 2);
  /* A pattern taken away: what it excluded is listed and watched again. */
  put("r/.gitignore", "gen/\n");
  replay_until(v, root, &s, "m2");
  const char *s2[] = {".gitignore", "b.c", "a.o"};
  set_is(&s, s2, N(s2));
  put("r/.gitignore", "");
  replay_until(v, root, &s, "m3");
  const char *s3[] = {".gitignore", "b.c", "a.o", "gen", "gen/g.c"};
  set_is(&s, s3, N(s3));
  assert_int_equal(watches(v), 3);
  put("r/gen/new.c", "x");
  put("r/a.o", "y");
  replay_until(v, root, &s, "m4");
  const char *s4[] = {".gitignore", "b.c", "a.o", "gen", "gen/g.c", "gen/new.c"};
  set_is(&s, s4, N(s4));
  vigil_close(v);
}

static void ignore_file_deleted_or_renamed(void **state) {
  (void)state;
  mk("r");
  put("r/a.log", "x");
  put("r/.gitignore", "*.log\n");
  put("outside", "*.log\n");
  pathset s;
  const char *init[] = {".gitignore"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256], p1[256], p2[256];
  path_of(root, sizeof root, "r");
  const char *none[] = {"keep.txt", "a.log"};
  const char *excl[] = {".gitignore"};
  /* Renamed within the root, away and back. */
  path_of(p1, sizeof p1, "r/.gitignore");
  path_of(p2, sizeof p2, "r/keep.txt");
  assert_int_equal(rename(p1, p2), 0);
  replay_until(v, root, &s, "m1");
  set_is(&s, none, N(none));
  assert_int_equal(rename(p2, p1), 0);
  replay_until(v, root, &s, "m2");
  set_is(&s, excl, N(excl));
  /* Deleted. */
  assert_int_equal(unlink(p1), 0);
  replay_until(v, root, &s, "m3");
  const char *only[] = {"a.log"};
  set_is(&s, only, N(only));
  /* Renamed in from outside the root, then out again. */
  path_of(p2, sizeof p2, "outside");
  assert_int_equal(rename(p2, p1), 0);
  replay_until(v, root, &s, "m4");
  set_is(&s, excl, N(excl));
  assert_int_equal(rename(p1, p2), 0);
  replay_until(v, root, &s, "m5");
  set_is(&s, only, N(only));
  vigil_close(v);
}

static void nested_ignore_files_change(void **state) {
  (void)state;
  mk("r");
  mk("r/sub");
  mk("r/gen");
  put("r/a.o", "x");
  put("r/sub/keep.o", "x");
  put("r/sub/x.o", "x");
  put("r/gen/a.tmp", "x");
  put("r/gen/b", "x");
  put("r/gen/.gitignore", "*.tmp\n");
  put("r/.gitignore", "*.o\ngen/\n");
  put("r/sub/.gitignore", "!keep.o\n");
  pathset s;
  const char *init[] = {".gitignore", "sub", "sub/.gitignore", "sub/keep.o"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256];
  path_of(root, sizeof root, "r");
  /* The deeper file still decides what it matches. */
  put("r/.gitignore", "*.o\n");
  replay_until(v, root, &s, "m1");
  /* gen/ is listed anew, and its own ignore file is read. */
  const char *s1[] = {".gitignore",     "sub",  "sub/.gitignore", "sub/keep.o", "gen",
                      "gen/.gitignore", "gen/b"};
  set_is(&s, s1, N(s1));
  put("r/gen/a.tmp", "y");
  assert_int_equal(replay_until(v, root, &s, "m2"), 0);
  /* The nested file edited. */
  put("r/sub/.gitignore", "!x.o\n");
  replay_until(v, root, &s, "m3");
  const char *s3[] = {".gitignore",     "sub",  "sub/.gitignore", "sub/x.o", "gen",
                      "gen/.gitignore", "gen/b"};
  set_is(&s, s3, N(s3));
  put("r/.gitignore", "");
  replay_until(v, root, &s, "m4");
  const char *s4[] = {".gitignore", "sub", "sub/.gitignore", "sub/x.o", "sub/keep.o",
                      "a.o",        "gen", "gen/.gitignore", "gen/b"};
  set_is(&s, s4, N(s4));
  vigil_close(v);
}

static void a_moved_directory_keeps_its_ignore_file(void **state) {
  (void)state;
  mk("r");
  mk("r/p");
  put("r/p/.gitignore", "*.o\n");
  put("r/p/a.o", "x");
  pathset s;
  const char *init[] = {"p", "p/.gitignore"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256], p1[256], p2[256];
  path_of(root, sizeof root, "r");
  path_of(p1, sizeof p1, "r/p");
  path_of(p2, sizeof p2, "r/q");
  assert_int_equal(rename(p1, p2), 0);
  put("r/q/b.o", "x");
  replay_until(v, root, &s, "m1");
  const char *s1[] = {"q", "q/.gitignore"};
  set_is(&s, s1, N(s1));
  put("r/q/.gitignore", "");
  replay_until(v, root, &s, "m2");
  const char *s2[] = {"q", "q/.gitignore", "q/a.o", "q/b.o"};
  set_is(&s, s2, N(s2));
  vigil_close(v);
}

static void ignore_file_exchanged_with_another(void **state) {
  (void)state;
  mk("r");
  put("r/.gitignore", "*.o\n");
  put("r/other", "*.log\n");
  put("r/a.o", "x");
  put("r/b.log", "x");
  pathset s;
  const char *init[] = {".gitignore", "other", "b.log"};
  vigil_t *v = open_ignoring("r", &s, init, N(init));
  char root[256], p1[256], p2[256];
  path_of(root, sizeof root, "r");
  path_of(p1, sizeof p1, "r/.gitignore");
  path_of(p2, sizeof p2, "r/other");
  /* One step swaps the two names: the patterns in force are the other file's. */
  if (renameat2(AT_FDCWD, p1, AT_FDCWD, p2, RENAME_EXCHANGE) < 0) {
    vigil_close(v);
    skip();
  }
  replay_until(v, root, &s, "m1");
  const char *s1[] = {".gitignore", "other", "a.o"};
  set_is(&s, s1, N(s1));
  put("r/c.o", "x");
  put("r/d.log", "x");
  replay_until(v, root, &s, "m2");
  const char *s2[] = {".gitignore", "other", "a.o", "c.o"};
  set_is(&s, s2, N(s2));
  vigil_close(v);
}

/* -- base patterns: below the ignore files ----------------------------------- */

/*
 * git's order, highest first: the command line (exclude), the .gitignore
 * files from the deepest up, then .git/info/exclude and the global file
 * (base_exclude, in which the last matching line wins too). Nothing below
 * an excluded directory comes back, whichever tier excluded it.
 */
static void base_patterns_yield_to_ignore_files(void **state) {
  (void)state;
  mk("r");
  mk("r/sub");
  mk("r/gen");
  mk("r/out");
  put("r/.gitignore", "!keep.o\n*.log\n!/gen/\n!top.o\n!out/x.c\n");
  put("r/sub/.gitignore", "!deep.o\n");
  const char *base[] = {"*.o", "!*.log", "/gen/", "out/", "*.tmp", "*.c", "!a.c"};
  const char *ex[] = {"top.o", "!forced.tmp"};
  vigil_options o;
  vigil_options_init(&o);
  o.ignore_file = ".gitignore";
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.exclude = ex;
  ro.exclude_count = N(ex);
  ro.base_exclude = base;
  ro.base_exclude_count = N(base);
  char root[256];
  path_of(root, sizeof root, "r");
  assert_int_equal(vigil_add_opts(v, root, 0, &ro), 0);
  assert_int_equal(watches(v), 3); /* r, r/sub, r/gen: never r/out */
  const char *rels[] = {"r/a.o",   "r/keep.o",  "r/sub/b.o", "r/sub/deep.o", "r/x.log",
                        "r/gen/g", "r/out/x.c", "r/top.o",   "r/x.tmp",      "r/forced.tmp",
                        "r/a.c",   "r/b.c",     "r/plain"};
  int want[] = {0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1};
  int seen[N(rels)];
  reported(v, rels, N(rels), seen, "r/marker");
  for (size_t i = 0; i < N(rels); i++)
    if (seen[i] != want[i])
      fail_msg("%s: reported %d times, not %d", rels[i], seen[i], want[i]);
  vigil_close(v);
}

/*
 * Base patterns take part when an ignore file changes: what a new "!"
 * line brings back is listed, watched and reported created, and what it
 * no longer brings back is removed again.
 */
static void base_patterns_rejudged_when_an_ignore_file_changes(void **state) {
  (void)state;
  mk("r");
  mk("r/gen");
  put("r/gen/g.c", "x");
  put("r/a.o", "x");
  put("r/b.c", "x");
  const char *base[] = {"*.o", "gen/"};
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.base_exclude = base;
  ro.base_exclude_count = N(base);
  pathset s;
  const char *init[] = {"b.c"};
  vigil_t *v = open_with("r", &ro, &s, init, N(init));
  char root[256];
  path_of(root, sizeof root, "r");
  assert_int_equal(watches(v), 2); /* r and the marker root */
  put("r/.gitignore", "!a.o\n!gen/\n");
  replay_until(v, root, &s, "m1");
  const char *s1[] = {".gitignore", "b.c", "a.o", "gen", "gen/g.c"};
  set_is(&s, s1, N(s1));
  assert_int_equal(watches(v), 3);
  put("r/gen/h.o", "x"); /* still left out: only a.o was brought back */
  put("r/gen/h.c", "x");
  replay_until(v, root, &s, "m2");
  const char *s2[] = {".gitignore", "b.c", "a.o", "gen", "gen/g.c", "gen/h.c"};
  set_is(&s, s2, N(s2));
  put("r/.gitignore", "!gen/\n");
  replay_until(v, root, &s, "m3");
  const char *s3[] = {".gitignore", "b.c", "gen", "gen/g.c", "gen/h.c"};
  set_is(&s, s3, N(s3));
  char p[256];
  path_of(p, sizeof p, "r/.gitignore");
  assert_int_equal(unlink(p), 0);
  replay_until(v, root, &s, "m4");
  const char *s4[] = {"b.c"};
  set_is(&s, s4, N(s4));
  assert_int_equal(watches(v), 2);
  vigil_close(v);
}

/*
 * Base patterns alone, with no ignore file: they still exclude, and a
 * directory moved within the root is judged again under its new path.
 */
static void base_patterns_alone_judge_a_moved_directory(void **state) {
  (void)state;
  mk("r");
  mk("r/a");
  put("r/a/x", "x");
  put("r/a/y", "x");
  put("r/z.o", "x");
  const char *base[] = {"*.o", "/d/x"};
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.base_exclude = base;
  ro.base_exclude_count = N(base);
  ro.ignore_file = "";
  pathset s;
  const char *init[] = {"a", "a/x", "a/y"};
  vigil_t *v = open_with("r", &ro, &s, init, N(init));
  char root[256], p1[256], p2[256];
  path_of(root, sizeof root, "r");
  path_of(p1, sizeof p1, "r/a");
  path_of(p2, sizeof p2, "r/d");
  assert_int_equal(rename(p1, p2), 0);
  put("r/w.o", "x");
  replay_until(v, root, &s, "m1");
  const char *s1[] = {"d", "d/y"};
  set_is(&s, s1, N(s1));
  vigil_close(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(nested_files_apply_below_their_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(each_root_keeps_its_own_ignore_files, setup, teardown),
      cmocka_unit_test_setup_teardown(caller_patterns_have_the_last_word, setup, teardown),
      cmocka_unit_test_setup_teardown(ignore_file_created_later_drops_what_it_excludes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(ignore_file_edited_adds_and_removes_patterns, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(ignore_file_deleted_or_renamed, setup, teardown),
      cmocka_unit_test_setup_teardown(nested_ignore_files_change, setup, teardown),
      cmocka_unit_test_setup_teardown(a_moved_directory_keeps_its_ignore_file, setup, teardown),
      cmocka_unit_test_setup_teardown(ignore_file_exchanged_with_another, setup, teardown),
      cmocka_unit_test_setup_teardown(base_patterns_yield_to_ignore_files, setup, teardown),
      cmocka_unit_test_setup_teardown(base_patterns_rejudged_when_an_ignore_file_changes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(base_patterns_alone_judge_a_moved_directory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
