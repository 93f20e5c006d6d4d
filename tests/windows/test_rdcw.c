/*
 * The Windows backend's reader (src/backend/rdcw.c) under wine: the
 * record decoder (both forms of overflow, names in UTF-16), a watch's
 * records for real changes, overflow from a small buffer, errors (a
 * read the file system refuses, a buffer refused for its size), and
 * stopping: under a storm with and without CancelIoEx, from inside the
 * callback, from a thread that did not issue the read, and 1,000
 * open/close cycles with no handle left behind.
 */
#include "harness.h"

#include "backend/rdcw.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- What a read handed over. */

#define MAX_RECS 4096

typedef struct {
  size_t n;
  unsigned action[MAX_RECS];
  char *path[MAX_RECS];
  int overflow;
  int gone;
  vigil__rdcw *close_in_cb; /* closes this watch from the callback */
} recs;

static int collect(void *ctx, unsigned action, const char *path, size_t len) {
  recs *r = ctx;
  if (getenv("WT_DEBUG"))
    printf("rec %u %.*s\n", action, (int)len, path);
  if (r->n < MAX_RECS) {
    r->action[r->n] = action;
    r->path[r->n] = malloc(len + 1);
    WT_ASSERT(r->path[r->n]);
    memcpy(r->path[r->n], path, len);
    r->path[r->n][len] = 0;
    r->n++;
  }
  if (r->close_in_cb) {
    vigil__rdcw_close(r->close_in_cb);
    r->close_in_cb = NULL;
    return 1;
  }
  return 0;
}

static void recs_free(recs *r) {
  for (size_t i = 0; i < r->n && i < MAX_RECS; i++)
    free(r->path[i]);
  memset(r, 0, sizeof *r);
}

static int find(const recs *r, unsigned action, const char *path) {
  for (size_t i = 0; i < r->n; i++)
    if (r->action[i] == action && strcmp(r->path[i], path) == 0)
      return (int)i;
  return -1;
}

/* Reads until pred holds or ms pass; returns whether it held. */
static int read_until(vigil__rdcw *w, recs *r, int (*pred)(const recs *, const void *),
                      const void *arg, int ms) {
  int64_t end = wt_now_us() + (int64_t)ms * 1000;
  while (!pred(r, arg)) {
    int64_t left = (end - wt_now_us()) / 1000;
    if (left <= 0)
      return 0;
    WaitForSingleObject(vigil__rdcw_event(w), (DWORD)left);
    vigil__rdcw_result res;
    WT_EQ(vigil__rdcw_read(w, collect, r, 0, &res), 0);
    r->overflow |= res.overflow;
    r->gone |= res.gone;
    if (getenv("WT_DEBUG"))
      printf("read: %zu records overflow %d gone %d os %lu\n", res.records, res.overflow, res.gone,
             res.os);
  }
  return 1;
}

typedef struct {
  unsigned action;
  const char *path;
} want;

static int has(const recs *r, const void *arg) {
  const want *x = arg;
  return find(r, x->action, x->path) >= 0;
}

static int overflowed(const recs *r, const void *arg) {
  (void)arg;
  return r->overflow;
}

/* ---- The decoder. */

/* Appends one FILE_NOTIFY_INFORMATION; returns the new length. */
static size_t put_record(unsigned char *buf, size_t at, unsigned action, const uint16_t *name,
                         size_t units, size_t *prev) {
  if (*prev != (size_t)-1) {
    DWORD next = (DWORD)(at - *prev);
    memcpy(buf + *prev, &next, 4);
  }
  DWORD zero = 0, act = action, bytes = (DWORD)(units * 2);
  memcpy(buf + at, &zero, 4);
  memcpy(buf + at + 4, &act, 4);
  memcpy(buf + at + 8, &bytes, 4);
  memcpy(buf + at + 12, name, units * 2);
  *prev = at;
  return (at + 12 + units * 2 + 3) & ~(size_t)3;
}

static void decoder_zero_bytes_is_overflow(void) {
  unsigned char buf[64] = {0};
  recs r = {0};
  vigil__rdcw_result res = {0};
  WT_EQ(vigil__rdcw_decode(buf, 0, collect, &r, &res), 0);
  WT_EQ(res.overflow, 1);
  WT_EQ(res.records, 0);
  WT_EQ(r.n, 0);
}

static void decoder_names_and_actions(void) {
  unsigned char buf[512];
  size_t at = 0, prev = (size_t)-1;
  const uint16_t plain[] = {'s', 'u', 'b', '\\', 'a', ' ', 'b', '.', 't', 'x', 't'};
  const uint16_t accents[] = {0x00E9, 't', 0x00E9}; /* été */
  const uint16_t astral[] = {0xD83D, 0xDE00};       /* U+1F600 */
  const uint16_t lone[] = {'x', 0xD800, 'y'};       /* a lone surrogate: legal in a Windows name */
  at = put_record(buf, at, VIGIL__RDCW_ADDED, plain, 11, &prev);
  at = put_record(buf, at, VIGIL__RDCW_RENAMED_OLD, accents, 3, &prev);
  at = put_record(buf, at, VIGIL__RDCW_RENAMED_NEW, astral, 2, &prev);
  at = put_record(buf, at, VIGIL__RDCW_MODIFIED, lone, 3, &prev);
  recs r = {0};
  vigil__rdcw_result res = {0};
  WT_EQ(vigil__rdcw_decode(buf, at, collect, &r, &res), 0);
  WT_EQ(res.overflow, 0);
  WT_EQ(res.records, 4);
  WT_EQ(r.action[0], VIGIL__RDCW_ADDED);
  WT_STREQ(r.path[0], "sub\\a b.txt");
  WT_EQ(r.action[1], VIGIL__RDCW_RENAMED_OLD);
  WT_STREQ(r.path[1], "\xC3\xA9t\xC3\xA9");
  WT_EQ(r.action[2], VIGIL__RDCW_RENAMED_NEW);
  WT_STREQ(r.path[2], "\xF0\x9F\x98\x80");
  WT_EQ(r.action[3], VIGIL__RDCW_MODIFIED);
  WT_STREQ(r.path[3], "x\xED\xA0\x80y");
  /* And back: the lone surrogate converts to itself. */
  size_t units = 0;
  uint16_t *back = vigil__utf8_to_utf16(r.path[3], strlen(r.path[3]), &units);
  WT_ASSERT(back);
  WT_EQ(units, 3);
  WT_ASSERT(memcmp(back, lone, sizeof lone) == 0);
  free(back);
  recs_free(&r);
}

static void decoder_malformed_buffer(void) {
  unsigned char buf[128];
  size_t at = 0, prev = (size_t)-1;
  const uint16_t a[] = {'a'};
  at = put_record(buf, at, VIGIL__RDCW_ADDED, a, 1, &prev);
  at = put_record(buf, at, VIGIL__RDCW_ADDED, a, 1, &prev);
  /* The second record's name runs past the end. */
  DWORD huge = 1000;
  memcpy(buf + prev + 8, &huge, 4);
  recs r = {0};
  vigil__rdcw_result res = {0};
  WT_EQ(vigil__rdcw_decode(buf, at, collect, &r, &res), -EINVAL);
  WT_EQ(r.n, 1);
  /* An action this code does not know is a lost record: overflow. */
  recs r2 = {0};
  vigil__rdcw_result res2 = {0};
  size_t prev2 = (size_t)-1;
  size_t at2 = put_record(buf, 0, 9, a, 1, &prev2);
  WT_EQ(vigil__rdcw_decode(buf, at2, collect, &r2, &res2), 0);
  WT_EQ(res2.overflow, 1);
  WT_EQ(r2.n, 0);
  recs_free(&r);
}

static void utf8_that_is_not_is_refused(void) {
  errno = 0;
  WT_ASSERT(vigil__utf8_to_utf16("\xC3", 1, NULL) == NULL);
  WT_EQ(errno, EILSEQ);
  WT_ASSERT(vigil__utf8_to_utf16("\xC0\xAF", 2, NULL) == NULL);         /* overlong '/' */
  WT_ASSERT(vigil__utf8_to_utf16("\xF4\x90\x80\x80", 4, NULL) == NULL); /* above U+10FFFF */
}

/* ---- A watch on a real directory. */

static void records_of_changes(void) {
  char *root = wt_tempdir();
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  char *a = wt_join(root, "a file.txt"), *b = wt_join(root, "b.txt");
  char *sub = wt_join(root, "sub"), *inner = wt_join(sub, "\xC3\xA9t\xC3\xA9.txt");
  recs r = {0};
  wt_write(a, "x");
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "a file.txt"}, 5000));
  wt_append(a, "more");
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_MODIFIED, "a file.txt"}, 5000));
  wt_rename(a, b);
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_RENAMED_NEW, "b.txt"}, 5000));
  int old = find(&r, VIGIL__RDCW_RENAMED_OLD, "a file.txt");
  int new = find(&r, VIGIL__RDCW_RENAMED_NEW, "b.txt");
  WT_ASSERT(old >= 0);
  WT_EQ(new, old + 1); /* the two ends come together, old first */
  wt_mkdir(sub);
  wt_write(inner, "y");
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "sub\\\xC3\xA9t\xC3\xA9.txt"}, 5000));
  WT_ASSERT(find(&r, VIGIL__RDCW_ADDED, "sub") >= 0);
  wt_unlink(b);
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_REMOVED, "b.txt"}, 5000));
  WT_EQ(r.overflow, 0);
  vigil__rdcw_close(w);
  recs_free(&r);
  wt_rmtree(root);
  free(a), free(b), free(sub), free(inner), free(root);
}

/* A batch read in parts: in order, each record once, the watch done until the last part. */
static void a_batch_in_parts(void) {
  char *root = wt_tempdir();
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof name, "p%02d", i);
    char *p = wt_join(root, name);
    wt_write(p, "");
    free(p);
  }
  recs r = {0};
  int64_t end = wt_now_us() + 10 * 1000000LL;
  int parts = 0, max_in_part = 0;
  while (find(&r, VIGIL__RDCW_ADDED, "p19") < 0 && wt_now_us() < end) {
    WaitForSingleObject(vigil__rdcw_event(w), 100);
    if (!vigil__rdcw_done(w))
      continue;
    size_t before = r.n;
    vigil__rdcw_result res;
    WT_EQ(vigil__rdcw_read(w, collect, &r, 3, &res), 0);
    WT_CMP(r.n - before, <=, 3);
    WT_EQ(res.more, vigil__rdcw_done(w) && res.more);
    if ((int)(r.n - before) > max_in_part)
      max_in_part = (int)(r.n - before);
    parts++;
  }
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof name, "p%02d", i);
    int at = find(&r, VIGIL__RDCW_ADDED, name);
    if (at < 0)
      wt_fail(__FILE__, __LINE__, "no record of %s", name);
    if (i > 0) {
      char prev[16];
      snprintf(prev, sizeof prev, "p%02d", i - 1);
      WT_CMP(find(&r, VIGIL__RDCW_ADDED, prev), <, at);
    }
  }
  WT_EQ(max_in_part, 3);
  WT_CMP(parts, >=, 7);
  vigil__rdcw_close(w);
  recs_free(&r);
  wt_rmtree(root);
  free(root);
}

static void long_paths(void) {
  char *root = wt_tempdir();
  /* Past MAX_PATH (260) with the \\?\ prefix the watch adds itself. */
  char *deep = strdup(root);
  WT_ASSERT(deep);
  for (int i = 0; i < 6; i++) {
    char *next = wt_join(deep, "a-directory-name-of-fifty-characters-for-depth-xx");
    free(deep);
    deep = next;
    char *prefixed = malloc(strlen(deep) + 5);
    WT_ASSERT(prefixed);
    sprintf(prefixed, "\\\\?\\%s", deep);
    wt_mkdir(prefixed);
    free(prefixed);
  }
  WT_ASSERT(strlen(deep) > 300);
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, deep, 0, 1, NULL), 0);
  char *f = wt_join(deep, "f");
  char *pf = malloc(strlen(f) + 5);
  WT_ASSERT(pf);
  sprintf(pf, "\\\\?\\%s", f);
  wt_write(pf, "x");
  recs r = {0};
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "f"}, 5000));
  vigil__rdcw_close(w);
  recs_free(&r);
  char *proot = malloc(strlen(root) + 5);
  WT_ASSERT(proot);
  sprintf(proot, "\\\\?\\%s", root);
  wt_rmtree(proot);
  free(proot), free(pf), free(f), free(deep), free(root);
}

static void errors_with_answers(void) {
  char *root = wt_tempdir();
  char *file = wt_join(root, "file"), *missing = wt_join(root, "missing");
  wt_write(file, "x");
  vigil__rdcw *w = (void *)1;
  WT_EQ(vigil__rdcw_open(&w, file, 0, 1, NULL), -ENOTDIR);
  WT_ASSERT(w == NULL);
  WT_EQ(vigil__rdcw_open(&w, missing, 0, 1, NULL), -ENOENT);
  WT_EQ(vigil__rdcw_open(&w, "bad\xC3", 0, 1, NULL), -EILSEQ);
  wt_rmtree(root);
  free(file), free(missing), free(root);
}

/*
 * A file system that refuses ReadDirectoryChangesW (a network share or a
 * redirector without change notification; wine refuses nothing, so
 * vigil__rdcw_refuse pretends it): -ENOSYS whichever word it refuses
 * with, so that the backend's caller polls it or says so, and no handle
 * left behind. ERROR_INVALID_PARAMETER at 64 KiB is one: a buffer of
 * that size is what every share accepts.
 */
static void refused_reads(void) {
  static const unsigned long words[] = {ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED,
                                        ERROR_INVALID_PARAMETER};
  char *root = wt_tempdir();
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  vigil__rdcw_close(w);
  long probe0 = wt_handle_probe();
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    vigil__rdcw_refuse(words[i], 0);
    w = (void *)1;
    int rc = vigil__rdcw_open(&w, root, 0, 1, NULL);
    vigil__rdcw_refuse(0, 0);
    if (rc != -ENOSYS)
      wt_fail(__FILE__, __LINE__, "Windows error %lu: %d, not -ENOSYS", words[i], rc);
    WT_ASSERT(w == NULL);
  }
  WT_CMP(wt_handle_probe(), <=, probe0);
  wt_rmtree(root);
  free(root);
}

/*
 * SMB refuses a buffer of more than 64 KiB with ERROR_INVALID_PARAMETER:
 * the read is issued again with 64 KiB, and that size stays (every read
 * after it is issued with it too).
 */
static void a_buffer_refused_is_retried_at_64_kib(void) {
  char *root = wt_tempdir();
  vigil__rdcw *w;
  vigil__rdcw_refuse(ERROR_INVALID_PARAMETER, 64 * 1024);
  int rc = vigil__rdcw_open(&w, root, 1024 * 1024, 1, NULL);
  if (rc < 0)
    vigil__rdcw_refuse(0, 0);
  WT_EQ(rc, 0);
  char *a = wt_join(root, "a"), *b = wt_join(root, "b");
  recs r = {0};
  wt_write(a, "");
  int got_a = read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "a"}, 5000);
  wt_write(b, "");
  int got_b = read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "b"}, 5000);
  vigil__rdcw_refuse(0, 0);
  WT_ASSERT(got_a);
  WT_ASSERT(got_b);
  vigil__rdcw_close(w);
  recs_free(&r);
  wt_rmtree(root);
  free(a), free(b), free(root);
}

/*
 * Overflow as wine gives it: records that do not fit the buffer are
 * dropped, and the read fails with ERROR_NOTIFY_ENUM_DIR. A 64-byte
 * buffer and 200 creates make it happen.
 */
static void overflow_from_a_small_buffer(void) {
  char *root = wt_tempdir();
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 64, 1, NULL), 0);
  for (int i = 0; i < 200; i++) {
    char name[32];
    snprintf(name, sizeof name, "file-%03d", i);
    char *p = wt_join(root, name);
    wt_write(p, "");
    free(p);
  }
  recs r = {0};
  WT_ASSERT(read_until(w, &r, overflowed, NULL, 10000));
  /* And the watch goes on after it. */
  char *after = wt_join(root, "after");
  wt_write(after, "");
  WT_ASSERT(read_until(w, &r, has, &(want){VIGIL__RDCW_ADDED, "after"}, 5000));
  vigil__rdcw_close(w);
  recs_free(&r);
  wt_rmtree(root);
  free(after), free(root);
}

/*
 * The root itself moved away: its own watch says nothing (wine: nothing
 * at all; Windows: nothing, the handle follows the directory), and a
 * watch on its parent, which the backend holds for this, sees its name
 * go. The root deleted is another matter: the watch's own handle keeps
 * the directory "delete pending" until it is closed, so the parent hears
 * nothing; Windows then ends the root's read with access denied (which
 * the read reports as gone), and wine does not (docs/backends.md).
 */
static void root_moved_is_seen_from_its_parent(void) {
  char *top = wt_tempdir();
  char *root = wt_join(top, "root"), *moved = wt_join(top, "moved");
  wt_mkdir(root);
  vigil__rdcw *w, *parent;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  WT_EQ(vigil__rdcw_open(&parent, top, 0, 0, NULL), 0);
  wt_rename(root, moved);
  recs r = {0};
  WT_ASSERT(read_until(parent, &r, has, &(want){VIGIL__RDCW_RENAMED_OLD, "root"}, 5000));
  vigil__rdcw_close(w);
  vigil__rdcw_close(parent);
  recs_free(&r);
  wt_rmtree(top);
  free(root), free(moved), free(top);
}

/* ---- Stopping. */

typedef struct {
  const char *root;
  HANDLE stop;
  volatile LONG made;
} storm_arg;

/* Creates and deletes files as fast as it can until stop is signalled. */
static DWORD WINAPI storm(LPVOID p) {
  storm_arg *a = p;
  char name[64];
  for (long i = 0; WaitForSingleObject(a->stop, 0) == WAIT_TIMEOUT; i++) {
    snprintf(name, sizeof name, "%s\\storm-%ld", a->root, i % 50);
    HANDLE h = CreateFileA(name, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                           CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h != INVALID_HANDLE_VALUE) {
      CloseHandle(h);
      DeleteFileA(name);
      InterlockedIncrement(&a->made);
    }
  }
  return 0;
}

typedef struct {
  vigil__rdcw *w;
  HANDLE stop;   /* ends the reading */
  HANDLE finish; /* ends the thread, once the main thread has closed the watch */
  HANDLE left;   /* set by the thread when it has stopped reading */
  int park;      /* park the watch before it stops reading */
  volatile LONG reads;
  int parked;
} reader_arg;

static int count_only(void *ctx, unsigned action, const char *path, size_t len) {
  (void)ctx, (void)action, (void)path, (void)len;
  return 0;
}

/* Reads like vigil's thread: waits on the completion and the stop event. */
static DWORD WINAPI reader(LPVOID p) {
  reader_arg *a = p;
  HANDLE hs[2] = {a->stop, vigil__rdcw_event(a->w)};
  for (;;) {
    DWORD r = WaitForMultipleObjects(2, hs, FALSE, INFINITE);
    if (r == WAIT_OBJECT_0)
      break;
    vigil__rdcw_result res;
    vigil__rdcw_read(a->w, count_only, NULL, 0, &res);
    InterlockedIncrement(&a->reads);
  }
  if (a->park)
    a->parked = vigil__rdcw_park(a->w);
  SetEvent(a->left);
  WaitForSingleObject(a->finish, INFINITE);
  return 0;
}

/*
 * A storm of changes, a thread reading them, then a stop: the time from
 * the stop to the watch freed is bounded. how: 0 the reading thread
 * parks its own read (CancelIo) and the main thread closes; 1 the main
 * thread closes while the reader, alive, still holds its read.
 */
static void stop_under_storm(int how, int pretend_no_cancelioex, int expect_close) {
  char *root = wt_tempdir();
  int was = vigil__rdcw_no_cancelioex(pretend_no_cancelioex);
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  storm_arg s = {root, CreateEventW(NULL, TRUE, FALSE, NULL), 0};
  reader_arg a = {w,
                  CreateEventW(NULL, TRUE, FALSE, NULL),
                  CreateEventW(NULL, TRUE, FALSE, NULL),
                  CreateEventW(NULL, TRUE, FALSE, NULL),
                  how == 0,
                  0,
                  0};
  HANDLE st = CreateThread(NULL, 0, storm, &s, 0, NULL);
  HANDLE rt = CreateThread(NULL, 0, reader, &a, 0, NULL);
  WT_ASSERT(st && rt);
  /* The stop comes in a storm: a thousand files made, several completions taken. */
  int64_t end = wt_now_us() + 20 * 1000000;
  while ((a.reads < 5 || s.made < 1000) && wt_now_us() < end)
    Sleep(1);
  WT_CMP(a.reads, >=, 5);
  WT_CMP(s.made, >=, 1000);
  int64_t t0 = wt_now_us();
  SetEvent(a.stop);
  if (how == 0) {
    SetEvent(a.finish);
    WT_EQ(WaitForSingleObject(rt, 5000), WAIT_OBJECT_0);
    WT_EQ(a.parked, 1);
    vigil__rdcw_close(w);
  } else {
    /* The reader leaves its loop but stays alive, its last read pending. */
    WT_EQ(WaitForSingleObject(a.left, 5000), WAIT_OBJECT_0);
    vigil__rdcw_close(w);
    SetEvent(a.finish);
    WT_EQ(WaitForSingleObject(rt, 5000), WAIT_OBJECT_0);
  }
  int64_t stop_us = wt_now_us() - t0;
  SetEvent(s.stop);
  WT_EQ(WaitForSingleObject(st, 5000), WAIT_OBJECT_0);
  vigil__rdcw_no_cancelioex(was);
  printf("    stop: %.1f ms, %ld reads, %ld files in the storm, close path %d\n", stop_us / 1000.0,
         (long)a.reads, (long)s.made, vigil__rdcw_last_close());
  if (how == 0) {
    WT_EQ(vigil__rdcw_last_close(), 0); /* parked: nothing was left to cancel */
  } else if (vigil__rdcw_last_close() != 0) {
    /* 0: the storm's next records completed the read before the close came. */
    WT_EQ(vigil__rdcw_last_close(), expect_close);
  }
  WT_CMP(stop_us, <, 6 * 1000000);
  CloseHandle(st), CloseHandle(rt), CloseHandle(s.stop), CloseHandle(a.stop), CloseHandle(a.finish);
  CloseHandle(a.left);
  wt_rmtree(root);
  free(root);
}

static void stop_under_storm_parked_with_cancelioex(void) {
  stop_under_storm(0, 0, 0);
}

static void stop_under_storm_parked_without_cancelioex(void) {
  stop_under_storm(0, 1, 0);
}

static void stop_under_storm_from_another_thread_with_cancelioex(void) {
  if (!vigil__rdcw_have_cancelioex())
    wt_skip("this system has no CancelIoEx");
  stop_under_storm(1, 0, 1);
}

static void stop_under_storm_from_another_thread_without_cancelioex(void) {
  /* The read's memory is freed only after closing the handle completed it. */
  stop_under_storm(1, 1, 2);
}

typedef struct {
  vigil__rdcw *w;
  HANDLE issued, finish;
} issuer_arg;

/* Issues the read (taking the first completion, if any) and stays alive. */
static DWORD WINAPI issuer(LPVOID p) {
  issuer_arg *a = p;
  vigil__rdcw_result res;
  vigil__rdcw_read(a->w, count_only, NULL, 0, &res); /* takes it, issues the next one */
  SetEvent(a->issued);
  WaitForSingleObject(a->finish, INFINITE);
  return 0;
}

/*
 * In a quiet directory, a read issued by a thread that is alive and
 * not reading: the close from another thread must end it without
 * CancelIo, which would cancel nothing from there.
 */
static void close_of_a_read_another_thread_issued(int pretend_no_cancelioex, int expect) {
  char *root = wt_tempdir();
  int was = vigil__rdcw_no_cancelioex(pretend_no_cancelioex);
  issuer_arg a = {NULL, CreateEventW(NULL, TRUE, FALSE, NULL),
                  CreateEventW(NULL, TRUE, FALSE, NULL)};
  WT_EQ(vigil__rdcw_open(&a.w, root, 0, 1, NULL), 0);
  /* This thread issued the first read: it parks it, so the other thread issues the next. */
  WT_EQ(vigil__rdcw_park(a.w), 1);
  HANDLE t = CreateThread(NULL, 0, issuer, &a, 0, NULL);
  WT_ASSERT(t);
  WT_EQ(WaitForSingleObject(a.issued, 5000), WAIT_OBJECT_0);
  int64_t t0 = wt_now_us();
  vigil__rdcw_close(a.w);
  int64_t us = wt_now_us() - t0;
  SetEvent(a.finish);
  WT_EQ(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
  vigil__rdcw_no_cancelioex(was);
  printf("    close: %.1f ms, close path %d\n", us / 1000.0, vigil__rdcw_last_close());
  WT_EQ(vigil__rdcw_last_close(), expect);
  WT_CMP(us, <, 6 * 1000000);
  CloseHandle(t), CloseHandle(a.issued), CloseHandle(a.finish);
  wt_rmtree(root);
  free(root);
}

static void close_of_another_threads_read_with_cancelioex(void) {
  if (!vigil__rdcw_have_cancelioex())
    wt_skip("this system has no CancelIoEx");
  close_of_a_read_another_thread_issued(0, 1);
}

static void close_of_another_threads_read_without_cancelioex(void) {
  close_of_a_read_another_thread_issued(1, 2);
}

static void stop_from_inside_the_callback(void) {
  char *root = wt_tempdir();
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  char *a = wt_join(root, "a");
  wt_write(a, "");
  recs r = {0};
  r.close_in_cb = w;
  WT_EQ(WaitForSingleObject(vigil__rdcw_event(w), 5000), WAIT_OBJECT_0);
  vigil__rdcw_result res;
  WT_EQ(vigil__rdcw_read(w, collect, &r, 0, &res), 0);
  WT_ASSERT(r.n >= 1);
  WT_ASSERT(r.close_in_cb == NULL);
  /* Closed when the read returned, by the thread that had issued the next read. */
  WT_EQ(vigil__rdcw_last_close(), 1);
  recs_free(&r);
  wt_rmtree(root);
  free(a), free(root);
}

/*
 * 1,000 open/close cycles, exactly, each with a read pending: no handle
 * left behind. The 10,000 cycles of the whole library, open, add and
 * close, are test_library's; both keep another read open meanwhile
 * (wt_wine_keep_reads says why).
 */
static void open_close_cycles_leave_no_handle(void) {
  enum { CYCLES = 1000 };
  char *root = wt_tempdir();
  void *keep = wt_wine_keep_reads();
  /* A first cycle, so that what is made once per process is made. */
  vigil__rdcw *w;
  WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
  vigil__rdcw_close(w);
  long count0 = wt_handle_count(), probe0 = wt_handle_probe();
  int64_t t0 = wt_now_us();
  for (int i = 0; i < CYCLES; i++) {
    WT_EQ(vigil__rdcw_open(&w, root, 0, 1, NULL), 0);
    vigil__rdcw_close(w);
  }
  int64_t us = wt_now_us() - t0;
  long count1 = wt_handle_count(), probe1 = wt_handle_probe();
  printf("    %d cycles in %.1f s: handle count %ld -> %ld, next handle %ld -> %ld\n", CYCLES,
         us / 1e6, count0, count1, probe0, probe1);
  WT_CMP(count1, <=, count0);
  WT_CMP(probe1, <=, probe0);
  wt_wine_keep_reads_end(keep);
  wt_rmtree(root);
  free(root);
}

int main(int argc, char **argv) {
  static const wt_test tests[] = {
      WT_TEST(decoder_zero_bytes_is_overflow),
      WT_TEST(decoder_names_and_actions),
      WT_TEST(decoder_malformed_buffer),
      WT_TEST(utf8_that_is_not_is_refused),
      WT_TEST(records_of_changes),
      WT_TEST(a_batch_in_parts),
      WT_TEST(long_paths),
      WT_TEST(errors_with_answers),
      WT_TEST(refused_reads),
      WT_TEST(a_buffer_refused_is_retried_at_64_kib),
      WT_TEST(overflow_from_a_small_buffer),
      WT_TEST(root_moved_is_seen_from_its_parent),
      WT_TEST(stop_under_storm_parked_with_cancelioex),
      WT_TEST(stop_under_storm_parked_without_cancelioex),
      WT_TEST(stop_under_storm_from_another_thread_with_cancelioex),
      WT_TEST(stop_under_storm_from_another_thread_without_cancelioex),
      WT_TEST(close_of_another_threads_read_with_cancelioex),
      WT_TEST(close_of_another_threads_read_without_cancelioex),
      WT_TEST(stop_from_inside_the_callback),
      WT_TEST(open_close_cycles_leave_no_handle),
  };
  return wt_run(tests, sizeof tests / sizeof tests[0], argc, argv);
}
