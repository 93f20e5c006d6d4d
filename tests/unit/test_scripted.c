/*
 * The tree and the event contract on the scripted backend: the test does
 * something on disk and scripts what a kernel would have said, and checks
 * the events. No kernel watch is involved (the test checks that none
 * exists): this is what any backend gets from the core through
 * src/backend/backend.h alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"
#include "backend/scripted.h"

typedef struct {
  char dir[64];
  char out[64]; /* a directory outside the root */
  vigil_t *v;
  void *s; /* the backend's state */
  char got[4096];
} fixture;

/* Descriptors of this process that are inotify instances. */
static int inotify_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[300], l[64];
    snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(p, l, sizeof l - 1);
    if (len > 0) {
      l[len] = '\0';
      n += strcmp(l, "anon_inode:inotify") == 0;
    }
  }
  closedir(d);
  return n;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  tu_tmpdir(f->dir, sizeof f->dir, "scripted");
  tu_tmpdir(f->out, sizeof f->out, "scripted-out");
  tu_write_at(f->dir, "a", "");
  tu_mkdir_at(f->dir, "sub");
  tu_write_at(f->dir, "sub/x", "");
  vigil_options o;
  assert_int_equal(vigil_options_init(&o), 0);
  assert_int_equal(vigil__open_with(&f->v, &o, &vigil__backend_scripted), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  f->s = f->v->src[0].state;
  assert_int_equal(vigil__scripted_watching(f->s), 2);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  vigil_close(f->v);
  assert_int_equal(tu_rm_tree(f->dir), 0);
  assert_int_equal(tu_rm_tree(f->out), 0);
  free(f);
  return 0;
}

static int by_string(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Reads every event there is, as lines "kind path[ <- from][ (synthetic)][ (by move)]"
 * with paths relative to the root, sorted: a listing's order is the file
 * system's.
 */
static const char *events(fixture *f) {
  char *lines[64];
  size_t n = 0;
  vigil_event ev;
  size_t root = strlen(f->dir) + 1;
  while (vigil_read(f->v, &ev, 0) == 1) {
    assert_true(n < 64);
    char line[512];
    const char *path = ev.path ? (strlen(ev.path) >= root ? ev.path + root : "") : "-";
    int k = snprintf(line, sizeof line, "%s %s", vigil_kind_name(ev.kind), path);
    if (ev.from)
      k += snprintf(line + k, sizeof line - (size_t)k, " <- %s", ev.from + root);
    if (ev.flags & VIGIL_SYNTHETIC)
      k += snprintf(line + k, sizeof line - (size_t)k, " (synthetic)");
    if (ev.flags & VIGIL_BY_MOVE)
      snprintf(line + k, sizeof line - (size_t)k, " (by move)");
    lines[n++] = strdup(line);
  }
  qsort(lines, n, sizeof lines[0], by_string);
  f->got[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(f->got, lines[i]);
    strcat(f->got, "\n");
    free(lines[i]);
  }
  return f->got;
}

static void path_of(char *buf, size_t size, const char *dir, const char *rel) {
  snprintf(buf, size, "%s/%s", dir, rel);
}

static void move(const char *from_dir, const char *from, const char *to_dir, const char *to) {
  char a[256], b[256];
  path_of(a, sizeof a, from_dir, from);
  path_of(b, sizeof b, to_dir, to);
  assert_int_equal(rename(a, b), 0);
}

static void no_kernel_watch(void **state) {
  fixture *f = *state;
  assert_int_equal(inotify_fds(), 0);
  const char *name = NULL;
  assert_int_equal(vigil_root_backend(f->v, f->dir, &name), 0);
  assert_string_equal(name, "scripted");
  vigil_stats st = {0};
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 2);
  assert_string_equal(events(f), "");
}

static void created_file_and_directory(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "c", "");
  tu_mkdir_at(f->dir, "d");
  /* Made before the directory's watch: only its listing can tell. */
  tu_write_at(f->dir, "d/y", "");
  assert_int_equal(vigil__scripted_appeared(f->s, "", "c", 0, VIGIL__BY_CREATE), 0);
  assert_int_equal(vigil__scripted_appeared(f->s, "", "d", 1, VIGIL__BY_CREATE), 0);
  assert_string_equal(events(f), "created c\n"
                                 "created d\n"
                                 "created d/y (synthetic)\n");
  assert_int_equal(vigil__scripted_watching(f->s), 3);
  /* Told twice, as a kernel may after a listing: reported once. */
  assert_int_equal(vigil__scripted_appeared(f->s, "d", "y", 0, VIGIL__BY_CREATE), 0);
  assert_string_equal(events(f), "");
}

static void removed_file_and_directory(void **state) {
  fixture *f = *state;
  char p[256];
  path_of(p, sizeof p, f->dir, "a");
  assert_int_equal(unlink(p), 0);
  path_of(p, sizeof p, f->dir, "sub/x");
  assert_int_equal(unlink(p), 0);
  path_of(p, sizeof p, f->dir, "sub");
  assert_int_equal(rmdir(p), 0);
  assert_int_equal(vigil__scripted_gone(f->s, "", "a", VIGIL__BY_CREATE), 0);
  assert_int_equal(vigil__scripted_gone(f->s, "sub", "x", VIGIL__BY_CREATE), 0);
  assert_int_equal(vigil__scripted_self_gone(f->s, "sub"), 0);
  assert_int_equal(vigil__scripted_gone(f->s, "", "sub", VIGIL__BY_CREATE), 0);
  assert_string_equal(events(f), "removed a\n"
                                 "removed sub\n"
                                 "removed sub/x\n");
  assert_int_equal(vigil__scripted_watching(f->s), 1);
}

static void moves_within_the_tree(void **state) {
  fixture *f = *state;
  move(f->dir, "a", f->dir, "sub/b");
  assert_int_equal(vigil__scripted_moved(f->s, "", "a", "sub", "b", 0), 0);
  assert_string_equal(events(f), "moved sub/b <- a\n");
  move(f->dir, "sub", f->dir, "sub2");
  assert_int_equal(vigil__scripted_moved(f->s, "", "sub", "", "sub2", 1), 0);
  assert_string_equal(events(f), "moved sub2 <- sub\n");
  /* The directory's watch followed it: the backend finds it by its new path. */
  tu_write_at(f->dir, "sub2/x", "new");
  assert_int_equal(vigil__scripted_changed(f->s, "sub2", "x", VIGIL_MODIFIED), 0);
  assert_int_equal(vigil__scripted_changed(f->s, "sub", "x", VIGIL_MODIFIED), 0);
  assert_string_equal(events(f), "modified sub2/x\n");
}

static void moves_into_and_out_of_the_tree(void **state) {
  fixture *f = *state;
  tu_mkdir_at(f->out, "in");
  tu_write_at(f->out, "in/y", "");
  tu_mkdir_at(f->out, "in/deep");
  tu_write_at(f->out, "in/deep/z", "");
  move(f->out, "in", f->dir, "in");
  assert_int_equal(vigil__scripted_appeared(f->s, "", "in", 1, VIGIL__BY_MOVE), 0);
  assert_string_equal(events(f), "created in (by move)\n"
                                 "created in/deep (synthetic)\n"
                                 "created in/deep/z (synthetic)\n"
                                 "created in/y (synthetic)\n");
  assert_int_equal(vigil__scripted_watching(f->s), 4);
  move(f->dir, "sub", f->out, "sub");
  assert_int_equal(vigil__scripted_gone(f->s, "", "sub", VIGIL__BY_MOVE), 0);
  move(f->dir, "a", f->out, "a");
  assert_int_equal(vigil__scripted_moved(f->s, "", "a", "nowhere", "a", 0), 0);
  /* Only the top of what left carries VIGIL_BY_MOVE. */
  assert_string_equal(events(f), "removed a (by move)\n"
                                 "removed sub (by move)\n"
                                 "removed sub/x\n");
  assert_int_equal(vigil__scripted_watching(f->s), 3);
}

static void overflow_is_reported_and_repaired(void **state) {
  fixture *f = *state;
  char p[256];
  tu_write_at(f->dir, "c", "");
  path_of(p, sizeof p, f->dir, "a");
  assert_int_equal(unlink(p), 0);
  tu_mkdir_at(f->dir, "sub/new");
  tu_write_at(f->dir, "sub/new/n", "");
  assert_int_equal(vigil__scripted_overflow(f->s), 0);
  /*
   * No sync clock: the repair cannot tell which files changed while
   * records were lost, so it reports every one it kept (sub/x).
   */
  assert_string_equal(events(f), "created c (synthetic)\n"
                                 "created sub/new (synthetic)\n"
                                 "created sub/new/n (synthetic)\n"
                                 "modified sub/x (synthetic)\n"
                                 "overflow -\n"
                                 "removed a\n");
  assert_int_equal(vigil__scripted_watching(f->s), 3);
  /* Repaired: what comes next is applied to the new tree. */
  assert_int_equal(vigil__scripted_changed(f->s, "sub/new", "n", VIGIL_CLOSED), 0);
  assert_string_equal(events(f), "closed sub/new/n\n");
}

static void directory_changed_is_listed_again(void **state) {
  fixture *f = *state;
  char p[256];
  tu_write_at(f->dir, "sub/y", "");
  tu_mkdir_at(f->dir, "sub/d");
  tu_write_at(f->dir, "sub/d/z", "");
  path_of(p, sizeof p, f->dir, "sub/x");
  assert_int_equal(unlink(p), 0);
  tu_write_at(f->dir, "a", "changed, but no one said so");
  assert_int_equal(vigil__scripted_dir_changed(f->s, "sub"), 0);
  assert_string_equal(events(f), "created sub/d (synthetic)\n"
                                 "created sub/d/z (synthetic)\n"
                                 "created sub/y (synthetic)\n"
                                 "removed sub/x\n");
  assert_int_equal(vigil__scripted_watching(f->s), 3);
  /* Nothing changed: nothing to say. */
  assert_int_equal(vigil__scripted_dir_changed(f->s, ""), 0);
  assert_string_equal(events(f), "");
}

static void count_event(vigil_t *v, const vigil_event *ev, void *userdata) {
  (void)v;
  (void)ev;
  (*(int *)userdata)++;
}

/* vigil_drain delivers what the backend held, counted in its own units (records). */
static void drain_counts_records(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "c", "");
  tu_write_at(f->dir, "e", "");
  assert_int_equal(vigil__scripted_appeared(f->s, "", "c", 0, VIGIL__BY_CREATE), 0);
  assert_int_equal(vigil__scripted_appeared(f->s, "", "e", 0, VIGIL__BY_CREATE), 0);
  assert_int_equal(f->v->src[0].be->pending(f->s), 2);
  int seen = 0;
  assert_int_equal(vigil_drain(f->v, count_event, &seen, 1000), 2);
  assert_int_equal(seen, 2);
  assert_int_equal(f->v->src[0].be->pending(f->s), 0);
  assert_string_equal(events(f), "");
}

/*
 * Several backends in one instance: roots of the scripted backend and of
 * inotify, each reporting through its own, and the roots of one backend
 * sharing one instance of it.
 */
static void roots_on_several_backends(void **state) {
  fixture *f = *state;
  char b[128], c[128];
  tu_mkdir_at(f->out, "b");
  tu_mkdir_at(f->out, "c");
  path_of(b, sizeof b, f->out, "b");
  path_of(c, sizeof c, f->out, "c");
  vigil_root_options ro;
  assert_int_equal(vigil_root_options_init(&ro), 0);
  ro.backend = "no-such-backend";
  assert_int_equal(vigil_add_opts(f->v, b, 0, &ro), VIGIL_ENOBACKEND);
  assert_int_equal(inotify_fds(), 0);
  ro.backend = "inotify";
  assert_int_equal(vigil_add_opts(f->v, b, 0, &ro), 0);
  assert_int_equal(vigil_add_opts(f->v, c, 0, &ro), 0);
  assert_int_equal(inotify_fds(), 1);
  const char *name = NULL;
  assert_int_equal(vigil_root_backend(f->v, b, &name), 0);
  assert_string_equal(name, "inotify");
  assert_int_equal(vigil_root_backend(f->v, c, &name), 0);
  assert_string_equal(name, "inotify");
  assert_int_equal(vigil_root_backend(f->v, f->dir, &name), 0);
  assert_string_equal(name, "scripted");
  vigil_stats st = {0};
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 4);

  /* The kernel reports c's file; the script, the scripted root's. */
  tu_write_at(f->out, "c/k", "");
  tu_write_at(f->dir, "s", "");
  assert_int_equal(vigil__scripted_appeared(f->s, "", "s", 0, VIGIL__BY_CREATE), 0);
  int seen_k = 0, seen_s = 0;
  char k[300], s[300];
  path_of(k, sizeof k, c, "k");
  path_of(s, sizeof s, f->dir, "s");
  for (int i = 0; i < 50 && !(seen_k && seen_s); i++) {
    vigil_event ev;
    int r = vigil_read(f->v, &ev, 100);
    assert_true(r >= 0);
    if (r == 1 && ev.kind == VIGIL_CREATED) {
      seen_k |= strcmp(ev.path, k) == 0;
      seen_s |= strcmp(ev.path, s) == 0;
    }
  }
  assert_true(seen_k && seen_s);
  /* Removing the inotify roots leaves the scripted one as it was. */
  assert_int_equal(vigil_remove(f->v, b), 0);
  assert_int_equal(vigil_remove(f->v, c), 0);
  assert_int_equal(vigil__scripted_watching(f->s), 2);
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.watches, 2);
}

/*
 * A recursive backend is given only the roots' tops to watch: the core
 * counts the directories below as watched through them, and applies what
 * it says about them all the same.
 */
static void a_recursive_backend_watches_only_the_tops(void **state) {
  fixture *f = *state;
  char r[128];
  tu_mkdir_at(f->out, "r");
  tu_mkdir_at(f->out, "r/sub");
  tu_mkdir_at(f->out, "r/sub/deep");
  path_of(r, sizeof r, f->out, "r");
  vigil_t *v;
  assert_int_equal(vigil__open_with(&v, NULL, &vigil__backend_scripted_recursive), 0);
  assert_int_equal(vigil_add(v, r, 0), 0);
  void *s = v->src[0].state;
  assert_int_equal(vigil__scripted_watching(s), 1);
  tu_mkdir_at(f->out, "r/sub/deep/new");
  tu_write_at(f->out, "r/sub/deep/new/n", "");
  assert_int_equal(vigil__scripted_appeared(s, "sub/deep", "new", 1, VIGIL__BY_CREATE), 0);
  vigil_event ev;
  char want[300];
  assert_int_equal(vigil_read(v, &ev, 0), 1);
  path_of(want, sizeof want, r, "sub/deep/new");
  assert_string_equal(ev.path, want);
  assert_int_equal(ev.kind, VIGIL_CREATED);
  assert_int_equal(vigil_read(v, &ev, 0), 1);
  path_of(want, sizeof want, r, "sub/deep/new/n");
  assert_string_equal(ev.path, want);
  assert_int_equal(ev.kind, VIGIL_CREATED);
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  /* Still only the top: the new directory was listed, not watched on its own. */
  assert_int_equal(vigil__scripted_watching(s), 1);
  assert_int_equal(vigil__scripted_changed(s, "sub/deep/new", "n", VIGIL_MODIFIED), 0);
  assert_int_equal(vigil_read(v, &ev, 0), 1);
  assert_string_equal(ev.path, want);
  assert_int_equal(ev.kind, VIGIL_MODIFIED);
  assert_int_equal(vigil_remove(v, r), 0);
  assert_int_equal(vigil__scripted_watching(s), 0);
  vigil_close(v);
}

/*
 * Roots of two backends that overlap (one inside the other, or a file in
 * the other's directory) share no watch, so neither could tell that the
 * other reports a change: vigil_add refuses them, compared by device and
 * inode, whichever is added first. Roots of one backend may overlap, and
 * a root that watches only its top holds nothing below it.
 */
static void overlapping_roots_of_two_backends(void **state) {
  fixture *f = *state;
  char sub[128], a[128], y[128], other[128], inner[128], flat[128], flat_x[160], flat_f[160];
  char link[160];
  path_of(sub, sizeof sub, f->dir, "sub");
  path_of(a, sizeof a, f->dir, "a");
  tu_mkdir_at(f->dir, "sub/y");
  path_of(y, sizeof y, f->dir, "sub/y");
  vigil_root_options ino;
  assert_int_equal(vigil_root_options_init(&ino), 0);
  ino.backend = "inotify";
  /* Inside the scripted root, a file of it, the same directory, and through a link. */
  assert_int_equal(vigil_add_opts(f->v, sub, 0, &ino), VIGIL_EOVERLAP);
  assert_int_equal(vigil_add_opts(f->v, a, 0, &ino), VIGIL_EOVERLAP);
  assert_int_equal(vigil_add_opts(f->v, f->dir, 0, &ino), VIGIL_EEXIST);
  path_of(link, sizeof link, f->out, "link");
  assert_int_equal(symlink(sub, link), 0);
  assert_int_equal(vigil_add_opts(f->v, link, 0, &ino), VIGIL_EOVERLAP);
  assert_int_equal(unlink(link), 0);
  assert_non_null(strstr(vigil_strerror(VIGIL_EOVERLAP), "another backend"));

  /* The other way round: a scripted root that would hold an inotify one. */
  tu_mkdir_at(f->out, "other");
  tu_mkdir_at(f->out, "other/inner");
  path_of(other, sizeof other, f->out, "other");
  path_of(inner, sizeof inner, f->out, "other/inner");
  assert_int_equal(vigil_add_opts(f->v, inner, 0, &ino), 0);
  assert_int_equal(vigil_add(f->v, other, 0), VIGIL_EOVERLAP);
  /* A root of the same backend may overlap it. */
  assert_int_equal(vigil_add_opts(f->v, other, 0, &ino), 0);

  /* A root that watches only its top holds its own entries, nothing below. */
  tu_mkdir_at(f->out, "flat");
  tu_mkdir_at(f->out, "flat/x");
  tu_write_at(f->out, "flat/f", "");
  path_of(flat, sizeof flat, f->out, "flat");
  path_of(flat_x, sizeof flat_x, flat, "x");
  path_of(flat_f, sizeof flat_f, flat, "f");
  assert_int_equal(vigil_add(f->v, flat, VIGIL_NORECURSE), 0);
  assert_int_equal(vigil_add_opts(f->v, flat_x, 0, &ino), 0);
  assert_int_equal(vigil_add_opts(f->v, flat_f, 0, &ino), VIGIL_EOVERLAP);

  /* Once the scripted root is gone, its directories are free for inotify. */
  assert_int_equal(vigil_remove(f->v, f->dir), 0);
  assert_int_equal(vigil_add_opts(f->v, sub, 0, &ino), 0);
  assert_int_equal(vigil_add_opts(f->v, y, 0, &ino), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), VIGIL_EOVERLAP);
  const char *name = NULL;
  assert_int_equal(vigil_root_backend(f->v, sub, &name), 0);
  assert_string_equal(name, "inotify");
  assert_int_equal(vigil_root_backend(f->v, flat, &name), 0);
  assert_string_equal(name, "scripted");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(no_kernel_watch, setup, teardown),
      cmocka_unit_test_setup_teardown(created_file_and_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(removed_file_and_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(moves_within_the_tree, setup, teardown),
      cmocka_unit_test_setup_teardown(moves_into_and_out_of_the_tree, setup, teardown),
      cmocka_unit_test_setup_teardown(overflow_is_reported_and_repaired, setup, teardown),
      cmocka_unit_test_setup_teardown(directory_changed_is_listed_again, setup, teardown),
      cmocka_unit_test_setup_teardown(drain_counts_records, setup, teardown),
      cmocka_unit_test_setup_teardown(roots_on_several_backends, setup, teardown),
      cmocka_unit_test_setup_teardown(overlapping_roots_of_two_backends, setup, teardown),
      cmocka_unit_test_setup_teardown(a_recursive_backend_watches_only_the_tops, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
