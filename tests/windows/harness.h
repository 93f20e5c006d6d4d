/*
 * A small test harness for the Windows tests, which run under wine on
 * Linux (cmocka is not packaged for mingw-w64). It keeps what the unit
 * tests rely on in cmocka: every test is a function run in turn, a failed
 * assertion ends its test and prints both values, a skip says why, and
 * the run ends with one line, "N passed, N failed, N skipped". A
 * watchdog ends the whole program when one test runs longer than its
 * limit (WT_TIMEOUT_S, 120 s by default): a stop that hangs must fail, not
 * hang the suite.
 *
 * Assertions may only be made on the thread that runs the tests; helper
 * threads report back through their own variables.
 */
#ifndef VIGIL_WT_HARNESS_H
#define VIGIL_WT_HARNESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name;
  void (*fn)(void);
} wt_test;

#define WT_TEST(fn)                                                                                \
  { #fn, fn }

/* Runs the tests (only those whose name contains argv[1], if given). */
int wt_run(const wt_test *tests, size_t n, int argc, char **argv);

void wt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
void wt_skip(const char *why) __attribute__((noreturn));

#define WT_ASSERT(c)                                                                               \
  do {                                                                                             \
    if (!(c))                                                                                      \
      wt_fail(__FILE__, __LINE__, "%s", #c);                                                       \
  } while (0)
#define WT_CMP(a, op, b)                                                                           \
  do {                                                                                             \
    long long wt_a_ = (long long)(a), wt_b_ = (long long)(b);                                      \
    if (!(wt_a_ op wt_b_))                                                                         \
      wt_fail(__FILE__, __LINE__, "%s %s %s: %lld %s %lld", #a, #op, #b, wt_a_, #op, wt_b_);       \
  } while (0)
#define WT_EQ(a, b) WT_CMP(a, ==, b)
#define WT_STREQ(a, b)                                                                             \
  do {                                                                                             \
    const char *wt_a_ = (a), *wt_b_ = (b);                                                         \
    if (strcmp(wt_a_, wt_b_) != 0)                                                                 \
      wt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, wt_a_, wt_b_);             \
  } while (0)

/* Monotonic microseconds. */
int64_t wt_now_us(void);

/*
 * Files, by UTF-8 paths (converted to UTF-16: every name works). Each
 * returns 0 or fails the test with the path and the Windows error.
 */
char *wt_tempdir(void); /* a new empty directory; free() the string */
void wt_rmtree(const char *path);
void wt_mkdir(const char *path);
void wt_write(const char *path, const char *text); /* creates or truncates */
void wt_append(const char *path, const char *text);
void wt_rename(const char *from, const char *to);
void wt_unlink(const char *path);
void wt_rmdir(const char *path);
/* a joined with b by '\'; free() it. */
char *wt_join(const char *a, const char *b);

/*
 * How many handles the process holds: GetProcessHandleCount, which wine
 * 8 answers with 0 whatever is open; and the value a new handle gets,
 * which grows when handles leak there too (handles are numbered lowest
 * free first). A test of leaks checks both.
 */
long wt_handle_count(void);
long wt_handle_probe(void);

/*
 * A directory read (ReadDirectoryChangesW) of a directory of its own,
 * kept open until wt_wine_keep_reads_end, for tests that open and close
 * reads in a loop. Under wine, closing the last directory read of the
 * whole wineserver closes its inotify instance, and Linux makes that
 * close wait for an RCU grace period (about 10 ms): a cost of wine's, not
 * of the code under test, that this one open read keeps out of a loop.
 * Opened before a test's first handle count and ended after its last,
 * so the counts are unchanged by it.
 */
void *wt_wine_keep_reads(void);
void wt_wine_keep_reads_end(void *keep);

#endif /* VIGIL_WT_HARNESS_H */
