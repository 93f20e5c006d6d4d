/*
 * gen: makes the benchmark's trees and its storms of changes, as fast as
 * one thread can.
 *
 *   gen tree ROOT DIRS FILES
 *       DIRS directories in all (ROOT is directory 0), each holding FILES
 *       empty files f0, f1, ...  Directory i > 0 is named d<i> and lives in
 *       directory (i - 1) / 10, so the tree is ten wide at every level.
 *
 *   gen storm ROOT DIRS NFILES NSUB SUBFILES TAG MANIFEST
 *       Creates NFILES new files s<TAG>_<j>, spread over the DIRS existing
 *       directories, each written with a few bytes; and, interleaved with
 *       them, NSUB new directories n<TAG>_<k>, each filled with SUBFILES
 *       files at once, right after its mkdir. MANIFEST receives one line per
 *       created path, relative to ROOT: "F path" for a new file in an
 *       existing directory, "D path" for a new directory, "S path" for a
 *       file in a new directory.
 *
 * Paths never contain spaces, so every tool's output can be split on them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* Relative path of directory i ("" for the root), built from its parents. */
static char **dir_paths(long dirs) {
  char **p = calloc((size_t)dirs, sizeof *p);
  if (!p)
    die("calloc");
  p[0] = strdup("");
  for (long i = 1; i < dirs; i++) {
    const char *parent = p[(i - 1) / 10];
    if (asprintf(&p[i], "%s%sd%ld", parent, *parent ? "/" : "", i) < 0)
      die("asprintf");
  }
  return p;
}

static void make_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    die(path);
  if (len && write(fd, data, len) != (ssize_t)len)
    die("write");
  close(fd);
}

static int cmd_tree(const char *root, long dirs, long files) {
  char **rel = dir_paths(dirs);
  char path[8192];
  for (long i = 0; i < dirs; i++) {
    int n = snprintf(path, sizeof path, "%s/%s", root, rel[i]);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
      die(path);
    for (long f = 0; f < files; f++) {
      snprintf(path + n, sizeof path - (size_t)n, "%sf%ld", i ? "/" : "", f);
      make_file(path, NULL, 0);
    }
  }
  return 0;
}

static int cmd_storm(const char *root, long dirs, long nfiles, long nsub, long subfiles,
                     const char *tag, const char *manifest) {
  char **rel = dir_paths(dirs);
  FILE *m = fopen(manifest, "we");
  if (!m)
    die(manifest);
  /* The manifest goes through stdio's buffer: a write(2) every 4 KiB, nothing more. */
  char path[8192], relpath[4096];
  long every = nsub > 0 ? (nfiles > nsub ? nfiles / nsub : 1) : 0;
  long sub = 0;
  static const char data[] = "storm\n";
  for (long j = 0; j < nfiles || sub < nsub; j++) {
    if (j < nfiles) {
      const char *d = rel[(j * 7919L) % dirs];
      snprintf(relpath, sizeof relpath, "%s%ss%s_%ld", d, *d ? "/" : "", tag, j);
      snprintf(path, sizeof path, "%s/%s", root, relpath);
      make_file(path, data, sizeof data - 1);
      fprintf(m, "F %s\n", relpath);
    }
    if (sub < nsub && (j >= nfiles || (every && j % every == every - 1))) {
      const char *d = rel[(sub * 104729L) % dirs];
      int n = snprintf(relpath, sizeof relpath, "%s%sn%s_%ld", d, *d ? "/" : "", tag, sub);
      snprintf(path, sizeof path, "%s/%s", root, relpath);
      if (mkdir(path, 0755) < 0)
        die(path);
      fprintf(m, "D %s\n", relpath);
      for (long k = 0; k < subfiles; k++) {
        snprintf(relpath + n, sizeof relpath - (size_t)n, "/g%ld", k);
        snprintf(path, sizeof path, "%s/%s", root, relpath);
        make_file(path, data, sizeof data - 1);
        fprintf(m, "S %s\n", relpath);
      }
      sub++;
    }
  }
  if (fclose(m) != 0)
    die(manifest);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "tree") == 0)
    return cmd_tree(argv[2], atol(argv[3]), atol(argv[4]));
  if (argc == 9 && strcmp(argv[1], "storm") == 0)
    return cmd_storm(argv[2], atol(argv[3]), atol(argv[4]), atol(argv[5]), atol(argv[6]), argv[7],
                     argv[8]);
  fprintf(stderr, "usage: gen tree ROOT DIRS FILES\n"
                  "       gen storm ROOT DIRS NFILES NSUB SUBFILES TAG MANIFEST\n");
  return 2;
}
