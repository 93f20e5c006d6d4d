/*
 * ReadDirectoryChangesW, overlapped, one root at a time (see rdcw.h for
 * the rules of stopping, overflow and names).
 */
#include "backend/rdcw.h"
#include "platform/winfs.h"

#include <windows.h>

#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* The most a network share accepts for one read (SMB refuses more). */
#define DEFAULT_BUFFER (64 * 1024)

/* How long a close waits for a read it completed by closing the handle. */
#define CLOSE_WAIT_MS 5000

/*
 * Everything RDCW can report: names (files and directories) for created,
 * removed and renamed; content (size, last write) and metadata
 * (attributes, creation time, security) for modified.
 */
#define NOTIFY_FILTER                                                                              \
  (FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_DIR_NAME | FILE_NOTIFY_CHANGE_ATTRIBUTES |    \
   FILE_NOTIFY_CHANGE_SIZE | FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_CREATION |         \
   FILE_NOTIFY_CHANGE_SECURITY)

struct vigil__rdcw {
  HANDLE dir;
  OVERLAPPED ov; /* ov.hEvent: manual-reset, signalled when the read completes */
  void *buf[2];  /* buf[cur] is the one the pending read fills */
  int cur;
  DWORD size;
  BOOL recursive;
  DWORD issuer;           /* the thread that issued the pending read */
  unsigned pending : 1;   /* a read was issued and its completion not yet taken */
  unsigned in_read : 1;   /* vigil__rdcw_read is handing records to its callback */
  unsigned close_me : 1;  /* closed from inside that callback */
  unsigned own_event : 1; /* ov.hEvent is this watch's, not shared with others */
  /*
   * A completed batch read in parts (vigil__rdcw_read's max): it stays in
   * buf[cur ^ 1] while the next read fills buf[cur], and the next
   * completion is not taken before the batch is done, since its read
   * would be issued into this buffer.
   */
  size_t left_off, left_bytes; /* left_off < left_bytes while records are left */
};

/*
 * Whether the pending read has completed: the kernel writes its status
 * into the OVERLAPPED before it sets the event, and the event may be
 * shared by several watches (vigil__rdcw_open), so the status is what
 * tells.
 */
static int completed(const vigil__rdcw *w) {
  return HasOverlappedIoCompleted(&w->ov);
}

/*
 * Waits up to ms (INFINITE: for ever) for the pending read to complete;
 * returns whether it has. A shared event may be set by another watch's
 * completion: then this waits in steps of a millisecond.
 */
static int wait_done(const vigil__rdcw *w, DWORD ms) {
  DWORD start = GetTickCount(); /* not GetTickCount64, which Windows XP lacks */
  while (!completed(w)) {
    DWORD spent = GetTickCount() - start;
    if (ms != INFINITE && spent >= ms)
      return 0;
    DWORD step = ms == INFINITE ? INFINITE : ms - spent;
    if (WaitForSingleObject(w->ov.hEvent, step) == WAIT_OBJECT_0 && !completed(w))
      Sleep(1);
  }
  return 1;
}

typedef BOOL(WINAPI *cancel_io_ex_fn)(HANDLE, LPOVERLAPPED);

static volatile LONG no_cancelioex;
static volatile LONG last_close;
static volatile LONG refuse_error, refuse_above; /* vigil__rdcw_refuse */

int vigil__rdcw_no_cancelioex(int on) {
  return (int)InterlockedExchange(&no_cancelioex, on ? 1 : 0);
}

unsigned long vigil__rdcw_refuse(unsigned long err, size_t above) {
  InterlockedExchange(&refuse_above, above > 0x7fffffff ? 0x7fffffff : (LONG)above);
  return (unsigned long)InterlockedExchange(&refuse_error, (LONG)err);
}

/*
 * CancelIoEx exists from Windows Vista on; found at run time so that the
 * library loads where it does not, and never needed for a stop.
 */
static cancel_io_ex_fn find_cancelioex(void) {
  HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
  if (!k32)
    return NULL;
  FARPROC f = GetProcAddress(k32, "CancelIoEx");
  cancel_io_ex_fn fn;
  memcpy(&fn, &f, sizeof fn); /* a cast between function pointer types warns */
  return fn;
}

int vigil__rdcw_have_cancelioex(void) {
  return find_cancelioex() != NULL;
}

int vigil__rdcw_last_close(void) {
  return (int)InterlockedCompareExchange(&last_close, 0, 0);
}

int vigil__win_errno(unsigned long code) {
  switch (code) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_NAME:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_DELETE_PENDING:
    return -ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
  case ERROR_PRIVILEGE_NOT_HELD:
    return -EACCES;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_NO_SYSTEM_RESOURCES:
    return -ENOMEM;
  case ERROR_DIRECTORY:
    return -ENOTDIR;
  case ERROR_INVALID_FUNCTION:
  case ERROR_NOT_SUPPORTED:
    return -ENOSYS;
  case ERROR_FILENAME_EXCED_RANGE:
    return -ENAMETOOLONG;
  case ERROR_TOO_MANY_OPEN_FILES:
    return -EMFILE;
  case ERROR_INVALID_PARAMETER:
    return -EINVAL;
  case ERROR_ALREADY_EXISTS:
  case ERROR_FILE_EXISTS:
    return -EEXIST;
  case ERROR_DIR_NOT_EMPTY:
    return -ENOTEMPTY;
  default:
    return -EIO;
  }
}

/* ---- Names: UTF-16 <-> UTF-8, exactly. */

size_t vigil__utf16_to_utf8(const uint16_t *s, size_t n, char *out, size_t cap) {
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00u);
      i++;
    }
    unsigned char b[4];
    size_t k;
    if (c < 0x80) {
      b[0] = (unsigned char)c;
      k = 1;
    } else if (c < 0x800) {
      b[0] = (unsigned char)(0xC0 | (c >> 6));
      b[1] = (unsigned char)(0x80 | (c & 0x3F));
      k = 2;
    } else if (c < 0x10000) { /* a lone surrogate too: WTF-8 */
      b[0] = (unsigned char)(0xE0 | (c >> 12));
      b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      b[2] = (unsigned char)(0x80 | (c & 0x3F));
      k = 3;
    } else {
      b[0] = (unsigned char)(0xF0 | (c >> 18));
      b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
      b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
      b[3] = (unsigned char)(0x80 | (c & 0x3F));
      k = 4;
    }
    for (size_t j = 0; j < k; j++, len++)
      if (len < cap)
        out[len] = (char)b[j];
  }
  return len;
}

uint16_t *vigil__utf8_to_utf16(const char *str, size_t len, size_t *units) {
  const unsigned char *s = (const unsigned char *)str;
  /* Never more units than bytes, plus the NUL. */
  uint16_t *w = malloc((len + 1) * sizeof *w);
  if (!w) {
    errno = ENOMEM;
    return NULL;
  }
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    uint32_t c = s[i];
    size_t k;
    uint32_t min;
    if (c < 0x80) {
      k = 1;
      min = 0;
    } else if ((c & 0xE0) == 0xC0) {
      k = 2;
      c &= 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      k = 3;
      c &= 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      k = 4;
      c &= 0x07;
      min = 0x10000;
    } else {
      goto bad;
    }
    if (i + k > len)
      goto bad;
    for (size_t j = 1; j < k; j++) {
      if ((s[i + j] & 0xC0) != 0x80)
        goto bad;
      c = (c << 6) | (s[i + j] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (k == 1 && c == 0))
      goto bad;
    if (c >= 0x10000) {
      c -= 0x10000;
      w[n++] = (uint16_t)(0xD800 + (c >> 10));
      w[n++] = (uint16_t)(0xDC00 + (c & 0x3FF));
    } else {
      w[n++] = (uint16_t)c;
    }
    i += k;
  }
  w[n] = 0;
  if (units)
    *units = n;
  return w;
bad:
  free(w);
  errno = EILSEQ;
  return NULL;
}

static int starts_with(const wchar_t *s, const wchar_t *prefix) {
  return wcsncmp(s, prefix, wcslen(prefix)) == 0;
}

uint16_t *vigil__win_long_path(const char *path, int *err) {
  uint16_t *w = vigil__utf8_to_utf16(path, strlen(path), NULL);
  if (!w) {
    *err = -errno;
    return NULL;
  }
  const wchar_t *wide = (const wchar_t *)w;
  if (starts_with(wide, L"\\\\?\\"))
    return w;
  DWORD n = GetFullPathNameW(wide, 0, NULL, NULL);
  wchar_t *full = n ? malloc((n + 8) * sizeof *full) : NULL;
  if (!full) {
    *err = n ? -ENOMEM : vigil__win_errno(GetLastError());
    free(w);
    return NULL;
  }
  /* Room for the prefix in front; \\server\share becomes \\?\UNC\server\share. */
  DWORD got = GetFullPathNameW(wide, n, full + 7, NULL);
  free(w);
  if (!got || got >= n) {
    *err = got ? -ENAMETOOLONG : vigil__win_errno(GetLastError());
    free(full);
    return NULL;
  }
  wchar_t *abs = full + 7;
  if (abs[0] == L'\\' && abs[1] == L'\\') {
    if (abs[2] == L'?' || abs[2] == L'.') { /* already a device path */
      memmove(full, abs, (got + 1) * sizeof *full);
      return (uint16_t *)full;
    }
    /* \\server\share: keep "server\share", put \\?\UNC\ before it. */
    wchar_t *rest = abs + 2;
    memmove(full + 8, rest, (wcslen(rest) + 1) * sizeof *full);
    memcpy(full, L"\\\\?\\UNC\\", 8 * sizeof *full);
    return (uint16_t *)full;
  }
  memcpy(full + 3, L"\\\\?\\", 4 * sizeof *full);
  memmove(full, full + 3, (got + 5) * sizeof *full);
  return (uint16_t *)full;
}

/* ---- Records. */

/*
 * Decodes from *at (the offset of the next record) at most max records;
 * *at becomes the offset of the next one, or bytes at the end.
 */
static int decode_part(const void *buf, size_t bytes, size_t *at, size_t max, vigil__rdcw_cb cb,
                       void *ctx, vigil__rdcw_result *out) {
  const unsigned char *p = buf;
  char small[512];
  char *name = small;
  size_t cap = sizeof small;
  int rc = 0;
  size_t off = *at, n = 0;
  for (;;) {
    if (n == max) {
      *at = off;
      goto out;
    }
    n++;
    DWORD next, action, name_bytes;
    if (bytes - off < 12) {
      rc = -EINVAL;
      break;
    }
    memcpy(&next, p + off, 4);
    memcpy(&action, p + off + 4, 4);
    memcpy(&name_bytes, p + off + 8, 4);
    if (name_bytes % 2 || name_bytes > bytes - off - 12) {
      rc = -EINVAL;
      break;
    }
    size_t units = name_bytes / 2;
    uint16_t stack_units[256];
    uint16_t *u = units <= 256 ? stack_units : malloc(units * sizeof *u);
    if (!u) {
      rc = -ENOMEM;
      break;
    }
    memcpy(u, p + off + 12, name_bytes); /* the name need not be aligned */
    size_t len = vigil__utf16_to_utf8(u, units, name, cap);
    if (len > cap) {
      char *bigger = malloc(len);
      if (!bigger) {
        if (u != stack_units)
          free(u);
        rc = -ENOMEM;
        break;
      }
      if (name != small)
        free(name);
      name = bigger;
      cap = len;
      vigil__utf16_to_utf8(u, units, name, cap);
    }
    if (u != stack_units)
      free(u);
    if (action < VIGIL__RDCW_ADDED || action > VIGIL__RDCW_RENAMED_NEW) {
      /* A record this code cannot read is a record lost: repair. */
      out->overflow = 1;
    } else {
      out->records++;
      if (cb(ctx, action, name, len)) {
        if (next)
          out->overflow = 1;
        break;
      }
    }
    if (!next)
      break;
    /*
     * Windows aligns records to 4 bytes, wine does not (a record of 34
     * bytes is followed by the next at 34): every field is read with
     * memcpy, so neither needs to be.
     */
    if (next < 12 || next >= bytes - off) {
      rc = -EINVAL;
      break;
    }
    off += next;
  }
  *at = bytes; /* the end, or a fault: nothing more to read in it */
out:
  if (name != small)
    free(name);
  return rc;
}

int vigil__rdcw_decode(const void *buf, size_t bytes, vigil__rdcw_cb cb, void *ctx,
                       vigil__rdcw_result *out) {
  if (bytes == 0) {
    /* Success with nothing: the kernel's buffer overflowed. */
    out->overflow = 1;
    return 0;
  }
  size_t at = 0;
  return decode_part(buf, bytes, &at, SIZE_MAX, cb, ctx, out);
}

/* ---- The watch. */

/*
 * Issues a read into buf[cur]; 0 or a Windows error code. The kernel
 * resets the event as the read starts: an owner of a shared event looks
 * at every watch's status after issuing (vigil__rdcw_done).
 */
static DWORD issue(vigil__rdcw *w) {
  HANDLE ev = w->ov.hEvent;
  memset(&w->ov, 0, sizeof w->ov);
  w->ov.hEvent = ev;
  DWORD refused = (DWORD)InterlockedCompareExchange(&refuse_error, 0, 0);
  if (refused && w->size > (DWORD)InterlockedCompareExchange(&refuse_above, 0, 0))
    return refused; /* a test's file system that refuses it (vigil__rdcw_refuse) */
  if (!ReadDirectoryChangesW(w->dir, w->buf[w->cur], w->size, w->recursive, NOTIFY_FILTER, NULL,
                             &w->ov, NULL))
    return GetLastError();
  w->pending = 1;
  w->issuer = GetCurrentThreadId();
  return 0;
}

/*
 * Does the first read's error say that the file system cannot report
 * changes at all? A file system without change notification (some
 * network redirectors, some shares) says "invalid function" or "not
 * supported"; a share that refuses even 64 KiB says "invalid parameter"
 * (the handle is known to be a directory by then, and the rest of the
 * call is the same for every directory).
 */
static int refused(DWORD err) {
  return err == ERROR_INVALID_FUNCTION || err == ERROR_NOT_SUPPORTED ||
         err == ERROR_CALL_NOT_IMPLEMENTED || err == ERROR_INVALID_PARAMETER;
}

static void free_watch(vigil__rdcw *w) {
  if (w->dir)
    CloseHandle(w->dir);
  if (w->ov.hEvent && w->own_event)
    CloseHandle(w->ov.hEvent);
  free(w->buf[0]);
  free(w->buf[1]);
  free(w);
}

int vigil__rdcw_open(vigil__rdcw **out, const char *path, size_t buffer_size, int recursive,
                     void *event) {
  *out = NULL;
  int rc = 0;
  uint16_t *wpath = vigil__win_long_path(path, &rc);
  if (!wpath)
    return rc;
  vigil__rdcw *w = calloc(1, sizeof *w);
  if (!w) {
    free(wpath);
    return -ENOMEM;
  }
  w->dir = CreateFileW((const wchar_t *)wpath, FILE_LIST_DIRECTORY,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
  free(wpath);
  if (w->dir == INVALID_HANDLE_VALUE) {
    w->dir = NULL;
    rc = vigil__win_errno(GetLastError());
    goto fail;
  }
  unsigned long attrs;
  if ((rc = vigil__win_attributes(w->dir, &attrs)) < 0)
    goto fail;
  if (!(attrs & FILE_ATTRIBUTE_DIRECTORY)) {
    rc = -ENOTDIR;
    goto fail;
  }
  /* Records are DWORD-aligned in the buffer, so its size is a multiple of 4. */
  size_t size = buffer_size ? (buffer_size + 3) & ~(size_t)3 : DEFAULT_BUFFER;
  w->size = (DWORD)size;
  w->recursive = recursive ? TRUE : FALSE;
  w->buf[0] = malloc(size);
  w->buf[1] = malloc(size);
  w->own_event = event == NULL;
  w->ov.hEvent = event ? event : CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!w->buf[0] || !w->buf[1] || !w->ov.hEvent) {
    rc = -ENOMEM;
    goto fail;
  }
  DWORD err = issue(w);
  if (err == ERROR_INVALID_PARAMETER && w->size > DEFAULT_BUFFER) {
    /* SMB refuses a buffer of more than 64 KiB; every share takes that much. */
    w->size = DEFAULT_BUFFER;
    err = issue(w);
  }
  if (err) {
    rc = refused(err) ? -ENOSYS : vigil__win_errno(err);
    goto fail;
  }
  *out = w;
  return 0;
fail:
  free_watch(w);
  return rc;
}

void *vigil__rdcw_event(const vigil__rdcw *w) {
  return w->ov.hEvent;
}

/*
 * Closes the watch for good: cancels a pending read in the one way open
 * to this thread, and waits for its completion before the memory goes.
 */
static void close_now(vigil__rdcw *w) {
  if (!w->pending || completed(w)) {
    InterlockedExchange(&last_close, 0);
    free_watch(w);
    return;
  }
  DWORD n;
  cancel_io_ex_fn cancel_ex = no_cancelioex ? NULL : find_cancelioex();
  if (w->issuer == GetCurrentThreadId() || cancel_ex) {
    if (w->issuer == GetCurrentThreadId())
      CancelIo(w->dir);
    else
      cancel_ex(w->dir, &w->ov); /* FALSE when it had completed already: the wait returns */
    wait_done(w, INFINITE);
    GetOverlappedResult(w->dir, &w->ov, &n, FALSE);
    InterlockedExchange(&last_close, 1);
    free_watch(w);
    return;
  }
  /*
   * Another thread issued the read, and CancelIo from here would cancel
   * nothing. Closing the handle completes it (with an error code that
   * differs between systems, hence no check of it); the memory stays
   * until it has.
   */
  CloseHandle(w->dir);
  w->dir = NULL;
  if (wait_done(w, CLOSE_WAIT_MS)) {
    InterlockedExchange(&last_close, 2);
    free_watch(w);
    return;
  }
  /* Never free what the kernel may still write: keep it all. */
  InterlockedExchange(&last_close, 3);
}

void vigil__rdcw_close(vigil__rdcw *w) {
  if (!w)
    return;
  if (w->in_read) {
    w->close_me = 1;
    return;
  }
  close_now(w);
}

int vigil__rdcw_done(const vigil__rdcw *w) {
  return w->left_off < w->left_bytes || (w->pending && completed(w));
}

int vigil__rdcw_park(vigil__rdcw *w) {
  if (!w->pending || completed(w))
    return 1;
  DWORD n;
  if (w->issuer == GetCurrentThreadId()) {
    CancelIo(w->dir);
  } else {
    cancel_io_ex_fn cancel_ex = no_cancelioex ? NULL : find_cancelioex();
    if (!cancel_ex)
      return 0;
    cancel_ex(w->dir, &w->ov);
  }
  /* The completion (aborted, or records that came first) stays to be taken. */
  wait_done(w, INFINITE);
  GetOverlappedResult(w->dir, &w->ov, &n, FALSE);
  return 1;
}

/* Hands on up to max records of the batch in parts (see struct vigil__rdcw). */
static int read_left(vigil__rdcw *w, vigil__rdcw_cb cb, void *ctx, size_t max,
                     vigil__rdcw_result *out) {
  w->in_read = 1;
  int rc = decode_part(w->buf[w->cur ^ 1], w->left_bytes, &w->left_off, max, cb, ctx, out);
  w->in_read = 0;
  if (rc == -EINVAL) {
    out->overflow = 1; /* a malformed batch is a lost one */
    rc = 0;
  }
  if (w->left_off >= w->left_bytes)
    w->left_off = w->left_bytes = 0;
  out->more = w->left_off < w->left_bytes;
  if (w->close_me)
    close_now(w);
  return rc;
}

int vigil__rdcw_read(vigil__rdcw *w, vigil__rdcw_cb cb, void *ctx, size_t max,
                     vigil__rdcw_result *out) {
  memset(out, 0, sizeof *out);
  if (!max)
    max = SIZE_MAX;
  if (w->left_off < w->left_bytes)
    return read_left(w, cb, ctx, max, out);
  if (!w->dir) {
    out->gone = 1;
    return 0;
  }
  DWORD err = 0, n = 0;
  if (!w->pending) {
    /* The last read could not be issued again: try once more. */
    err = issue(w);
    if (err) {
      out->gone = 1;
      out->os = err;
    }
    return 0;
  }
  if (!completed(w))
    return 0;
  if (!GetOverlappedResult(w->dir, &w->ov, &n, FALSE))
    err = GetLastError();
  w->pending = 0;
  if (err == ERROR_NOTIFY_ENUM_DIR) {
    out->overflow = 1; /* the batch did not fit the buffer and was dropped */
  } else if (err && err != ERROR_OPERATION_ABORTED) {
    /* The directory went away, or its handle stopped working. */
    out->gone = 1;
    out->os = err;
    return 0;
  }
  w->cur ^= 1; /* the completed batch is now buf[cur ^ 1] */
  /* The next read first, so that the kernel fills one buffer while this code reads the other. */
  DWORD ierr = issue(w);
  if (ierr) {
    out->gone = 1;
    out->os = ierr;
  }
  if (err)
    return 0;
  if (n == 0) {
    out->overflow = 1; /* success with nothing: the kernel's buffer overflowed */
    return 0;
  }
  w->left_off = 0;
  w->left_bytes = n;
  return read_left(w, cb, ctx, max, out);
}
