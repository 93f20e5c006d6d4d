/*
 * The poll backend's passes: what a comparison reports (modified, attrib,
 * moves within and across directories, nothing for what did not change),
 * the one limit (a file created and deleted between two passes), a change
 * made right after a pass in the same tick of the file system's clock, a
 * content change with the times put back, a directory's own metadata, a
 * root that goes away or whose parent is renamed, roots that overlap, and
 * a long pass that gives way to vigil_wake.
 *
 * With no thread, a pass runs only inside vigil_read, so what a test does
 * between two reads is seen by one pass as a whole: the tests need no
 * sleeps. A sentinel file made at the top proves that a pass ran after
 * everything made before it; a pass reports in listing order, so events
 * are read up to a second sentinel, made once the first was reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "helpers.h"
#include "vigil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEEN 256

typedef struct {
  vigil_kind kind;
  unsigned flags;
  int error;
  char path[256];
  char from[256];
} seen_event;

typedef struct {
  vigil_t *v;
  char dir[64];
  int sentinels;
  seen_event seen[MAX_SEEN];
  size_t n;
} fixture;

static void open_poll(fixture *f, const char *tag, int interval_ms) {
  memset(f, 0, sizeof *f);
  tu_tmpdir(f->dir, sizeof f->dir, tag);
  vigil_options o;
  vigil_options_init(&o);
  o.backend = "poll";
  o.poll_interval_ms = interval_ms;
  assert_int_equal(vigil_open(&f->v, &o), 0);
}

static void add_root(fixture *f) {
  assert_int_equal(vigil_add(f->v, f->dir, 0), 0);
}

static void close_poll(fixture *f) {
  vigil_close(f->v);
  assert_int_equal(tu_rm_tree(f->dir), 0);
}

/* A path below the fixture's directory relative to it; any other as it is. */
static const char *rel_of(const fixture *f, const char *path) {
  size_t n = strlen(f->dir);
  return strncmp(path, f->dir, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

/* Reads events until the one at the top named name is created; keeps the others in f->seen. */
static void read_until_created(fixture *f, const char *name) {
  char want[128];
  snprintf(want, sizeof want, "%s/%s", f->dir, name);
  int64_t end = tu_now_us() + 20 * 1000000LL;
  for (;;) {
    vigil_event ev;
    int r = vigil_read(f->v, &ev, 1000);
    assert_true(r >= 0);
    if (r == 1) {
      /* Every event of a pass was found by looking. */
      assert_true(ev.flags & VIGIL_SYNTHETIC);
      if (ev.kind == VIGIL_CREATED && strcmp(ev.path, want) == 0)
        return;
      if (strstr(ev.path, "/.sentinel-"))
        continue;
      assert_true(f->n < MAX_SEEN);
      seen_event *s = &f->seen[f->n++];
      s->kind = ev.kind;
      s->flags = ev.flags;
      s->error = ev.error;
      snprintf(s->path, sizeof s->path, "%s", rel_of(f, ev.path));
      snprintf(s->from, sizeof s->from, "%s", ev.from ? rel_of(f, ev.from) : "");
    }
    assert_true(tu_now_us() < end);
  }
}

/* Everything made before this call, reported: f->seen holds it (sentinels aside). */
static void sync_passes(fixture *f) {
  f->n = 0;
  for (int i = 0; i < 2; i++) {
    char name[32];
    snprintf(name, sizeof name, ".sentinel-%d", ++f->sentinels);
    tu_write_at(f->dir, name, "");
    read_until_created(f, name);
  }
}

static void assert_seen(const fixture *f, size_t i, vigil_kind kind, const char *path,
                        const char *from) {
  assert_true(i < f->n);
  assert_int_equal(f->seen[i].kind, kind);
  assert_string_equal(f->seen[i].path, path);
  assert_string_equal(f->seen[i].from, from ? from : "");
}

static void at(char *buf, size_t size, const fixture *f, const char *rel) {
  snprintf(buf, size, "%s/%s", f->dir, rel);
}

static void test_modified_attrib_and_nothing_else(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-mod", 1);
  tu_write_at(f.dir, "f", "a");
  tu_write_at(f.dir, "g", "untouched");
  tu_mkdir_at(f.dir, "d");
  tu_write_at(f.dir, "d/h", "h");
  add_root(&f);
  /* Passes over a tree that does not change report nothing. */
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  sync_passes(&f);
  assert_int_equal(f.n, 0);

  tu_write_at(f.dir, "f", "longer");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MODIFIED, "f", NULL);

  char p[128];
  at(p, sizeof p, &f, "d/h");
  assert_int_equal(chmod(p, 0600), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_ATTRIB, "d/h", NULL);

  /* The same size, the same second: the mtime in nanoseconds, or the ctime, tells. */
  tu_write_at(f.dir, "g", "UNTOUCHED");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MODIFIED, "g", NULL);
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  close_poll(&f);
}

static void test_moves_within_and_across_directories(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-mv", 1);
  tu_write_at(f.dir, "a", "a");
  tu_mkdir_at(f.dir, "d");
  tu_mkdir_at(f.dir, "e");
  tu_write_at(f.dir, "e/x", "x");
  add_root(&f);
  sync_passes(&f);
  assert_int_equal(f.n, 0);

  char p[128], q[128];
  at(p, sizeof p, &f, "a");
  at(q, sizeof q, &f, "b");
  assert_int_equal(rename(p, q), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MOVED, "b", "a");

  at(p, sizeof p, &f, "b");
  at(q, sizeof q, &f, "d/b");
  assert_int_equal(rename(p, q), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MOVED, "d/b", "b");

  /* A directory, with what is in it, into another: one event. */
  at(p, sizeof p, &f, "e");
  at(q, sizeof q, &f, "d/e2");
  assert_int_equal(rename(p, q), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MOVED, "d/e2", "e");
  assert_true(f.seen[0].flags & VIGIL_ISDIR);

  /* Still watched under its new name. */
  tu_write_at(f.dir, "d/e2/x", "changed");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MODIFIED, "d/e2/x", NULL);

  /* Two names exchanged by way of a third: the tree ends right. */
  tu_write_at(f.dir, "d/one", "1");
  tu_write_at(f.dir, "d/two", "22");
  sync_passes(&f);
  assert_int_equal(f.n, 2);
  char t[128];
  at(p, sizeof p, &f, "d/one");
  at(q, sizeof q, &f, "d/two");
  at(t, sizeof t, &f, "d/tmp");
  assert_int_equal(rename(p, t), 0);
  assert_int_equal(rename(q, p), 0);
  assert_int_equal(rename(t, q), 0);
  sync_passes(&f);
  /* Replayed: "one" and "two" exist, each reported once way or another. */
  assert_true(f.n >= 2);
  tu_write_at(f.dir, "d/one", "x");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MODIFIED, "d/one", NULL);
  close_poll(&f);
}

static void test_created_and_deleted_between_passes_is_not_seen(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-gone", 1);
  add_root(&f);
  sync_passes(&f);
  char p[128];
  at(p, sizeof p, &f, "brief");
  tu_write(p, "here and gone");
  assert_int_equal(unlink(p), 0);
  tu_mkdir_at(f.dir, "kept");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_CREATED, "kept", NULL);
  close_poll(&f);
}

/*
 * A file reported created, then deleted before the next pass, and a
 * symbolic link made with its inode number and an old mtime (as tar or
 * cp -a leave it): the pass knew the file's type from its listing, so
 * the link is no move of the file, but a removal and a creation. The
 * inode number is the file system's choice: the test tries until it is
 * reused, and skips if it never is.
 */
static void test_reused_inode_of_another_type_is_no_move(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-reuse", 1);
  add_root(&f);
  sync_passes(&f);
  for (int i = 0; i < 50; i++) {
    char file[32], link[32], sentinel[32], p[128], q[128];
    snprintf(file, sizeof file, "f%d", i);
    snprintf(link, sizeof link, "l%d", i);
    at(p, sizeof p, &f, file);
    at(q, sizeof q, &f, link);
    tu_write(p, "x");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    /* One pass reports the file, and no other looks at it again. */
    snprintf(sentinel, sizeof sentinel, ".sentinel-%d", ++f.sentinels);
    tu_write_at(f.dir, sentinel, "");
    f.n = 0;
    read_until_created(&f, sentinel);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink("nowhere", q), 0);
    struct stat lst;
    assert_int_equal(lstat(q, &lst), 0);
    if (lst.st_ino != st.st_ino) {
      assert_int_equal(unlink(q), 0);
      sync_passes(&f);
      continue;
    }
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, q, old, AT_SYMLINK_NOFOLLOW), 0);
    sync_passes(&f);
    int removed = 0, created = 0;
    for (size_t k = 0; k < f.n; k++) {
      assert_int_not_equal(f.seen[k].kind, VIGIL_MOVED);
      removed += f.seen[k].kind == VIGIL_REMOVED && strcmp(f.seen[k].path, file) == 0;
      created += f.seen[k].kind == VIGIL_CREATED && strcmp(f.seen[k].path, link) == 0;
    }
    assert_int_equal(removed, 1);
    assert_int_equal(created, 1);
    close_poll(&f);
    return;
  }
  close_poll(&f);
  skip(); /* the file system never gave a freed inode number to the next link */
}

static void test_change_right_after_a_pass_is_seen(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-racy", 1);
  tu_write_at(f.dir, "f", "a");
  add_root(&f);
  sync_passes(&f);
  /*
   * Each change is made as soon as the last was reported, often in the
   * same tick of the file system's clock as the change before: the
   * second look at a racy directory must catch it.
   */
  for (int i = 0; i < 20; i++) {
    char text[32];
    snprintf(text, sizeof text, "%*d", i + 2, i);
    tu_write_at(f.dir, "f", text);
    int64_t end = tu_now_us() + 20 * 1000000LL;
    for (;;) {
      vigil_event ev;
      int r = vigil_read(f.v, &ev, 1000);
      assert_true(r >= 0);
      if (r == 1 && ev.kind == VIGIL_MODIFIED)
        break;
      assert_true(tu_now_us() < end);
    }
  }
  close_poll(&f);
}

/*
 * A file written and given back its times (cp -p, rsync -t, tar over it):
 * its size tells a pass that its content changed, whatever its ctime
 * says. Twice, so that no second look at a recent change is what finds it.
 */
static void test_content_change_with_times_kept_is_modified(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-kept", 1);
  tu_write_at(f.dir, "f", "hello\n");
  char p[128];
  at(p, sizeof p, &f, "f");
  struct timespec old[2] = {{1500000000, 0}, {1500000000, 0}};
  assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
  add_root(&f);
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  for (int i = 0; i < 2; i++) {
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    FILE *out = fopen(p, "a");
    assert_non_null(out);
    assert_true(fputs("appended, times kept\n", out) >= 0);
    assert_int_equal(fclose(out), 0);
    struct timespec kept[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, p, kept, 0), 0);
    sync_passes(&f);
    assert_int_equal(f.n, 1);
    assert_seen(&f, 0, VIGIL_MODIFIED, "f", NULL);
  }
  close_poll(&f);
}

/*
 * Size and mtime changed together so that their bits cancel (size 1 to 2,
 * mtime's nanoseconds 2 to 1): a print mixes each value on its own.
 */
static void test_size_and_mtime_that_cancel_are_modified(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-cancel", 1);
  tu_write_at(f.dir, "f", "a");
  char p[128];
  at(p, sizeof p, &f, "f");
  struct timespec t1[2] = {{1500000000, 2}, {1500000000, 2}};
  assert_int_equal(utimensat(AT_FDCWD, p, t1, 0), 0);
  add_root(&f);
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  tu_write_at(f.dir, "f", "ab");
  struct timespec t2[2] = {{1500000000, 1}, {1500000000, 1}};
  assert_int_equal(utimensat(AT_FDCWD, p, t2, 0), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MODIFIED, "f", NULL);
  close_poll(&f);
}

/*
 * A directory's own metadata changed is attrib, as the inotify backend
 * reports it; entries added, removed or renamed in it change its times
 * too, and are not.
 */
static void test_directory_metadata_is_attrib(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-dirmeta", 1);
  tu_mkdir_at(f.dir, "d");
  tu_write_at(f.dir, "d/x", "x");
  add_root(&f);
  sync_passes(&f);
  assert_int_equal(f.n, 0);

  char d[128], p[128], q[128];
  at(d, sizeof d, &f, "d");
  assert_int_equal(chmod(d, 0700), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_ATTRIB, "d", NULL);
  assert_true(f.seen[0].flags & VIGIL_ISDIR);

  struct timespec old[2] = {{1500000000, 0}, {1500000000, 0}};
  assert_int_equal(utimensat(AT_FDCWD, d, old, 0), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_ATTRIB, "d", NULL);

  /* Entries that come and go change its times, not its metadata. */
  tu_write_at(f.dir, "d/new", "n");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_CREATED, "d/new", NULL);
  at(p, sizeof p, &f, "d/new");
  assert_int_equal(unlink(p), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_REMOVED, "d/new", NULL);
  at(p, sizeof p, &f, "d/brief");
  tu_write(p, "here and gone");
  assert_int_equal(unlink(p), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  tu_mkdir_at(f.dir, "d/sub");
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_CREATED, "d/sub", NULL);
  at(p, sizeof p, &f, "d/x");
  at(q, sizeof q, &f, "d/y");
  assert_int_equal(rename(p, q), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MOVED, "d/y", "d/x");

  /* Renamed, it keeps its metadata (the rename sets only its ctime). */
  at(q, sizeof q, &f, "d2");
  assert_int_equal(rename(d, q), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_MOVED, "d2", "d");
  sync_passes(&f);
  assert_int_equal(f.n, 0);
  assert_int_equal(chmod(q, 0755), 0);
  sync_passes(&f);
  assert_int_equal(f.n, 1);
  assert_seen(&f, 0, VIGIL_ATTRIB, "d2", NULL);
  close_poll(&f);
}

/*
 * 20,000 directories: a pass takes many of its 20 ms slices on any
 * machine. The file d99/e199/f is made first, so that its directory's
 * stamp is long past when it is listed (no second look at it).
 */
static void make_wide_tree(fixture *f) {
  char rel[64];
  tu_mkdir_at(f->dir, "d99");
  tu_mkdir_at(f->dir, "d99/e199");
  tu_write_at(f->dir, "d99/e199/f", "a");
  for (int i = 0; i < 100; i++) {
    snprintf(rel, sizeof rel, "d%d", i);
    if (i != 99)
      tu_mkdir_at(f->dir, rel);
    for (int j = 0; j < 200; j++) {
      snprintf(rel, sizeof rel, "d%d/e%d", i, j);
      if (i != 99 || j != 199)
        tu_mkdir_at(f->dir, rel);
    }
  }
}

static void test_long_pass_gives_way_to_wake(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-long", 1);
  make_wide_tree(&f);
  /* A fresh file at the top shows the file system's clock is ours, and f is long past. */
  tu_write_at(f.dir, "fresh", "");
  add_root(&f);
  tu_write_at(f.dir, "d99/e199/f", "changed");
  /* A wake made now ends the first read once its slice of the pass is done. */
  assert_int_equal(vigil_wake(f.v), 0);
  vigil_event ev;
  int64_t t0 = tu_now_us();
  int first = vigil_read(f.v, &ev, -1);
  if (first == 1) {
    vigil_stats st;
    vigil_get_stats(f.v, &st, sizeof st);
    print_message("first read after %.1f ms: kind %d %s; %zu dirs\n", (tu_now_us() - t0) / 1e3,
                  ev.kind, ev.path, st.dirs);
  }
  assert_int_equal(first, 0);
  int64_t woken = tu_now_us() - t0;
  /* The pass goes on where it stopped, a slice per read, until the change is found. */
  int reads = 1;
  int64_t end = tu_now_us() + 60 * 1000000LL;
  for (;;) {
    int r = vigil_read(f.v, &ev, 0);
    assert_true(r >= 0);
    reads++;
    if (r == 1 && ev.kind == VIGIL_MODIFIED)
      break;
    assert_true(tu_now_us() < end);
  }
  int64_t pass = tu_now_us() - t0;
  print_message("woken after %.1f ms; the pass took %.1f ms over %d reads\n", woken / 1e3,
                pass / 1e3, reads);
  assert_true(reads >= 3);
  assert_true(woken < pass);
  close_poll(&f);
}

/* A root other/up/root, with a/f in it, added next to the fixture's root. */
static void add_root_below_parent(fixture *f, char *other, size_t size, char *root, size_t rsize) {
  tu_tmpdir(other, size, "poll-up");
  tu_mkdir_at(other, "up");
  tu_mkdir_at(other, "up/root");
  tu_mkdir_at(other, "up/root/a");
  tu_write_at(other, "up/root/a/f", "f");
  snprintf(root, rsize, "%s/up/root", other);
  add_root(f);
  assert_int_equal(vigil_add(f->v, root, 0), 0);
  sync_passes(f);
  assert_int_equal(f->n, 0);
}

/* The events of a root's end: everything in it removed, children first, the root last. */
static void assert_root_ended(const fixture *f, size_t i, const char *root) {
  char p[256];
  assert_int_equal(f->n, i + 3);
  snprintf(p, sizeof p, "%s/a/f", root);
  assert_seen(f, i, VIGIL_REMOVED, p, NULL);
  snprintf(p, sizeof p, "%s/a", root);
  assert_seen(f, i + 1, VIGIL_REMOVED, p, NULL);
  assert_seen(f, i + 2, VIGIL_REMOVED, root, NULL);
  assert_true(f->seen[i + 2].flags & VIGIL_ISDIR);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(f->v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 1);
}

/*
 * A directory above a root renamed: the root's path leads nowhere, and a
 * pass says why (VIGIL_EROOTMOVED, on the root) before the root ends as a
 * rescan ends it, everything in it removed. The other root goes on, and
 * nothing more comes of the one that ended. A pass cannot tell the parent
 * deleted with the root in it from one renamed: the same is reported.
 */
static void test_renamed_parent_of_a_root_ends_it(void **state) {
  (void)state;
  for (int deleted = 0; deleted < 2; deleted++) {
    fixture f;
    open_poll(&f, "poll-upmv", 1);
    char other[64], root[128], p[128], q[128];
    add_root_below_parent(&f, other, sizeof other, root, sizeof root);
    snprintf(p, sizeof p, "%s/up", other);
    snprintf(q, sizeof q, "%s/up2", other);
    if (deleted)
      assert_int_equal(tu_rm_tree(p), 0);
    else
      assert_int_equal(rename(p, q), 0);
    sync_passes(&f);
    assert_true(f.n >= 1);
    assert_int_equal(f.seen[0].kind, VIGIL_ERROR);
    assert_int_equal(f.seen[0].error, VIGIL_EROOTMOVED);
    assert_string_equal(f.seen[0].path, root);
    assert_true(f.seen[0].flags & VIGIL_ISDIR);
    assert_root_ended(&f, 1, root);
    if (!deleted)
      tu_write_at(other, "up2/root/a/g", "");
    tu_write_at(f.dir, "still", "");
    sync_passes(&f);
    assert_int_equal(f.n, 1);
    assert_seen(&f, 0, VIGIL_CREATED, "still", NULL);
    assert_int_equal(vigil_remove(f.v, root), 0);
    close_poll(&f);
    assert_int_equal(tu_rm_tree(other), 0);
  }
}

/*
 * The root itself renamed, deleted, or replaced by another directory of
 * its name: its end, with no error, since the directory above it is the
 * one it was.
 */
static void test_root_renamed_deleted_or_replaced_ends_it(void **state) {
  (void)state;
  for (int how = 0; how < 3; how++) {
    fixture f;
    open_poll(&f, "poll-rootgo", 1);
    char other[64], root[128], q[128];
    add_root_below_parent(&f, other, sizeof other, root, sizeof root);
    snprintf(q, sizeof q, "%s/up/moved", other);
    if (how == 2) {
      assert_int_equal(rename(root, q), 0);
      assert_int_equal(mkdir(root, 0755), 0);
    } else if (how == 1) {
      assert_int_equal(tu_rm_tree(root), 0);
    } else {
      assert_int_equal(rename(root, q), 0);
    }
    sync_passes(&f);
    assert_root_ended(&f, 0, root);
    close_poll(&f);
    assert_int_equal(tu_rm_tree(other), 0);
  }
}

/* One step of the overlapping roots' test: what it changes on disk. */
static void overlap_step(const char *dir, int step) {
  char p[128], q[128];
  switch (step) {
  case 0:
    tu_write_at(dir, "sub/new.txt", "n");
    tu_write_at(dir, "sub/deeper/x", "x");
    tu_mkdir_at(dir, "sub/made");
    tu_write_at(dir, "sub/made/y", "y");
    break;
  case 1:
    tu_write_at(dir, "sub/a.txt", "longer");
    snprintf(p, sizeof p, "%s/sub/deeper/d.txt", dir);
    assert_int_equal(chmod(p, 0600), 0);
    break;
  case 2:
    snprintf(p, sizeof p, "%s/sub/new.txt", dir);
    snprintf(q, sizeof q, "%s/moved-up.txt", dir);
    assert_int_equal(rename(p, q), 0);
    snprintf(p, sizeof p, "%s/f.txt", dir);
    snprintf(q, sizeof q, "%s/sub/moved-down.txt", dir);
    assert_int_equal(rename(p, q), 0);
    snprintf(p, sizeof p, "%s/sub/made", dir);
    snprintf(q, sizeof q, "%s/other/made", dir);
    assert_int_equal(rename(p, q), 0);
    snprintf(p, sizeof p, "%s/sub/deeper/x", dir);
    snprintf(q, sizeof q, "%s/sub/x", dir);
    assert_int_equal(rename(p, q), 0);
    break;
  case 3:
    snprintf(p, sizeof p, "%s/sub/x", dir);
    assert_int_equal(unlink(p), 0);
    tu_write_at(dir, "other/z", "z");
    break;
  case 4:
    /* The inner roots' directories go: they end, silently. */
    snprintf(p, sizeof p, "%s/sub", dir);
    assert_int_equal(tu_rm_tree(p), 0);
    break;
  default:
    tu_mkdir_at(dir, "sub");
    tu_write_at(dir, "sub/back", "b");
    break;
  }
}

/*
 * Roots inside another one, polled: every change is reported once, by the
 * outer root, exactly as a poll of the outer root alone reports it, and
 * the directories they share count once. Run with the inner roots added
 * after the outer one, then before it. The two instances poll the same
 * tree; each passes over the other's sentinels.
 */
static void test_overlapping_roots_report_once(void **state) {
  (void)state;
  for (int inner_first = 0; inner_first < 2; inner_first++) {
    fixture *one = calloc(1, sizeof *one), *all = calloc(1, sizeof *all);
    assert_non_null(one);
    assert_non_null(all);
    open_poll(one, "poll-overlap", 1);
    tu_mkdir_at(one->dir, "sub");
    tu_mkdir_at(one->dir, "sub/deeper");
    tu_mkdir_at(one->dir, "other");
    tu_write_at(one->dir, "sub/a.txt", "a");
    tu_write_at(one->dir, "sub/deeper/d.txt", "d");
    tu_write_at(one->dir, "f.txt", "f");
    vigil_options o;
    vigil_options_init(&o);
    o.backend = "poll";
    o.poll_interval_ms = 1;
    assert_int_equal(vigil_open(&all->v, &o), 0);
    memcpy(all->dir, one->dir, sizeof all->dir);
    all->sentinels = 1000;
    char sub[128], deeper[128];
    at(sub, sizeof sub, one, "sub");
    at(deeper, sizeof deeper, one, "sub/deeper");
    add_root(one);
    if (!inner_first)
      add_root(all);
    assert_int_equal(vigil_add(all->v, sub, 0), 0);
    assert_int_equal(vigil_add(all->v, deeper, 0), 0);
    if (inner_first)
      add_root(all);
    vigil_stats st_one, st_all;
    assert_int_equal(vigil_get_stats(one->v, &st_one, sizeof st_one), 0);
    assert_int_equal(vigil_get_stats(all->v, &st_all, sizeof st_all), 0);
    assert_int_equal(st_one.watches, 4);
    assert_int_equal(st_all.watches, 4);
    for (int step = 0; step < 6; step++) {
      overlap_step(one->dir, step);
      sync_passes(one);
      sync_passes(all);
      print_message("step %d: %zu events, %zu with the inner roots\n", step, one->n, all->n);
      assert_true(one->n > 0);
      assert_int_equal(all->n, one->n);
      for (size_t i = 0; i < one->n; i++) {
        assert_int_equal(all->seen[i].kind, one->seen[i].kind);
        assert_int_equal(all->seen[i].flags, one->seen[i].flags);
        assert_string_equal(all->seen[i].path, one->seen[i].path);
        assert_string_equal(all->seen[i].from, one->seen[i].from);
      }
    }
    assert_int_equal(vigil_get_stats(one->v, &st_one, sizeof st_one), 0);
    assert_int_equal(vigil_get_stats(all->v, &st_all, sizeof st_all), 0);
    assert_int_equal(st_all.roots, 1);
    assert_int_equal(st_all.watches, st_one.watches);
    vigil_close(all->v);
    close_poll(one);
    free(one);
    free(all);
  }
}

/*
 * The rules of overlapping roots (docs/events.md), polled as with
 * inotify: an outer root's exclusions decide below it; a root added with
 * VIGIL_NORECURSE holds no subdirectory, so a root inside it reports for
 * itself, and that directory's removal comes from both. One instance of
 * each backend watches the same tree, a change at a time, and both must
 * report the same events (the poll backend's all carry VIGIL_SYNTHETIC).
 * Every change is one that makes no close, which polling cannot see.
 */
typedef struct {
  vigil_t *v;
  int sentinels;
  size_t n;
  seen_event seen[16];
} rules_side;

static void rules_sync(rules_side *r, const char *base) {
  r->n = 0;
  for (int i = 0; i < 2; i++) {
    char name[64], want[160];
    snprintf(name, sizeof name, "s/.sentinel-%d", ++r->sentinels);
    snprintf(want, sizeof want, "%s/%s", base, name);
    assert_int_equal(mknod(want, S_IFREG | 0644, 0), 0);
    int64_t end = tu_now_us() + 20 * 1000000LL;
    for (;;) {
      vigil_event ev;
      int rc = vigil_read(r->v, &ev, 1000);
      assert_true(rc >= 0);
      assert_true(tu_now_us() < end);
      if (rc != 1)
        continue;
      if (ev.kind == VIGIL_CREATED && strcmp(ev.path, want) == 0)
        break;
      if (strstr(ev.path, "/s/.sentinel-"))
        continue;
      assert_true(r->n < sizeof r->seen / sizeof r->seen[0]);
      seen_event *e = &r->seen[r->n++];
      e->kind = ev.kind;
      e->flags = ev.flags & ~(unsigned)VIGIL_SYNTHETIC;
      snprintf(e->path, sizeof e->path, "%s", ev.path + strlen(base) + 1);
      snprintf(e->from, sizeof e->from, "%s", ev.from ? ev.from + strlen(base) + 1 : "");
    }
  }
}

static void rules_open(rules_side *r, const char *backend, const char *base) {
  memset(r, 0, sizeof *r);
  r->sentinels = strcmp(backend, "poll") == 0 ? 1000 : 0;
  vigil_options o;
  vigil_options_init(&o);
  o.backend = backend;
  o.poll_interval_ms = 1;
  assert_int_equal(vigil_open(&r->v, &o), 0);
  char p[160];
  static const char *const logs[] = {"*.log"};
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.exclude = logs;
  ro.exclude_count = 1;
  snprintf(p, sizeof p, "%s/d/sub", base);
  assert_int_equal(vigil_add(r->v, p, 0), 0);
  snprintf(p, sizeof p, "%s/d", base);
  assert_int_equal(vigil_add_opts(r->v, p, 0, &ro), 0);
  snprintf(p, sizeof p, "%s/n", base);
  assert_int_equal(vigil_add(r->v, p, VIGIL_NORECURSE), 0);
  snprintf(p, sizeof p, "%s/n/sub", base);
  assert_int_equal(vigil_add(r->v, p, 0), 0);
  snprintf(p, sizeof p, "%s/s", base);
  assert_int_equal(vigil_add(r->v, p, 0), 0);
}

static void test_overlapping_roots_rules_as_with_inotify(void **state) {
  (void)state;
  char base[64], p[160], q[160];
  tu_tmpdir(base, sizeof base, "poll-rules");
  static const char *const dirs[] = {"d", "d/sub", "n", "n/sub", "s"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    tu_mkdir_at(base, dirs[i]);
  rules_side *in = calloc(1, sizeof *in), *po = calloc(1, sizeof *po);
  assert_non_null(in);
  assert_non_null(po);
  rules_open(in, "inotify", base);
  rules_open(po, "poll", base);
  vigil_stats st_in, st_po;
  assert_int_equal(vigil_get_stats(in->v, &st_in, sizeof st_in), 0);
  assert_int_equal(vigil_get_stats(po->v, &st_po, sizeof st_po), 0);
  assert_int_equal(st_po.watches, st_in.watches);
  /* What each step makes, and what it reports: kind, path, moved from. */
  static const struct {
    const char *op, *path, *to;
    size_t n;
    struct {
      vigil_kind kind;
      const char *path, *from;
    } want[2];
  } steps[] = {
      {"mknod", "d/sub/x.log", NULL, 0, {{0}}},
      {"mknod", "d/sub/y.txt", NULL, 1, {{VIGIL_CREATED, "d/sub/y.txt", ""}}},
      {"rename", "d/sub/y.txt", "d/y.txt", 1, {{VIGIL_MOVED, "d/y.txt", "d/sub/y.txt"}}},
      {"mkdir", "n/sub/k", NULL, 1, {{VIGIL_CREATED, "n/sub/k", ""}}},
      {"mknod", "n/top", NULL, 1, {{VIGIL_CREATED, "n/top", ""}}},
      {"rmdir", "n/sub/k", NULL, 1, {{VIGIL_REMOVED, "n/sub/k", ""}}},
      {"rmdir", "n/sub", NULL, 2, {{VIGIL_REMOVED, "n/sub", ""}, {VIGIL_REMOVED, "n/sub", ""}}},
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", base, steps[i].path);
    if (strcmp(steps[i].op, "mknod") == 0)
      assert_int_equal(mknod(p, S_IFREG | 0644, 0), 0);
    else if (strcmp(steps[i].op, "mkdir") == 0)
      assert_int_equal(mkdir(p, 0755), 0);
    else if (strcmp(steps[i].op, "rmdir") == 0)
      assert_int_equal(rmdir(p), 0);
    else {
      snprintf(q, sizeof q, "%s/%s", base, steps[i].to);
      assert_int_equal(rename(p, q), 0);
    }
    rules_sync(in, base);
    rules_sync(po, base);
    print_message("%s %s: %zu events with inotify, %zu polled\n", steps[i].op, steps[i].path, in->n,
                  po->n);
    assert_int_equal(in->n, steps[i].n);
    assert_int_equal(po->n, steps[i].n);
    for (size_t k = 0; k < steps[i].n; k++) {
      assert_int_equal(po->seen[k].kind, steps[i].want[k].kind);
      assert_string_equal(po->seen[k].path, steps[i].want[k].path);
      assert_string_equal(po->seen[k].from, steps[i].want[k].from);
      assert_int_equal(po->seen[k].kind, in->seen[k].kind);
      assert_int_equal(po->seen[k].flags, in->seen[k].flags);
      assert_string_equal(po->seen[k].path, in->seen[k].path);
      assert_string_equal(po->seen[k].from, in->seen[k].from);
    }
  }
  /* The outer root removed, the inner one reports, with its own patterns. */
  snprintf(p, sizeof p, "%s/d", base);
  assert_int_equal(vigil_remove(in->v, p), 0);
  assert_int_equal(vigil_remove(po->v, p), 0);
  snprintf(p, sizeof p, "%s/d/sub/z.log", base);
  assert_int_equal(mknod(p, S_IFREG | 0644, 0), 0);
  rules_sync(in, base);
  rules_sync(po, base);
  assert_int_equal(in->n, 1);
  assert_int_equal(po->n, 1);
  assert_int_equal(po->seen[0].kind, VIGIL_CREATED);
  assert_string_equal(po->seen[0].path, "d/sub/z.log");
  assert_string_equal(in->seen[0].path, "d/sub/z.log");
  assert_int_equal(vigil_get_stats(in->v, &st_in, sizeof st_in), 0);
  assert_int_equal(vigil_get_stats(po->v, &st_po, sizeof st_po), 0);
  assert_int_equal(st_po.watches, st_in.watches);
  vigil_close(in->v);
  vigil_close(po->v);
  free(in);
  free(po);
  assert_int_equal(tu_rm_tree(base), 0);
}

static void on_event(vigil_t *v, const vigil_event *ev, void *userdata) {
  (void)v;
  (void)ev;
  (void)userdata;
}

/*
 * vigil_stop while the thread of vigil_start polls a large tree, at
 * several moments: the thread gives way between slices of a pass, so the
 * stop ends it within its grace, as between events.
 */
static void test_stop_during_long_passes(void **state) {
  (void)state;
  fixture f;
  open_poll(&f, "poll-stop", 1);
  make_wide_tree(&f);
  add_root(&f);
  int64_t worst = 0;
  for (int i = 0; i < 6; i++) {
    assert_int_equal(vigil_start(f.v, on_event, NULL), 0);
    /* Only to vary the moment of the stop within a pass (a pass takes over 100 ms). */
    usleep((useconds_t)i * 23000);
    int64_t t0 = tu_now_us();
    assert_true(vigil_stop(f.v, 100) >= 0); /* not -ETIMEDOUT: it ended within the grace */
    int64_t took = tu_now_us() - t0;
    if (took > worst)
      worst = took;
  }
  print_message("the longest stop took %.1f ms\n", worst / 1e3);
  close_poll(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modified_attrib_and_nothing_else),
      cmocka_unit_test(test_moves_within_and_across_directories),
      cmocka_unit_test(test_created_and_deleted_between_passes_is_not_seen),
      cmocka_unit_test(test_change_right_after_a_pass_is_seen),
      cmocka_unit_test(test_content_change_with_times_kept_is_modified),
      cmocka_unit_test(test_size_and_mtime_that_cancel_are_modified),
      cmocka_unit_test(test_directory_metadata_is_attrib),
      cmocka_unit_test(test_reused_inode_of_another_type_is_no_move),
      cmocka_unit_test(test_renamed_parent_of_a_root_ends_it),
      cmocka_unit_test(test_root_renamed_deleted_or_replaced_ends_it),
      cmocka_unit_test(test_overlapping_roots_report_once),
      cmocka_unit_test(test_overlapping_roots_rules_as_with_inotify),
      cmocka_unit_test(test_long_pass_gives_way_to_wake),
      cmocka_unit_test(test_stop_during_long_passes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
