/*
 * The POSIX calls of the core on Windows (see winposix.h), on winfs.c.
 */
#include "platform/winposix.h"
#include "platform/winfs.h"
#include "backend/rdcw.h"

#include <windows.h>

#include <stdarg.h>

/* FILETIME (100 ns since 1601) as a timespec since 1970. */
static struct timespec from_filetime(int64_t ft) {
  int64_t t = ft - 116444736000000000LL;
  struct timespec ts;
  ts.tv_sec = (time_t)(t / 10000000);
  ts.tv_nsec = (long)(t % 10000000) * 100;
  if (ts.tv_nsec < 0) {
    ts.tv_sec--;
    ts.tv_nsec += 1000000000L;
  }
  return ts;
}

static void fill(struct vigil__w_stat *st, const vigil__win_stat *w) {
  memset(st, 0, sizeof *st);
  st->st_dev = w->volume;
  st->st_ino = w->id;
  st->st_mode = w->is_link ? S_IFLNK | 0777 : w->is_dir ? S_IFDIR | 0755 : S_IFREG | 0644;
  st->st_nlink = 1;
  st->st_size = (int64_t)w->size;
  st->st_mtim = from_filetime(w->mtime);
  st->st_atim = st->st_mtim;
  st->st_ctim = w->ctime ? from_filetime(w->ctime) : st->st_mtim;
}

static int fail(int neg_errno) {
  errno = -neg_errno;
  return -1;
}

void *vigil__w_handle(int fd) {
  intptr_t h = _get_osfhandle(fd);
  return h == -1 ? NULL : (void *)h;
}

/* The directory a descriptor stands for, or NULL for AT_FDCWD (a path then). */
static int at_handle(int dfd, void **at) {
  *at = NULL;
  if (dfd == AT_FDCWD)
    return 0;
  *at = vigil__w_handle(dfd);
  return *at ? 0 : -EBADF;
}

/*
 * Walks path below at, one name at a time, never following a link: the
 * directory that holds the last name (a handle to close when it is not
 * at) and that name.
 */
static int walk(void *at, const char *path, void **dir, const char **name, size_t *len) {
  *dir = at;
  const char *p = path;
  for (;;) {
    const char *slash = strchr(p, '/');
    if (!slash) {
      *name = p;
      *len = strlen(p);
      return 0;
    }
    void *next;
    int rc = vigil__win_open_dir(&next, *dir, p, (size_t)(slash - p));
    if (*dir != at)
      vigil__win_close(*dir);
    if (rc < 0)
      return rc;
    *dir = next;
    p = slash + 1;
  }
}

int vigil__w_openat(int dfd, const char *path, int flags, ...) {
  void *at, *dir, *h;
  int rc = at_handle(dfd, &at);
  if (rc < 0)
    return fail(rc);
  const char *name = path;
  size_t len = strlen(path);
  dir = at;
  if (at && (rc = walk(at, path, &dir, &name, &len)) < 0)
    return fail(rc);
  if (flags & (O_DIRECTORY | O_PATH))
    rc = vigil__win_open_dir(&h, dir, name, len);
  else
    rc = vigil__win_open_file(&h, dir, name, len);
  if (dir != at)
    vigil__win_close(dir);
  if (rc < 0)
    return fail(rc);
  int fd = _open_osfhandle((intptr_t)h, _O_RDONLY | _O_BINARY);
  if (fd < 0) {
    vigil__win_close(h);
    return fail(-EMFILE);
  }
  return fd;
}

int vigil__w_fstatat(int dfd, const char *path, struct vigil__w_stat *st, int flags) {
  (void)flags; /* links are never followed */
  void *at, *dir;
  int rc = at_handle(dfd, &at);
  if (rc < 0)
    return fail(rc);
  const char *name = path;
  size_t len = strlen(path);
  dir = at;
  if (at && (rc = walk(at, path, &dir, &name, &len)) < 0)
    return fail(rc);
  vigil__win_stat w;
  rc = vigil__win_statat(dir, name, len, &w);
  if (dir != at)
    vigil__win_close(dir);
  if (rc < 0)
    return fail(rc);
  fill(st, &w);
  return 0;
}

int vigil__w_stat(const char *path, struct vigil__w_stat *st) {
  return vigil__w_fstatat(AT_FDCWD, path, st, 0);
}

int vigil__w_fstat(int fd, struct vigil__w_stat *st) {
  void *h = vigil__w_handle(fd);
  if (!h)
    return fail(-EBADF);
  vigil__win_stat w;
  int rc = vigil__win_fstat(h, &w);
  if (rc < 0)
    return fail(rc);
  fill(st, &w);
  return 0;
}

char *vigil__w_realpath(const char *path, char *resolved) {
  int rc = 0;
  uint16_t *full = vigil__win_long_path(path, &rc);
  if (!full) {
    errno = -rc;
    return NULL;
  }
  /* Without the \\?\ prefix (or \\?\UNC\ for a share), '/' between the names. */
  const wchar_t *w = (const wchar_t *)full;
  /* It must exist; its attributes say so without the volume query a stat makes (winfs.c). */
  if (GetFileAttributesW(w) == INVALID_FILE_ATTRIBUTES) {
    int err = vigil__win_errno(GetLastError());
    free(full);
    errno = -err;
    return NULL;
  }
  size_t skip = 4;
  int unc = wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0;
  if (unc)
    skip = 6; /* keep two characters to become "//" */
  size_t units = wcslen(w + skip);
  size_t need = vigil__utf16_to_utf8(full + skip, units, NULL, 0);
  char *out = resolved ? resolved : malloc(need + 1);
  if (!out || (resolved && need >= PATH_MAX)) {
    free(full);
    errno = out ? ENAMETOOLONG : ENOMEM;
    return NULL;
  }
  vigil__utf16_to_utf8(full + skip, units, out, need);
  out[need] = 0;
  free(full);
  for (char *c = out; *c; c++)
    if (*c == '\\')
      *c = '/';
  if (unc)
    out[0] = out[1] = '/';
  return out;
}

void *vigil__w_mmap(void *addr, size_t len, int prot, int flags, int fd, long off) {
  (void)flags, (void)fd, (void)off;
  void *p = VirtualAlloc(addr, len, MEM_RESERVE, prot ? PAGE_READWRITE : PAGE_NOACCESS);
  return p ? p : MAP_FAILED;
}

int vigil__w_mprotect(void *addr, size_t len, int prot) {
  (void)prot;
  return VirtualAlloc(addr, len, MEM_COMMIT, PAGE_READWRITE) ? 0 : fail(-ENOMEM);
}

int vigil__w_munmap(void *addr, size_t len) {
  (void)len;
  return VirtualFree(addr, 0, MEM_RELEASE) ? 0 : fail(-EINVAL);
}
