/*
 * The POSIX calls the core makes, on Windows (mingw-w64), given once
 * here so that the core keeps its shape there: directories opened
 * relative to open directories, listed through them, and stat'ed by
 * name. The build includes this header before anything else in every
 * file of the library (cmake/windows.cmake); elsewhere it is empty.
 *
 * A descriptor is the C runtime's, made from a HANDLE with
 * _open_osfhandle, so close() and read() work on it as they are; what
 * POSIX has and the runtime lacks is built on winfs.c: openat (one name
 * at a time below an open directory, never following a link), fstatat,
 * a struct stat with 64-bit inodes (the file ID) and timespec times,
 * realpath (GetFullPathNameW, with '/' between the names, as the core
 * joins paths), and the address-space reservation of the tree's arena
 * (VirtualAlloc for mmap). Windows has no fork, signals to block, or
 * mount table to read: those parts of the core are not built there.
 */
#ifndef VIGIL_WINPOSIX_H
#define VIGIL_WINPOSIX_H

#ifdef _WIN32

/* Every header that declares a name this one redefines comes first. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#ifndef NAME_MAX
#define NAME_MAX 255
#endif
/*
 * Every path is opened with the \\?\ prefix (winfs.c), which takes up
 * to 32,767 UTF-16 units: mingw-w64's PATH_MAX is MAX_PATH's 260.
 */
#undef PATH_MAX
#define PATH_MAX 32768
#ifndef ESTALE
#define ESTALE 116
#endif

/* Handles are not inherited unless asked for: every descriptor is close-on-exec. */
#define O_CLOEXEC 0
#define O_NONBLOCK 0
#define O_NOFOLLOW 0x01000000
#define O_DIRECTORY 0x02000000
#define O_PATH 0x04000000
#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100

#define S_IFLNK 0xA000
#define S_ISLNK(m) (((m)&S_IFMT) == S_IFLNK)

#define DT_UNKNOWN 0
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10

struct vigil__w_stat {
  uint64_t st_dev; /* the volume's serial number */
  uint64_t st_ino; /* the file ID */
  unsigned st_mode;
  unsigned st_nlink;
  int64_t st_size;
  struct timespec st_atim, st_mtim, st_ctim;
};

int vigil__w_stat(const char *path, struct vigil__w_stat *st);
int vigil__w_fstat(int fd, struct vigil__w_stat *st);
int vigil__w_fstatat(int dfd, const char *path, struct vigil__w_stat *st, int flags);
int vigil__w_openat(int dfd, const char *path, int flags, ...);
char *vigil__w_realpath(const char *path, char *resolved);
/* The directory's HANDLE behind a descriptor, for winfs.c. */
void *vigil__w_handle(int fd);

/* Links are never followed on Windows (winfs.c opens the link itself). */
#define stat vigil__w_stat
#define lstat vigil__w_stat
#define fstat vigil__w_fstat
#define fstatat vigil__w_fstatat
#define openat vigil__w_openat
#define realpath vigil__w_realpath

/* mmap as the arena uses it: reserve, open for use, release. */
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0
#define MAP_ANONYMOUS 0
#define MAP_NORESERVE 0
#define MAP_FAILED ((void *)-1)
void *vigil__w_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int vigil__w_mprotect(void *addr, size_t len, int prot);
int vigil__w_munmap(void *addr, size_t len);
#define mmap vigil__w_mmap
#define mprotect vigil__w_mprotect
#define munmap vigil__w_munmap

/* The thread blocks no signals: Windows delivers none to it. */
typedef unsigned long sigset_t;
static inline int vigil__w_sigfillset(sigset_t *s) {
  *s = ~0ul;
  return 0;
}
static inline int vigil__w_sigmask(int how, const sigset_t *set, sigset_t *old) {
  (void)how, (void)set;
  if (old)
    *old = 0;
  return 0;
}
#define sigfillset vigil__w_sigfillset
#undef pthread_sigmask
#define pthread_sigmask vigil__w_sigmask
#ifndef SIG_SETMASK
#define SIG_SETMASK 2
#endif

/* Windows has no fork: no handler ever runs. */
static inline int vigil__w_atfork(void (*prepare)(void), void (*parent)(void),
                                  void (*child)(void)) {
  (void)prepare, (void)parent, (void)child;
  return 0;
}
#undef pthread_atfork
#define pthread_atfork vigil__w_atfork

/* poll() is for the mount table, which Windows does not have (mounts.c). */
struct pollfd {
  int fd;
  short events, revents;
};
#define POLLIN 1
#define POLLPRI 2
static inline int vigil__w_poll(struct pollfd *p, unsigned long n, int timeout) {
  (void)p, (void)n, (void)timeout;
  errno = ENOSYS;
  return -1;
}
#define poll vigil__w_poll

#endif /* _WIN32 */
#endif /* VIGIL_WINPOSIX_H */
