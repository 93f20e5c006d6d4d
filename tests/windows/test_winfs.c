/*
 * Directory access on Windows (src/platform/winfs.c) under wine: a
 * listing through a directory handle with names, types and file IDs;
 * opening relative to a handle, one name at a time; the identity of a
 * directory across a rename and a replacement; and errors.
 */
#include "harness.h"

#include "platform/winfs.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *open_root(const char *root) {
  void *h = NULL;
  WT_EQ(vigil__win_open_dir(&h, NULL, root, strlen(root)), 0);
  WT_ASSERT(h != NULL);
  return h;
}

typedef struct {
  char name[64];
  uint64_t id;
  int is_dir;
  int seen;
} entry;

static void lists_names_types_and_ids(void) {
  char *root = wt_tempdir();
  char *a = wt_join(root, "a"), *sub = wt_join(root, "sub");
  char *odd = wt_join(root, "\xC3\xA9t\xC3\xA9 with spaces.txt");
  wt_write(a, "12345");
  wt_mkdir(sub);
  wt_write(odd, "");
  void *h = open_root(root);
  entry want[] = {{"a", 0, 0, 0}, {"sub", 0, 1, 0}, {"\xC3\xA9t\xC3\xA9 with spaces.txt", 0, 0, 0}};
  for (size_t i = 0; i < 3; i++) {
    vigil__win_stat st;
    WT_EQ(vigil__win_statat(h, want[i].name, strlen(want[i].name), &st), 0);
    WT_EQ(st.is_dir, want[i].is_dir);
    WT_ASSERT(st.id != 0);
    want[i].id = st.id;
    if (i == 0)
      WT_EQ(st.size, 5);
  }
  static unsigned char buf[64 * 1024];
  vigil__win_dirlist l;
  WT_EQ(vigil__win_list_open(&l, h, buf, sizeof buf), 0);
  vigil__win_dirent e;
  int n = 0, rc;
  while ((rc = vigil__win_list_next(&l, &e)) == 1) {
    n++;
    WT_ASSERT(strcmp(e.name, ".") != 0 && strcmp(e.name, "..") != 0);
    int found = 0;
    for (size_t i = 0; i < 3; i++) {
      if (strlen(want[i].name) == e.len && memcmp(want[i].name, e.name, e.len) == 0) {
        found = 1;
        want[i].seen++;
        WT_EQ(e.is_dir, want[i].is_dir);
        WT_EQ(e.is_link, 0);
        /* The listing's ID is the handle's: one call gives what stat would. */
        WT_EQ(e.id, want[i].id);
      }
    }
    if (!found)
      wt_fail(__FILE__, __LINE__, "unexpected entry \"%s\"", e.name);
  }
  WT_EQ(rc, 0);
  WT_EQ(n, 3);
  for (size_t i = 0; i < 3; i++)
    WT_EQ(want[i].seen, 1);
  vigil__win_list_close(&l);
  vigil__win_close(h);
  wt_rmtree(root);
  free(a), free(sub), free(odd), free(root);
}

/* A listing longer than its buffer: many calls, each entry once. */
static void lists_more_than_a_buffer(void) {
  char *root = wt_tempdir();
  enum { N = 1000 };
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "file-%04d-with-a-longer-name", i);
    char *p = wt_join(root, name);
    wt_write(p, "");
    free(p);
  }
  void *h = open_root(root);
  static unsigned char buf[1024];
  static char seen[N];
  memset(seen, 0, sizeof seen);
  vigil__win_dirlist l;
  WT_EQ(vigil__win_list_open(&l, h, buf, sizeof buf), 0);
  vigil__win_dirent e;
  int n = 0, rc;
  while ((rc = vigil__win_list_next(&l, &e)) == 1) {
    int i = atoi(e.name + 5);
    WT_ASSERT(i >= 0 && i < N);
    WT_EQ(seen[i], 0);
    seen[i] = 1;
    n++;
  }
  WT_EQ(rc, 0);
  WT_EQ(n, N);
  vigil__win_list_close(&l);
  vigil__win_close(h);
  wt_rmtree(root);
  free(root);
}

static void opens_relative_to_a_handle(void) {
  char *root = wt_tempdir();
  char *sub = wt_join(root, "sub"), *deeper = wt_join(sub, "deeper"), *f = wt_join(root, "f");
  wt_mkdir(sub);
  wt_mkdir(deeper);
  wt_write(f, "");
  void *h = open_root(root), *s = NULL, *d = NULL;
  WT_EQ(vigil__win_open_dir(&s, h, "sub", 3), 0);
  WT_EQ(vigil__win_open_dir(&d, s, "deeper", 6), 0);
  vigil__win_stat st1, st2;
  WT_EQ(vigil__win_fstat(d, &st1), 0);
  WT_EQ(vigil__win_statat(s, "deeper", 6, &st2), 0);
  WT_EQ(st1.id, st2.id);
  WT_EQ(st1.volume, st2.volume);
  void *x = (void *)1;
  WT_EQ(vigil__win_open_dir(&x, h, "f", 1), -ENOTDIR);
  WT_ASSERT(x == NULL);
  WT_EQ(vigil__win_open_dir(&x, h, "missing", 7), -ENOENT);
  /* One name at a time: a path below the handle is refused, so nothing on the way is followed. */
  WT_EQ(vigil__win_open_dir(&x, h, "sub\\deeper", 10), -EINVAL);
  WT_EQ(vigil__win_open_dir(&x, h, "sub/deeper", 10), -EINVAL);
  vigil__win_close(d);
  vigil__win_close(s);
  vigil__win_close(h);
  wt_rmtree(root);
  free(sub), free(deeper), free(f), free(root);
}

/* A directory renamed keeps its ID; a new one under the old name has another. */
static void identity_survives_a_rename(void) {
  char *root = wt_tempdir();
  char *d = wt_join(root, "d"), *e = wt_join(root, "e");
  wt_mkdir(d);
  void *h = open_root(root);
  vigil__win_stat before, after, other;
  WT_EQ(vigil__win_statat(h, "d", 1, &before), 0);
  wt_rename(d, e);
  WT_EQ(vigil__win_statat(h, "e", 1, &after), 0);
  WT_EQ(after.id, before.id);
  wt_mkdir(d);
  WT_EQ(vigil__win_statat(h, "d", 1, &other), 0);
  WT_ASSERT(other.id != before.id);
  vigil__win_close(h);
  wt_rmtree(root);
  free(d), free(e), free(root);
}

/* A symbolic link to a directory is not followed. */
static void links_are_not_followed(void) {
  char *root = wt_tempdir();
  char *target = wt_join(root, "target"), *link = wt_join(root, "link");
  wt_mkdir(target);
  wchar_t wl[MAX_PATH], wtg[MAX_PATH];
  MultiByteToWideChar(CP_UTF8, 0, link, -1, wl, MAX_PATH);
  MultiByteToWideChar(CP_UTF8, 0, target, -1, wtg, MAX_PATH);
  if (!CreateSymbolicLinkW(wl, wtg, SYMBOLIC_LINK_FLAG_DIRECTORY)) {
    char why[96];
    snprintf(why, sizeof why, "cannot make a symbolic link here (error %lu)", GetLastError());
    wt_rmtree(root);
    free(target), free(link), free(root);
    wt_skip(why);
  }
  if (GetFileAttributesW(wl) == INVALID_FILE_ATTRIBUTES) {
    /* wine 8: CreateSymbolicLinkW reports success and makes nothing. */
    wt_rmtree(root);
    free(target), free(link), free(root);
    wt_skip("CreateSymbolicLinkW said yes and made no link (wine)");
  }
  void *h = open_root(root), *x = NULL;
  vigil__win_stat st;
  WT_EQ(vigil__win_statat(h, "link", 4, &st), 0);
  WT_EQ(st.is_link, 1);
  WT_EQ(vigil__win_open_dir(&x, h, "link", 4), -ELOOP);
  vigil__win_close(h);
  wt_rmtree(root);
  free(target), free(link), free(root);
}

int main(int argc, char **argv) {
  static const wt_test tests[] = {
      WT_TEST(lists_names_types_and_ids),  WT_TEST(lists_more_than_a_buffer),
      WT_TEST(opens_relative_to_a_handle), WT_TEST(identity_survives_a_rename),
      WT_TEST(links_are_not_followed),
  };
  return wt_run(tests, sizeof tests / sizeof tests[0], argc, argv);
}
