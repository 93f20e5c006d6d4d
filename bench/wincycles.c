/*
 * What one open/add/close cycle of the library costs on Windows, and
 * where it goes: run it under wine (or on Windows) from a Windows build,
 *   wine build-windows/wincycles.exe [CYCLES]
 * It times, per cycle, in milliseconds: vigil_open, vigil_add of an
 * empty directory and vigil_close; the same with another directory's
 * read kept open meanwhile (under wine the close of the last read of all
 * closes wineserver's inotify instance, which waits for an RCU grace
 * period); and the calls a stat is made of, GetFileInformationByHandle
 * against the native queries of one piece each (src/platform/winfs.c).
 */
#include "vigil.h"

#include <windows.h>
#include <winternl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

NTSTATUS NTAPI NtQueryVolumeInformationFile(HANDLE file, PIO_STATUS_BLOCK io, PVOID info,
                                            ULONG length, FS_INFORMATION_CLASS cls);

static double now_ms(void) {
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
}

static void temp_dir(char *out, size_t n, const char *name) {
  char base[MAX_PATH];
  GetTempPathA(sizeof base, base);
  snprintf(out, n, "%svigil-wincycles-%s-%lu", base, name, GetCurrentProcessId());
  CreateDirectoryA(out, NULL);
}

static void cycles(const char *root, int n, const char *what) {
  vigil_options o;
  vigil_options_init(&o);
  double t[3] = {0, 0, 0};
  for (int i = 0; i < n; i++) {
    vigil_t *v;
    double t0 = now_ms();
    if (vigil_open(&v, &o) < 0)
      exit(1);
    double t1 = now_ms();
    if (vigil_add(v, root, 0) < 0)
      exit(1);
    double t2 = now_ms();
    vigil_close(v);
    double t3 = now_ms();
    t[0] += t1 - t0, t[1] += t2 - t1, t[2] += t3 - t2;
  }
  printf("cycle, %-26s open %.3f  add %.3f  close %.3f  all %.3f ms\n", what, t[0] / n, t[1] / n,
         t[2] / n, (t[0] + t[1] + t[2]) / n);
}

static void stat_calls(const char *root, int n) {
  HANDLE h = CreateFileA(root, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES, 7, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS, NULL);
  BY_HANDLE_FILE_INFORMATION fi;
  IO_STATUS_BLOCK io;
  unsigned char buf[512];
  double t0 = now_ms();
  for (int i = 0; i < n; i++)
    GetFileInformationByHandle(h, &fi);
  double t1 = now_ms();
  for (int i = 0; i < n; i++)
    NtQueryInformationFile(h, &io, buf, sizeof buf, (FILE_INFORMATION_CLASS)4); /* basic */
  double t2 = now_ms();
  for (int i = 0; i < n; i++)
    NtQueryVolumeInformationFile(h, &io, buf, sizeof buf, (FS_INFORMATION_CLASS)1); /* volume */
  double t3 = now_ms();
  printf("GetFileInformationByHandle %.3f ms, FileBasicInformation %.3f ms, "
         "FileFsVolumeInformation %.3f ms\n",
         (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n);
  CloseHandle(h);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  if (n <= 0)
    n = 1000;
  char root[MAX_PATH], other[MAX_PATH];
  temp_dir(root, sizeof root, "root");
  temp_dir(other, sizeof other, "other");
  printf("%d cycles of vigil_open, vigil_add (an empty directory), vigil_close\n", n);
  cycles(root, n, "alone:");
  HANDLE h = CreateFileA(other, FILE_LIST_DIRECTORY, 7, NULL, OPEN_EXISTING,
                         FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED, NULL);
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  static DWORD buf[256];
  if (h == INVALID_HANDLE_VALUE ||
      !ReadDirectoryChangesW(h, buf, sizeof buf, FALSE, FILE_NOTIFY_CHANGE_FILE_NAME, NULL, &ov,
                             NULL))
    return 1;
  cycles(root, n, "another read kept open:");
  DWORD got;
  CancelIo(h);
  GetOverlappedResult(h, &ov, &got, TRUE);
  CloseHandle(h);
  CloseHandle(ov.hEvent);
  stat_calls(root, n);
  RemoveDirectoryA(root);
  RemoveDirectoryA(other);
  return 0;
}
