/* Unit tests of the tree model (src/tree.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

typedef struct {
  vigil__tree t;
  vigil__root root;
  vigil__node *top;
  char *buf;
  size_t len, cap;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(vigil__tree_init(&f->t), 0);
  f->root.given = strdup("base/");
  f->root.prefix_len = 4;
  f->top = vigil__node_new(&f->t, "", 0, VIGIL__T_DIR, 1);
  vigil__node_dir(f->top)->root = &f->root;
  f->root.top = f->top;
  *state = f;
  return 0;
}

static void free_all(vigil__tree *t, vigil__node *n) {
  while (vigil__node_dir(n) && vigil__node_first(n)) {
    vigil__node *c = vigil__node_first(n);
    free_all(t, c);
  }
  vigil__tree_unlink(t, n);
  vigil__node_free(t, n);
}

static int teardown(void **state) {
  fixture *f = *state;
  free_all(&f->t, f->top);
  vigil__tree_free(&f->t);
  free(f->root.given);
  free(f->buf);
  free(f);
  return 0;
}

static vigil__node *add(fixture *f, vigil__node *parent, const char *name, int type) {
  vigil__node *n = vigil__node_new(&f->t, name, strlen(name), type, 0);
  assert_non_null(n);
  assert_int_equal(vigil__tree_link(&f->t, parent, n), 0);
  return n;
}

static const char *path(fixture *f, vigil__node *n) {
  f->len = 0;
  assert_int_equal(vigil__node_path(n, &f->buf, &f->len, &f->cap), 0);
  return f->buf;
}

static const char *relpath(fixture *f, vigil__node *n) {
  f->len = 0;
  assert_int_equal(vigil__node_relpath(n, &f->buf, &f->len, &f->cap), 0);
  return f->buf;
}

static void paths_join_the_root_as_given(void **state) {
  fixture *f = *state;
  vigil__node *a = add(f, f->top, "a", VIGIL__T_DIR);
  vigil__node *x = add(f, a, "x.txt", VIGIL__T_FILE);
  /* The trailing slash of "base/" is not doubled. */
  assert_string_equal(path(f, x), "base/a/x.txt");
  assert_string_equal(path(f, a), "base/a");
  assert_string_equal(path(f, f->top), "base/");
  assert_string_equal(relpath(f, x), "a/x.txt");
  assert_string_equal(relpath(f, f->top), "");
}

static void slash_root_has_no_double_slash(void **state) {
  fixture *f = *state;
  free(f->root.given);
  f->root.given = strdup("/");
  f->root.prefix_len = 1;
  vigil__node *e = add(f, f->top, "etc", VIGIL__T_DIR);
  assert_string_equal(path(f, e), "/etc");
}

static void find_distinguishes_parents_and_names(void **state) {
  fixture *f = *state;
  vigil__node *a = add(f, f->top, "a", VIGIL__T_DIR);
  vigil__node *b = add(f, f->top, "b", VIGIL__T_DIR);
  vigil__node *ax = add(f, a, "x", VIGIL__T_FILE);
  vigil__node *bx = add(f, b, "x", VIGIL__T_FILE);
  assert_ptr_equal(vigil__tree_find(&f->t, a, "x", 1), ax);
  assert_ptr_equal(vigil__tree_find(&f->t, b, "x", 1), bx);
  assert_null(vigil__tree_find(&f->t, a, "y", 1));
  assert_null(vigil__tree_find(&f->t, a, "xx", 2));
  assert_int_equal(f->t.count, 4);
  assert_int_equal(f->t.dirs, 2);
  vigil__tree_unlink(&f->t, ax);
  vigil__node_free(&f->t, ax);
  assert_null(vigil__tree_find(&f->t, a, "x", 1));
  assert_ptr_equal(vigil__tree_find(&f->t, b, "x", 1), bx);
  assert_int_equal(vigil__node_dir(a)->nchild, 0);
}

static void index_survives_growth(void **state) {
  fixture *f = *state;
  char name[32];
  vigil__node *d = add(f, f->top, "d", VIGIL__T_DIR);
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof name, "f%d", i);
    add(f, d, name, VIGIL__T_FILE);
  }
  /* Nothing looked into the top or d yet: no child is indexed. */
  assert_int_equal(f->t.indexed, 0);
  assert_int_equal(f->t.count, 5001);
  for (int i = 0; i < 5000; i += 7) {
    snprintf(name, sizeof name, "f%d", i);
    vigil__node *n = vigil__tree_find(&f->t, d, name, strlen(name));
    assert_non_null(n);
    assert_string_equal(vigil__node_name(n), name);
  }
  assert_int_equal(f->t.indexed, 5000);
  assert_true(2 * (f->t.mask + 1) >= 5000);
  /* Once indexed, later children go straight in, and leave again. */
  vigil__node *late = add(f, d, "late", VIGIL__T_FILE);
  assert_ptr_equal(vigil__tree_find(&f->t, d, "late", 4), late);
  vigil__tree_unlink(&f->t, late);
  vigil__node_free(&f->t, late);
  assert_null(vigil__tree_find(&f->t, d, "late", 4));
  assert_int_equal(f->t.indexed, 5000);
  assert_int_equal(vigil__tree_count(d), 5001);
}

static void move_reparents_a_whole_subtree(void **state) {
  fixture *f = *state;
  vigil__node *a = add(f, f->top, "a", VIGIL__T_DIR);
  vigil__node *b = add(f, f->top, "b", VIGIL__T_DIR);
  vigil__node *sub = add(f, a, "sub", VIGIL__T_DIR);
  vigil__node *deep = add(f, sub, "deep.c", VIGIL__T_FILE);
  assert_int_equal(vigil__tree_move(&f->t, sub, b, "renamed", 7), 0);
  /* One re-parenting, and every path below is right at once. */
  assert_string_equal(path(f, deep), "base/b/renamed/deep.c");
  assert_ptr_equal(vigil__tree_find(&f->t, b, "renamed", 7), sub);
  assert_null(vigil__tree_find(&f->t, a, "sub", 3));
  assert_ptr_equal(vigil__tree_find(&f->t, sub, "deep.c", 6), deep);
  assert_int_equal(vigil__node_dir(a)->nchild, 0);
  assert_int_equal(vigil__node_dir(b)->nchild, 1);
}

static void rename_to_a_longer_name_keeps_the_node(void **state) {
  fixture *f = *state;
  vigil__node *x = add(f, f->top, "x", VIGIL__T_FILE);
  const char *longname = "a-much-longer-name-than-the-inline-room-holds.txt";
  assert_int_equal(vigil__tree_move(&f->t, x, f->top, longname, strlen(longname)), 0);
  assert_string_equal(vigil__node_name(x), longname);
  assert_ptr_equal(vigil__tree_find(&f->t, f->top, longname, strlen(longname)), x);
  assert_int_equal(vigil__tree_move(&f->t, x, f->top, "y", 1), 0);
  assert_string_equal(vigil__node_name(x), "y");
  assert_string_equal(path(f, x), "base/y");
}

static void names_are_bytes_not_strings(void **state) {
  fixture *f = *state;
  const char odd[] = "caf\xe9\xff\x01";
  vigil__node *n = add(f, f->top, odd, VIGIL__T_FILE);
  assert_ptr_equal(vigil__tree_find(&f->t, f->top, odd, strlen(odd)), n);
  assert_memory_equal(path(f, n), "base/caf\xe9\xff\x01", 12);
}

static void unlink_in_any_order_keeps_siblings_linked(void **state) {
  fixture *f = *state;
  vigil__node *d = add(f, f->top, "d", VIGIL__T_DIR);
  vigil__node *n[5];
  char name[4];
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof name, "n%d", i);
    n[i] = add(f, d, name, VIGIL__T_FILE);
  }
  int order[5] = {2, 0, 4, 1, 3};
  for (int i = 0; i < 5; i++) {
    vigil__tree_unlink(&f->t, n[order[i]]);
    vigil__node_free(&f->t, n[order[i]]);
    size_t seen = 0;
    for (vigil__node *k = vigil__node_first(d); k; k = vigil__node_next(k))
      seen++;
    assert_int_equal(seen, 4 - i);
    assert_int_equal(vigil__node_dir(d)->nchild, 4 - i);
  }
  assert_null(vigil__node_first(d));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(paths_join_the_root_as_given, setup, teardown),
      cmocka_unit_test_setup_teardown(slash_root_has_no_double_slash, setup, teardown),
      cmocka_unit_test_setup_teardown(find_distinguishes_parents_and_names, setup, teardown),
      cmocka_unit_test_setup_teardown(index_survives_growth, setup, teardown),
      cmocka_unit_test_setup_teardown(move_reparents_a_whole_subtree, setup, teardown),
      cmocka_unit_test_setup_teardown(rename_to_a_longer_name_keeps_the_node, setup, teardown),
      cmocka_unit_test_setup_teardown(names_are_bytes_not_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(unlink_in_any_order_keeps_siblings_linked, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
