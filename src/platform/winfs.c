/*
 * Directory access on Windows (see winfs.h): NtCreateFile relative to a
 * directory handle, NtQueryDirectoryFile for listings with file IDs,
 * the native queries of GetFileInformationByHandle for identity. They are in
 * ntdll.dll on every Windows since NT, and in wine.
 */
#include "platform/winfs.h"
#include "backend/rdcw.h" /* UTF-16 <-> UTF-8, errors */

#include <windows.h>
#include <winternl.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef FILE_OPEN_REPARSE_POINT
#define FILE_OPEN_REPARSE_POINT 0x00200000
#endif
#ifndef FILE_OPEN_FOR_BACKUP_INTENT
#define FILE_OPEN_FOR_BACKUP_INTENT 0x00004000
#endif
#ifndef FILE_DIRECTORY_FILE
#define FILE_DIRECTORY_FILE 0x00000001
#endif
#ifndef FILE_SYNCHRONOUS_IO_NONALERT
#define FILE_SYNCHRONOUS_IO_NONALERT 0x00000020
#endif
#ifndef FILE_OPEN
#define FILE_OPEN 0x00000001
#endif
#ifndef STATUS_NO_MORE_FILES
#define STATUS_NO_MORE_FILES ((NTSTATUS)0x80000006L)
#endif
#ifndef STATUS_BUFFER_OVERFLOW
#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005L)
#endif
#ifndef STATUS_NOT_IMPLEMENTED
#define STATUS_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002L)
#endif
#ifndef STATUS_INVALID_DEVICE_REQUEST
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010L)
#endif
#ifndef STATUS_NOT_SUPPORTED
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)
#endif

/* Declared in the driver kit's headers only. */
NTSTATUS NTAPI NtQueryDirectoryFile(HANDLE file, HANDLE event, PIO_APC_ROUTINE apc, PVOID apc_ctx,
                                    PIO_STATUS_BLOCK io, PVOID info, ULONG length,
                                    FILE_INFORMATION_CLASS cls, BOOLEAN single,
                                    PUNICODE_STRING mask, BOOLEAN restart);

/* FILE_ID_BOTH_DIR_INFORMATION, as documented. */
typedef struct {
  ULONG NextEntryOffset;
  ULONG FileIndex;
  LARGE_INTEGER CreationTime;
  LARGE_INTEGER LastAccessTime;
  LARGE_INTEGER LastWriteTime;
  LARGE_INTEGER ChangeTime;
  LARGE_INTEGER EndOfFile;
  LARGE_INTEGER AllocationSize;
  ULONG FileAttributes;
  ULONG FileNameLength;
  ULONG EaSize;
  CCHAR ShortNameLength;
  WCHAR ShortName[12];
  LARGE_INTEGER FileId;
  WCHAR FileName[1];
} id_both_dir_info;

static int nt_errno(NTSTATUS st) {
  return vigil__win_errno(RtlNtStatusToDosError(st));
}

/* Opens one name below at, or a whole path when at is NULL. */
static int open_at(HANDLE *out, HANDLE at, const char *path, size_t len, ACCESS_MASK access,
                   ULONG options) {
  *out = NULL;
  uint16_t *w;
  size_t units = 0;
  int rc = 0;
  if (at) {
    if (!len || memchr(path, '\\', len) || memchr(path, '/', len))
      return -EINVAL; /* one name, never a path: nothing on the way to follow */
    w = vigil__utf8_to_utf16(path, len, &units);
    if (!w)
      return -errno;
  } else {
    char *z = malloc(len + 1);
    if (!z)
      return -ENOMEM;
    memcpy(z, path, len);
    z[len] = 0;
    w = vigil__win_long_path(z, &rc);
    free(z);
    if (!w)
      return rc;
    /* \\?\ is the Win32 form of the native \??\ prefix. */
    w[1] = '?';
    units = wcslen((const wchar_t *)w);
  }
  UNICODE_STRING name = {(USHORT)(units * 2), (USHORT)(units * 2), (PWSTR)w};
  if (units * 2 > 0xFFFE) {
    free(w);
    return -ENAMETOOLONG;
  }
  OBJECT_ATTRIBUTES oa;
  InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE, at, NULL);
  IO_STATUS_BLOCK io;
  NTSTATUS st = NtCreateFile(out, access | SYNCHRONIZE, &oa, &io, NULL, 0,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN,
                             options | FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_FOR_BACKUP_INTENT |
                                 FILE_OPEN_REPARSE_POINT,
                             NULL, 0);
  free(w);
  if (!NT_SUCCESS(st)) {
    *out = NULL;
    return nt_errno(st);
  }
  return 0;
}

/* The native FILE_*_INFORMATION structures, as documented, and their classes. */
typedef struct {
  LARGE_INTEGER CreationTime, LastAccessTime, LastWriteTime, ChangeTime;
  ULONG FileAttributes;
} basic_info;
typedef struct {
  LARGE_INTEGER AllocationSize, EndOfFile;
  ULONG NumberOfLinks;
  BOOLEAN DeletePending, Directory;
} standard_info;
typedef struct {
  LARGE_INTEGER VolumeCreationTime;
  ULONG VolumeSerialNumber;
  ULONG VolumeLabelLength;
  BOOLEAN SupportsObjects;
  WCHAR VolumeLabel[1];
} volume_info;
#define FILE_BASIC_INFO_CLASS ((FILE_INFORMATION_CLASS)4)
#define FILE_STANDARD_INFO_CLASS ((FILE_INFORMATION_CLASS)5)
#define FILE_INTERNAL_INFO_CLASS ((FILE_INFORMATION_CLASS)6)
#define FILE_FS_VOLUME_INFO_CLASS ((FS_INFORMATION_CLASS)1)

/* Declared in the driver kit's headers only. */
NTSTATUS NTAPI NtQueryVolumeInformationFile(HANDLE file, PIO_STATUS_BLOCK io, PVOID info,
                                            ULONG length, FS_INFORMATION_CLASS cls);

static int basic(HANDLE h, basic_info *bi) {
  IO_STATUS_BLOCK io;
  NTSTATUS st = NtQueryInformationFile(h, &io, bi, sizeof *bi, FILE_BASIC_INFO_CLASS);
  return NT_SUCCESS(st) ? 0 : nt_errno(st);
}

/*
 * What GetFileInformationByHandle answers, asked for piece by piece as
 * it does, and the change time it lacks. The volume's serial number is
 * the one piece that costs: wine asks its mount manager, in another
 * process, for it (about a millisecond under load), so only identity
 * asks for it (vigil__win_fstat), never a check of a handle's type.
 */
int vigil__win_fstat(void *h, vigil__win_stat *st) {
  basic_info bi;
  standard_info si;
  LARGE_INTEGER id;
  IO_STATUS_BLOCK io;
  NTSTATUS s;
  int rc = basic(h, &bi);
  if (rc < 0)
    return rc;
  if (!NT_SUCCESS(s = NtQueryInformationFile(h, &io, &si, sizeof si, FILE_STANDARD_INFO_CLASS)) ||
      !NT_SUCCESS(s = NtQueryInformationFile(h, &io, &id, sizeof id, FILE_INTERNAL_INFO_CLASS)))
    return nt_errno(s);
  /* Room for a label: a buffer too small for it is STATUS_BUFFER_OVERFLOW, with the serial. */
  union {
    volume_info vi;
    unsigned char room[sizeof(volume_info) + 64 * sizeof(WCHAR)];
  } vol;
  s = NtQueryVolumeInformationFile(h, &io, &vol, sizeof vol, FILE_FS_VOLUME_INFO_CLASS);
  /*
   * A file system that keeps no volume information (wine on a tmpfs
   * answers "not implemented") has serial 0 for all its files: still one
   * volume to vigil, as every answer about it is the same.
   */
  int no_volume = s == STATUS_NOT_IMPLEMENTED || s == STATUS_INVALID_DEVICE_REQUEST ||
                  s == STATUS_NOT_SUPPORTED;
  if (!NT_SUCCESS(s) && s != STATUS_BUFFER_OVERFLOW && !no_volume)
    return nt_errno(s);
  memset(st, 0, sizeof *st);
  st->volume = no_volume ? 0 : vol.vi.VolumeSerialNumber;
  st->id = (uint64_t)id.QuadPart;
  st->size = (uint64_t)si.EndOfFile.QuadPart;
  st->mtime = bi.LastWriteTime.QuadPart;
  st->ctime = bi.ChangeTime.QuadPart;
  st->is_dir = (bi.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  st->is_link = (bi.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
  return 0;
}

int vigil__win_attributes(void *h, unsigned long *attrs) {
  basic_info bi;
  int rc = basic(h, &bi);
  if (rc == 0)
    *attrs = bi.FileAttributes;
  return rc;
}

/* A handle just opened, of the type wanted (dir or not), or -errno: its attributes tell. */
static int check_type(HANDLE h, int dir) {
  basic_info bi;
  int rc = basic(h, &bi);
  if (rc < 0)
    return rc;
  if (bi.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
    return -ELOOP; /* opened the link itself: it is not followed */
  if (!(bi.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != !dir)
    return dir ? -ENOTDIR : -EISDIR;
  return 0;
}

int vigil__win_open_dir(void **out, void *at, const char *path, size_t len) {
  HANDLE h;
  int rc =
      open_at(&h, at, path, len, FILE_LIST_DIRECTORY | FILE_TRAVERSE | FILE_READ_ATTRIBUTES, 0);
  *out = NULL;
  if (rc < 0)
    return rc;
  rc = check_type(h, 1);
  if (rc < 0) {
    CloseHandle(h);
    return rc;
  }
  *out = h;
  return 0;
}

int vigil__win_open_file(void **out, void *at, const char *path, size_t len) {
  HANDLE h;
  int rc = open_at(&h, at, path, len, FILE_READ_DATA | FILE_READ_ATTRIBUTES, 0);
  *out = NULL;
  if (rc < 0)
    return rc;
  rc = check_type(h, 0);
  if (rc < 0) {
    CloseHandle(h);
    return rc;
  }
  *out = h;
  return 0;
}

void vigil__win_close(void *h) {
  if (h)
    CloseHandle(h);
}

int vigil__win_statat(void *at, const char *name, size_t len, vigil__win_stat *st) {
  HANDLE h;
  int rc = open_at(&h, at, name, len, FILE_READ_ATTRIBUTES, 0);
  if (rc < 0)
    return rc;
  rc = vigil__win_fstat(h, st);
  CloseHandle(h);
  return rc;
}

int vigil__win_list_open(vigil__win_dirlist *l, void *dir, void *buf, size_t cap) {
  memset(l, 0, sizeof *l);
  l->dir = dir;
  l->buf = buf;
  l->cap = cap;
  l->restart = 1;
  return 0;
}

int vigil__win_list_next(vigil__win_dirlist *l, vigil__win_dirent *e) {
  for (;;) {
    if (l->off >= l->got) {
      IO_STATUS_BLOCK io;
      NTSTATUS st =
          NtQueryDirectoryFile(l->dir, NULL, NULL, NULL, &io, l->buf, (ULONG)l->cap,
                               FileIdBothDirectoryInformation, FALSE, NULL, l->restart != 0);
      l->restart = 0;
      if (st == STATUS_NO_MORE_FILES)
        return 0;
      if (!NT_SUCCESS(st))
        return nt_errno(st);
      if (io.Information == 0)
        return 0;
      l->got = io.Information;
      l->off = 0;
    }
    const unsigned char *p = l->buf + l->off;
    id_both_dir_info info;
    size_t head = offsetof(id_both_dir_info, FileName);
    if (l->got - l->off < head)
      return -EIO;
    memcpy(&info, p, head);
    if (info.FileNameLength > l->got - l->off - head)
      return -EIO;
    l->off = info.NextEntryOffset ? l->off + info.NextEntryOffset : l->got;
    size_t units = info.FileNameLength / 2;
    uint16_t small[260];
    uint16_t *u = units <= 260 ? small : malloc(units * 2);
    if (!u)
      return -ENOMEM;
    memcpy(u, p + head, units * 2);
    int dot = (units == 1 && u[0] == '.') || (units == 2 && u[0] == '.' && u[1] == '.');
    size_t need = dot ? 0 : vigil__utf16_to_utf8(u, units, NULL, 0);
    if (!dot && need + 1 > l->name_cap) {
      char *n = realloc(l->name, need + 1);
      if (!n) {
        if (u != small)
          free(u);
        return -ENOMEM;
      }
      l->name = n;
      l->name_cap = need + 1;
    }
    if (!dot) {
      vigil__utf16_to_utf8(u, units, l->name, need);
      l->name[need] = 0;
    }
    if (u != small)
      free(u);
    if (dot)
      continue;
    e->name = l->name;
    e->len = need;
    e->id = (uint64_t)info.FileId.QuadPart;
    e->mtime = info.LastWriteTime.QuadPart;
    e->is_dir = (info.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    e->is_link = (info.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
    return 1;
  }
}

void vigil__win_list_close(vigil__win_dirlist *l) {
  free(l->name);
  l->name = NULL;
  l->name_cap = 0;
}
