/*
 * Directory access on Windows, in the shape the core's listing takes on
 * POSIX systems: directories are opened relative to an open directory
 * (NtCreateFile with a root directory handle, the openat of Windows),
 * without following a link on the way (FILE_OPEN_REPARSE_POINT, as
 * O_NOFOLLOW); a directory is listed through its handle, with each
 * entry's file ID in the same call (NtQueryDirectoryFile,
 * FileIdBothDirectoryInformation, as getdents64 gives inodes); and an
 * entry is stat'ed relative to its directory. A directory's identity is
 * its volume serial number and file ID (GetFileInformationByHandle),
 * which a rename keeps and a new directory under the old name does not:
 * what reconcile compares to tell a directory replaced from one that
 * stayed.
 *
 * Names are UTF-8 here and UTF-16 in the system, converted exactly
 * (rdcw.h). Handles are void * so that this header needs no windows.h.
 * Every function returns 0 (or 1 for an entry) or -errno.
 */
#ifndef VIGIL_WINFS_H
#define VIGIL_WINFS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t volume; /* the volume's serial number */
  uint64_t id;     /* the file ID: the inode of Windows */
  uint64_t size;
  int64_t mtime; /* last write, in 100 ns since 1601 (FILETIME) */
  int64_t ctime; /* last change of content or metadata; 0 where unknown */
  unsigned is_dir : 1;
  unsigned is_link : 1; /* a reparse point: a symbolic link or a junction */
} vigil__win_stat;

/*
 * Opens a directory for listing and for opening below it: at NULL, path
 * is absolute or relative to the current directory (long paths work, see
 * vigil__win_long_path); otherwise path is one name in the directory at.
 * A link is not followed: -ELOOP. A file: -ENOTDIR. *out is the handle.
 */
int vigil__win_open_dir(void **out, void *at, const char *path, size_t len);
void vigil__win_close(void *h);
/* Opens a file for reading, as vigil__win_open_dir opens a directory (-EISDIR for one). */
int vigil__win_open_file(void **out, void *at, const char *path, size_t len);

/* What an open handle is. */
int vigil__win_fstat(void *h, vigil__win_stat *st);
/*
 * An open handle's FILE_ATTRIBUTE_* bits: all it takes to tell a
 * directory, and cheaper than vigil__win_fstat, which asks the volume.
 */
int vigil__win_attributes(void *h, unsigned long *attrs);
/* What the entry name (len bytes) of the directory at is, without following a link. */
int vigil__win_statat(void *at, const char *name, size_t len, vigil__win_stat *st);

/* One entry: name valid until the next vigil__win_list_next. */
typedef struct {
  const char *name;
  size_t len;
  uint64_t id;
  int64_t mtime;
  unsigned is_dir : 1;
  unsigned is_link : 1;
} vigil__win_dirent;

/*
 * A listing of the directory open as dir, from its start, into buf (cap
 * bytes, a multiple of 8, 64 KiB is good); dir stays the caller's.
 * "." and ".." are left out.
 */
typedef struct {
  void *dir;
  unsigned char *buf;
  size_t cap, off, got;
  int restart;
  char *name; /* the current entry's name in UTF-8 */
  size_t name_cap;
} vigil__win_dirlist;

int vigil__win_list_open(vigil__win_dirlist *l, void *dir, void *buf, size_t cap);
/* 1 and *e filled, 0 at the end, or -errno. */
int vigil__win_list_next(vigil__win_dirlist *l, vigil__win_dirent *e);
void vigil__win_list_close(vigil__win_dirlist *l);

#endif /* VIGIL_WINFS_H */
