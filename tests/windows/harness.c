/* The Windows tests' harness (see harness.h). */
#include "harness.h"

#include <windows.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf wt_jump;
static int wt_outcome; /* 0 passed, 1 failed, 2 skipped */
static const char *wt_current;
static HANDLE wt_done;
static volatile LONG wt_passed, wt_failed, wt_skipped;
static DWORD wt_limit_ms = 120000;

void wt_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stdout, "  FAIL %s (%s:%d): ", wt_current, file, line);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  fflush(stdout);
  wt_outcome = 1;
  longjmp(wt_jump, 1);
}

void wt_skip(const char *why) {
  printf("  SKIP %s: %s\n", wt_current, why);
  fflush(stdout);
  wt_outcome = 2;
  longjmp(wt_jump, 1);
}

/* Ends the program when a test overstays its limit. */
static DWORD WINAPI watchdog(LPVOID arg) {
  (void)arg;
  for (;;) {
    if (WaitForSingleObject(wt_done, wt_limit_ms) != WAIT_TIMEOUT)
      continue; /* a test finished in time; the next one starts the clock again */
    printf("  FAIL %s: still running after %lu ms\n", wt_current, (unsigned long)wt_limit_ms);
    printf("%ld passed, %ld failed, %ld skipped\n", (long)wt_passed, (long)wt_failed + 1,
           (long)wt_skipped);
    fflush(stdout);
    ExitProcess(1);
  }
  return 0;
}

int wt_run(const wt_test *tests, size_t n, int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  const char *limit = getenv("WT_TIMEOUT_S");
  if (limit && atoi(limit) > 0)
    wt_limit_ms = (DWORD)atoi(limit) * 1000;
  setvbuf(stdout, NULL, _IONBF, 0);
  wt_done = CreateEventW(NULL, FALSE, FALSE, NULL);
  HANDLE dog = CreateThread(NULL, 0, watchdog, NULL, 0, NULL);
  if (!wt_done || !dog) {
    printf("cannot start the watchdog: error %lu\n", GetLastError());
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    if (only && !strstr(tests[i].name, only))
      continue;
    wt_current = tests[i].name;
    wt_outcome = 0;
    SetEvent(wt_done); /* restarts the watchdog's clock */
    int64_t t0 = wt_now_us();
    if (setjmp(wt_jump) == 0)
      tests[i].fn();
    long ms = (long)((wt_now_us() - t0) / 1000);
    if (wt_outcome == 0) {
      printf("  ok   %s (%ld ms)\n", tests[i].name, ms);
      InterlockedIncrement(&wt_passed);
    } else if (wt_outcome == 1) {
      InterlockedIncrement(&wt_failed);
    } else {
      InterlockedIncrement(&wt_skipped);
    }
  }
  printf("%ld passed, %ld failed, %ld skipped\n", (long)wt_passed, (long)wt_failed,
         (long)wt_skipped);
  return wt_failed ? 1 : 0;
}

int64_t wt_now_us(void) {
  static LARGE_INTEGER freq;
  LARGE_INTEGER t;
  if (!freq.QuadPart)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&t);
  return (int64_t)(t.QuadPart / freq.QuadPart * 1000000 +
                   t.QuadPart % freq.QuadPart * 1000000 / freq.QuadPart);
}

/*
 * A UTF-16 path; an absolute one gets the \\?\ prefix, so that the
 * tests can make and remove trees deeper than MAX_PATH.
 */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
  int pre = s[0] && s[1] == ':' && s[2] == '\\' ? 4 : 0;
  wchar_t *w = n > 0 ? malloc((size_t)(n + pre) * sizeof *w) : NULL;
  if (!w || MultiByteToWideChar(CP_UTF8, 0, s, -1, w + pre, n) != n)
    wt_fail(__FILE__, __LINE__, "cannot convert \"%s\" to UTF-16", s);
  if (pre)
    memcpy(w, L"\\\\?\\", 4 * sizeof *w);
  return w;
}

static char *narrow(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s = n > 0 ? malloc((size_t)n) : NULL;
  if (!s || WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n)
    wt_fail(__FILE__, __LINE__, "cannot convert a name to UTF-8");
  return s;
}

#define WT_WIN(call, path)                                                                         \
  do {                                                                                             \
    wchar_t *w_ = wide(path);                                                                      \
    BOOL ok_ = (call);                                                                             \
    DWORD err_ = GetLastError();                                                                   \
    free(w_);                                                                                      \
    if (!ok_)                                                                                      \
      wt_fail(__FILE__, __LINE__, "%s: %s: Windows error %lu", #call, path, (unsigned long)err_);  \
  } while (0)

char *wt_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s)
    wt_fail(__FILE__, __LINE__, "out of memory");
  memcpy(s, a, la);
  s[la] = '\\';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

char *wt_tempdir(void) {
  wchar_t base[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, base);
  if (!n || n > MAX_PATH)
    wt_fail(__FILE__, __LINE__, "GetTempPathW: Windows error %lu", GetLastError());
  static LONG seq;
  for (int tries = 0; tries < 100; tries++) {
    wchar_t path[MAX_PATH + 64];
    swprintf(path, MAX_PATH + 64, L"%lsvigil-test-%lu-%ld", base, GetCurrentProcessId(),
             (long)InterlockedIncrement(&seq));
    if (CreateDirectoryW(path, NULL))
      return narrow(path);
  }
  wt_fail(__FILE__, __LINE__, "cannot make a temporary directory: Windows error %lu",
          GetLastError());
}

static void rmtree_w(const wchar_t *path) {
  size_t len = wcslen(path);
  wchar_t *pattern = malloc((len + 3) * sizeof *pattern);
  if (!pattern)
    return;
  swprintf(pattern, len + 3, L"%ls\\*", path);
  WIN32_FIND_DATAW fd;
  HANDLE h = FindFirstFileW(pattern, &fd);
  free(pattern);
  if (h != INVALID_HANDLE_VALUE) {
    do {
      if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
        continue;
      size_t cl = len + wcslen(fd.cFileName) + 2;
      wchar_t *child = malloc(cl * sizeof *child);
      if (!child)
        continue;
      swprintf(child, cl, L"%ls\\%ls", path, fd.cFileName);
      if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        rmtree_w(child);
      else
        DeleteFileW(child);
      free(child);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
  }
  RemoveDirectoryW(path);
}

void wt_rmtree(const char *path) {
  wchar_t *w = wide(path);
  rmtree_w(w);
  free(w);
}

void wt_mkdir(const char *path) {
  WT_WIN(CreateDirectoryW(w_, NULL), path);
}

static void write_mode(const char *path, const char *text, DWORD disposition) {
  wchar_t *w = wide(path);
  HANDLE h = CreateFileW(w, FILE_APPEND_DATA | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, disposition,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  DWORD err = GetLastError();
  free(w);
  if (h == INVALID_HANDLE_VALUE)
    wt_fail(__FILE__, __LINE__, "CreateFileW: %s: Windows error %lu", path, (unsigned long)err);
  if (disposition == OPEN_ALWAYS)
    SetFilePointer(h, 0, NULL, FILE_END);
  DWORD put = 0;
  BOOL ok = WriteFile(h, text, (DWORD)strlen(text), &put, NULL);
  CloseHandle(h);
  if (!ok || put != strlen(text))
    wt_fail(__FILE__, __LINE__, "WriteFile: %s: Windows error %lu", path, GetLastError());
}

void wt_write(const char *path, const char *text) {
  write_mode(path, text, CREATE_ALWAYS);
}

void wt_append(const char *path, const char *text) {
  write_mode(path, text, OPEN_ALWAYS);
}

void wt_rename(const char *from, const char *to) {
  wchar_t *wt = wide(to);
  WT_WIN(MoveFileExW(w_, wt, MOVEFILE_REPLACE_EXISTING), from);
  free(wt);
}

void wt_unlink(const char *path) {
  WT_WIN(DeleteFileW(w_), path);
}

void wt_rmdir(const char *path) {
  WT_WIN(RemoveDirectoryW(w_), path);
}

long wt_handle_count(void) {
  DWORD n = 0;
  if (!GetProcessHandleCount(GetCurrentProcess(), &n))
    wt_fail(__FILE__, __LINE__, "GetProcessHandleCount: Windows error %lu", GetLastError());
  return (long)n;
}

long wt_handle_probe(void) {
  HANDLE h = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!h)
    wt_fail(__FILE__, __LINE__, "CreateEventW: Windows error %lu", GetLastError());
  long v = (long)(intptr_t)h;
  CloseHandle(h);
  return v;
}

typedef struct {
  char *dir;
  HANDLE h, ev;
  OVERLAPPED ov;
  DWORD buf[256];
} keep_reads;

void *wt_wine_keep_reads(void) {
  keep_reads *k = calloc(1, sizeof *k);
  if (!k)
    wt_fail(__FILE__, __LINE__, "out of memory");
  k->dir = wt_tempdir();
  wchar_t *w = wide(k->dir);
  k->h = CreateFileW(w, FILE_LIST_DIRECTORY, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
  free(w);
  if (k->h == INVALID_HANDLE_VALUE)
    wt_fail(__FILE__, __LINE__, "%s: Windows error %lu", k->dir, GetLastError());
  k->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  k->ov.hEvent = k->ev;
  if (!k->ev || !ReadDirectoryChangesW(k->h, k->buf, sizeof k->buf, FALSE,
                                       FILE_NOTIFY_CHANGE_FILE_NAME, NULL, &k->ov, NULL))
    wt_fail(__FILE__, __LINE__, "ReadDirectoryChangesW: Windows error %lu", GetLastError());
  return k;
}

void wt_wine_keep_reads_end(void *keep) {
  keep_reads *k = keep;
  DWORD n;
  CancelIo(k->h);
  GetOverlappedResult(k->h, &k->ov, &n, TRUE);
  CloseHandle(k->h);
  CloseHandle(k->ev);
  wt_rmtree(k->dir);
  free(k->dir);
  free(k);
}
