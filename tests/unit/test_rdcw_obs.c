/*
 * The Windows backend's translation of ReadDirectoryChangesW records
 * into observations (src/backend/rdcw_obs.c), with the core, on real
 * directories: the test changes the disk, then hands over the records
 * Windows or wine gives for that change (as measured under wine, see
 * docs/backends.md), and checks the events. The reader that gets the
 * records from the kernel is tested under wine (tests/windows/).
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
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "instance.h"
#include "backend/rdcw.h"
#include "backend/rdcw_obs.h"

/* ---- A backend that reads scripted records through the translator. */

typedef struct rec {
  struct rec *next;
  unsigned action; /* 0: the end of a batch, with overflow and gone */
  int overflow, gone;
  char *path;
} rec;

typedef struct {
  int fd[2];
  rec *head, **tail;
  size_t pending;
  vigil__rdcw_obs obs;
  char root[128]; /* the root's path, for kind_of */
} tstate;

static tstate *last_state;

static int kind_of(void *ctx, const char *path, size_t len) {
  tstate *s = ctx;
  char p[512];
  int n = snprintf(p, sizeof p, "%s/%.*s", s->root, (int)len, path);
  for (int i = (int)strlen(s->root); i < n; i++)
    if (p[i] == '\\')
      p[i] = '/';
  struct stat st;
  if (lstat(p, &st) < 0)
    return -errno;
  return S_ISDIR(st.st_mode) ? 1 : 0;
}

static int t_open(void **out, int *fd, const vigil__backend_config *cfg) {
  (void)cfg;
  tstate *s = calloc(1, sizeof *s);
  if (!s || pipe(s->fd) < 0)
    return -ENOMEM;
  fcntl(s->fd[0], F_SETFL, O_NONBLOCK);
  s->tail = &s->head;
  s->obs.kind_of = kind_of;
  s->obs.kind_ctx = s;
  *out = s;
  *fd = s->fd[0];
  last_state = s;
  return 0;
}

static int t_watch(void *st, vigil__node *dir, int fd) {
  tstate *s = st;
  (void)fd;
  /* Recursive: the core gives only the root's top. */
  s->obs.top = dir;
  vigil__node_slot(dir)->num = 1;
  return 0;
}

static void t_unwatch(void *st, vigil__node *dir) {
  tstate *s = st;
  if (s->obs.top == dir)
    s->obs.top = NULL;
  vigil__node_slot(dir)->num = 0;
}

static rec *pop(tstate *s) {
  rec *r = s->head;
  if (r) {
    s->head = r->next;
    if (!s->head)
      s->tail = &s->head;
    s->pending--;
  }
  return r;
}

static void settle(tstate *s) {
  char buf[64];
  if (!s->pending)
    while (read(s->fd[0], buf, sizeof buf) > 0)
      ;
}

static int t_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  tstate *s = st;
  rec *r;
  while ((!max_units || out->units < max_units) && (r = pop(s))) {
    if (s->obs.top) {
      if (r->action)
        vigil__rdcw_obs_record(&s->obs, v, r->action, r->path, strlen(r->path));
      else
        vigil__rdcw_obs_result(&s->obs, v, r->overflow, r->gone);
    }
    free(r->path);
    free(r);
    out->records++;
    out->units++;
  }
  settle(s);
  return 0;
}

static vigil__node *t_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  tstate *s = st;
  return !after && dir == s->obs.top ? (vigil__node *)(uintptr_t)dir : NULL;
}

static size_t t_watches(void *st) {
  return ((tstate *)st)->obs.top != NULL;
}

static size_t t_pending(void *st) {
  return ((tstate *)st)->pending;
}

static size_t t_discard(void *st, size_t max_units) {
  tstate *s = st;
  size_t n = 0;
  rec *r;
  while (n < max_units && (r = pop(s))) {
    free(r->path);
    free(r);
    n++;
  }
  settle(s);
  return n;
}

static void t_flush(void *st, vigil_t *v) {
  tstate *s = st;
  vigil__rdcw_obs_end(&s->obs, v);
}

static void t_close(void *st) {
  tstate *s = st;
  rec *r;
  while ((r = pop(s))) {
    free(r->path);
    free(r);
  }
  vigil__rdcw_obs_free(&s->obs);
  close(s->fd[0]);
  close(s->fd[1]);
  free(s);
}

static const vigil__backend rdcw_scripted = {
    .name = "rdcw-scripted",
    .caps = VIGIL__CAP_PAIRS_RENAMES | VIGIL__CAP_RECURSIVE,
    .open = t_open,
    .watch = t_watch,
    .unwatch = t_unwatch,
    .read = t_read,
    .sharing = t_sharing,
    .watches = t_watches,
    .pending = t_pending,
    .discard = t_discard,
    .flush = t_flush,
    .close = t_close,
};

static void push(tstate *s, unsigned action, const char *path, int overflow, int gone) {
  rec *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->action = action;
  r->path = strdup(path ? path : "");
  r->overflow = overflow;
  r->gone = gone;
  *s->tail = r;
  s->tail = &r->next;
  if (s->pending++ == 0)
    assert_int_equal(write(s->fd[1], "", 1), 1);
}

/* One batch: records as "A path", "R path", "M path", "O path", "N path"; NULL ends it. */
static void batch(tstate *s, ...) {
  va_list ap;
  va_start(ap, s);
  const char *r;
  while ((r = va_arg(ap, const char *))) {
    unsigned action = r[0] == 'A'   ? VIGIL__RDCW_ADDED
                      : r[0] == 'R' ? VIGIL__RDCW_REMOVED
                      : r[0] == 'M' ? VIGIL__RDCW_MODIFIED
                      : r[0] == 'O' ? VIGIL__RDCW_RENAMED_OLD
                                    : VIGIL__RDCW_RENAMED_NEW;
    push(s, action, r + 2, 0, 0);
  }
  va_end(ap);
  push(s, 0, NULL, 0, 0);
}

/* ---- Fixture. */

typedef struct {
  char dir[64];
  char out[64];
  vigil_t *v;
  tstate *s;
  char got[8192];
} fixture;

static int setup_with(void **state, const char *exclude) {
  fixture *f = calloc(1, sizeof *f);
  tu_tmpdir(f->dir, sizeof f->dir, "rdcw");
  tu_tmpdir(f->out, sizeof f->out, "rdcw-out");
  tu_write_at(f->dir, "a", "");
  tu_mkdir_at(f->dir, "sub");
  tu_write_at(f->dir, "sub/x", "");
  vigil_options o;
  assert_int_equal(vigil_options_init(&o), 0);
  const char *pats[] = {exclude, NULL};
  if (exclude) {
    o.exclude = pats;
    o.exclude_count = 1;
  }
  assert_int_equal(vigil__open_with(&f->v, &o, &rdcw_scripted), 0);
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
  f->s = last_state;
  snprintf(f->s->root, sizeof f->s->root, "%s", f->dir);
  *state = f;
  return 0;
}

static int setup(void **state) {
  return setup_with(state, NULL);
}

static int setup_excluding(void **state) {
  return setup_with(state, "ignored/");
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

/* Every event there is, "kind path[ <- from][ (by move)]", relative to the root; sorted or not. */
static const char *events_as(fixture *f, int sorted) {
  char *lines[128];
  size_t n = 0;
  vigil_event ev;
  size_t root = strlen(f->dir) + 1;
  while (vigil_read(f->v, &ev, 0) == 1) {
    assert_true(n < 128);
    char line[512];
    const char *path = ev.path ? (strlen(ev.path) >= root ? ev.path + root : "") : "-";
    int k = snprintf(line, sizeof line, "%s %s", vigil_kind_name(ev.kind), path);
    if (ev.from)
      k += snprintf(line + k, sizeof line - (size_t)k, " <- %s", ev.from + root);
    if (ev.flags & VIGIL_BY_MOVE)
      snprintf(line + k, sizeof line - (size_t)k, " (by move)");
    lines[n++] = strdup(line);
  }
  if (sorted)
    qsort(lines, n, sizeof lines[0], by_string);
  f->got[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    strcat(f->got, lines[i]);
    strcat(f->got, "\n");
    free(lines[i]);
  }
  return f->got;
}

static const char *events(fixture *f) {
  return events_as(f, 1);
}

static void mv(const char *from_dir, const char *from, const char *to_dir, const char *to) {
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/%s", from_dir, from);
  snprintf(b, sizeof b, "%s/%s", to_dir, to);
  assert_int_equal(rename(a, b), 0);
}

/* ---- The contract. */

static void created_then_written(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "c", "text");
  /* wine: added, then modified, often in separate completions. */
  batch(f->s, "A c", NULL);
  batch(f->s, "M c", NULL);
  assert_string_equal(events(f), "created c\nmodified c\n");
}

static void removed(void **state) {
  fixture *f = *state;
  char p[128];
  snprintf(p, sizeof p, "%s/a", f->dir);
  assert_int_equal(unlink(p), 0);
  batch(f->s, "R a", NULL);
  assert_string_equal(events(f), "removed a\n");
}

static void renamed_file(void **state) {
  fixture *f = *state;
  mv(f->dir, "a", f->dir, "sub/b");
  batch(f->s, "O a", "N sub\\b", NULL);
  assert_string_equal(events(f), "moved sub/b <- a\n");
}

/* wine: a rename onto an existing name gives only the two ends, no removal of the target. */
static void rename_replacing(void **state) {
  fixture *f = *state;
  mv(f->dir, "a", f->dir, "sub/x");
  batch(f->s, "O a", "N sub\\x", NULL);
  assert_string_equal(events(f), "moved sub/x <- a\n");
  vigil_stats st = {0};
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
}

static void directory_moved_within_is_one_move(void **state) {
  fixture *f = *state;
  tu_mkdir_at(f->dir, "d");
  batch(f->s, "A d", NULL);
  assert_string_equal(events(f), "created d\n");
  mv(f->dir, "sub", f->dir, "d/sub2");
  batch(f->s, "O sub", "N d\\sub2", NULL);
  assert_string_equal(events(f), "moved d/sub2 <- sub\n");
  /* And the tree follows: a change under the new name is found. */
  tu_write_at(f->dir, "d/sub2/y", "");
  batch(f->s, "A d\\sub2\\y", NULL);
  assert_string_equal(events(f), "created d/sub2/y\n");
}

static void new_directory_filled_at_once(void **state) {
  fixture *f = *state;
  tu_mkdir_at(f->dir, "n");
  tu_mkdir_at(f->dir, "n/deep");
  tu_write_at(f->dir, "n/deep/1", "");
  tu_write_at(f->dir, "n/2", "");
  /* The directory's record first; its entries' records may come later, or not at all. */
  batch(f->s, "A n", NULL);
  assert_string_equal(events(f), "created n\ncreated n/2\ncreated n/deep\ncreated n/deep/1\n");
  batch(f->s, "A n\\deep", "A n\\deep\\1", "A n\\2", "M n\\2", NULL);
  assert_string_equal(events(f), "modified n/2\n");
}

static void moved_in_is_created_for_all(void **state) {
  fixture *f = *state;
  tu_mkdir_at(f->out, "t");
  tu_write_at(f->out, "t/1", "");
  tu_mkdir_at(f->out, "t/u");
  tu_write_at(f->out, "t/u/2", "");
  mv(f->out, "t", f->dir, "t");
  /* Windows: a tree moved in is added. */
  batch(f->s, "A t", NULL);
  assert_string_equal(events(f), "created t\ncreated t/1\ncreated t/u\ncreated t/u/2\n");
  /* A new name with no old one (as a rename whose source was outside): moved in. */
  tu_write_at(f->out, "f", "");
  mv(f->out, "f", f->dir, "g");
  batch(f->s, "N g", NULL);
  assert_string_equal(events(f), "created g (by move)\n");
}

static void moved_out_removes_children_first(void **state) {
  fixture *f = *state;
  mv(f->dir, "sub", f->out, "sub");
  /* Windows: a tree moved out is removed. */
  batch(f->s, "R sub", NULL);
  assert_string_equal(events_as(f, 0), "removed sub/x\nremoved sub\n");
  /* An old name with no new one in its batch: moved out. */
  mv(f->dir, "a", f->out, "a");
  batch(f->s, "O a", NULL);
  assert_string_equal(events(f), "removed a (by move)\n");
}

static void odd_names(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "sub/\xC3\xA9t\xC3\xA9 with spaces.txt", "");
  batch(f->s, "A sub\\\xC3\xA9t\xC3\xA9 with spaces.txt", NULL);
  assert_string_equal(events(f), "created sub/\xC3\xA9t\xC3\xA9 with spaces.txt\n");
}

/* A directory's own modified (its times follow its entries) is left out, as on Linux. */
static void directory_modified_is_left_out(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "sub/y", "");
  batch(f->s, "A sub\\y", "M sub", NULL);
  assert_string_equal(events(f), "created sub/y\n");
}

/* An entry made and deleted before its record is read: nothing to report. */
static void added_then_gone(void **state) {
  fixture *f = *state;
  batch(f->s, "A ghost", "R ghost", NULL);
  assert_string_equal(events(f), "");
}

static void exclusions_apply_to_records(void **state) {
  fixture *f = *state;
  tu_mkdir_at(f->dir, "ignored");
  tu_write_at(f->dir, "ignored/z", "");
  batch(f->s, "A ignored", "A ignored\\z", "M ignored\\z", NULL);
  assert_string_equal(events(f), "");
  /* Moved into an excluded directory: out of the root. */
  mv(f->dir, "a", f->dir, "ignored/a");
  batch(f->s, "O a", "N ignored\\a", NULL);
  assert_string_equal(events(f), "removed a (by move)\n");
}

/* Overflow: reported, then the root is listed again and the difference reported. */
static void overflow_is_reported_and_repaired(void **state) {
  fixture *f = *state;
  tu_write_at(f->dir, "lost1", "");
  tu_mkdir_at(f->dir, "lostdir");
  char p[128];
  snprintf(p, sizeof p, "%s/sub/x", f->dir);
  assert_int_equal(unlink(p), 0);
  push(f->s, 0, NULL, 1, 0);
  const char *got = events(f);
  assert_non_null(strstr(got, "overflow -\n"));
  assert_non_null(strstr(got, "created lost1\n"));
  assert_non_null(strstr(got, "created lostdir\n"));
  assert_non_null(strstr(got, "removed sub/x\n"));
  /* The stream still replays: after the repair, records apply as before. */
  tu_write_at(f->dir, "after", "");
  batch(f->s, "A after", NULL);
  assert_string_equal(events(f), "created after\n");
}

/* The root's watch ended and its directory is gone: removed for all, the root ends. */
static void root_removed(void **state) {
  fixture *f = *state;
  assert_int_equal(tu_rm_tree(f->dir), 0);
  push(f->s, 0, NULL, 0, 1);
  /* Children first; siblings in any order; the root's top last. */
  const char *got = events_as(f, 0);
  const char *x = strstr(got, "removed sub/x\n"), *sub = strstr(got, "removed sub\n");
  assert_non_null(x);
  assert_non_null(sub);
  assert_true(x < sub);
  assert_non_null(strstr(got, "removed a\n"));
  assert_int_equal(strlen(got), strlen("removed sub/x\nremoved sub\nremoved a\nremoved \n"));
  assert_non_null(strstr(got, "\nremoved \n"));
  assert_string_equal(got + strlen(got) - strlen("removed \n"), "removed \n");
  mkdir(f->dir, 0700); /* for the teardown */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(created_then_written, setup, teardown),
      cmocka_unit_test_setup_teardown(removed, setup, teardown),
      cmocka_unit_test_setup_teardown(renamed_file, setup, teardown),
      cmocka_unit_test_setup_teardown(rename_replacing, setup, teardown),
      cmocka_unit_test_setup_teardown(directory_moved_within_is_one_move, setup, teardown),
      cmocka_unit_test_setup_teardown(new_directory_filled_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(moved_in_is_created_for_all, setup, teardown),
      cmocka_unit_test_setup_teardown(moved_out_removes_children_first, setup, teardown),
      cmocka_unit_test_setup_teardown(odd_names, setup, teardown),
      cmocka_unit_test_setup_teardown(directory_modified_is_left_out, setup, teardown),
      cmocka_unit_test_setup_teardown(added_then_gone, setup, teardown),
      cmocka_unit_test_setup_teardown(exclusions_apply_to_records, setup_excluding, teardown),
      cmocka_unit_test_setup_teardown(overflow_is_reported_and_repaired, setup, teardown),
      cmocka_unit_test_setup_teardown(root_removed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
