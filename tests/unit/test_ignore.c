/*
 * Per-directory ignore files (vigil_options.ignore_file): nested files
 * apply below their directory, each root keeps its own, and the caller's
 * exclude patterns have the last word.
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

#include "vigil.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", dir, rel);
}

static void mk(const char *rel) {
  char p[256];
  path_of(p, sizeof p, rel);
  assert_int_equal(mkdir(p, 0755), 0);
}

static void put(const char *rel, const char *text) {
  char p[256];
  path_of(p, sizeof p, rel);
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

static int setup(void **state) {
  (void)state;
  strcpy(dir, "/tmp/vigil-ignore-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(nested_files_apply_below_their_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(each_root_keeps_its_own_ignore_files, setup, teardown),
      cmocka_unit_test_setup_teardown(caller_patterns_have_the_last_word, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
