/*
 * Fuzz target: the inotify record decoder (vigil__inotify_decode in
 * src/backend/inotify.c), fed random buffers as if read from the inotify
 * descriptor of an instance that watches a real little tree.
 *
 * Each input gets a fresh instance on the same tree, so the kernel hands
 * out the same watch descriptors (1 for the root, then one per directory)
 * and a crash replays exactly. The input is:
 *
 *   byte 0..3   which record boundaries also end a read (bit i: after
 *               record i), so that rename pairs and truncated records are
 *               split across reads as the kernel may split them;
 *   the rest    the bytes "read" from the descriptor.
 *
 * The kernel never puts '/' in a name, and a name with one could send the
 * decoder's listing of a new directory anywhere on this machine, so '/'
 * bytes are turned into '_' before decoding.
 *
 * After every read the events are taken with vigil_read and checked: a
 * known kind; a path that is the root or below it with no empty name in
 * it (none only for overflow); "from" only with moved, and such a path too;
 * a negative error code on an error. At the end held renames are settled and the rest is read.
 * Any crash, sanitizer report or failed check is a finding.
 */
#include "instance.h"
#include "backend/inotify.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];
static size_t root_len;

static void make(const char *rel, int dir) {
  char p[128];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (dir) {
    mkdir(p, 0755);
  } else {
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
      close(fd);
  }
}

static void cleanup(void) {
  static const char *const order[] = {"sub/deep/c", "sub/deep", "sub/b", "sub", "other", "a", ""};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", root, order[i]);
    remove(p);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *tmp = getenv("TMPDIR");
  snprintf(root, sizeof root, "%s/vigil-fuzz-decode-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(root))
    abort();
  root_len = strlen(root);
  make("a", 0);
  make("sub", 1);
  make("sub/b", 0);
  make("sub/deep", 1);
  make("sub/deep/c", 0);
  make("other", 1);
  atexit(cleanup);
  return 0;
}

/* A path the root as given, or below it: no empty name anywhere. */
static int path_ok(const char *p) {
  if (strncmp(p, root, root_len) != 0)
    return 0;
  p += root_len;
  if (*p == '\0')
    return 1;
  return *p == '/' && !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

static void bad(const char *why, const vigil_event *ev) {
  fprintf(stderr, "fuzz_decode: %s: kind %d, path \"%s\", from \"%s\", error %d\n", why,
          (int)ev->kind, ev->path ? ev->path : "(null)", ev->from ? ev->from : "(null)", ev->error);
  abort();
}

static void check(const vigil_event *ev) {
  if (ev->kind < VIGIL_CREATED || ev->kind > VIGIL_KIND_MAX)
    bad("unknown kind", ev);
  if (ev->kind == VIGIL_OVERFLOW) {
    if (ev->path)
      bad("an overflow with a path", ev);
  } else if (!ev->path || !path_ok(ev->path)) {
    bad("a path that is not the root or a name below it", ev);
  }
  if ((ev->from != NULL) != (ev->kind == VIGIL_MOVED))
    bad("from set on other than moved, or missing", ev);
  if (ev->from && !path_ok(ev->from))
    bad("a from that is not the root or a name below it", ev);
  if (ev->kind == VIGIL_ERROR && ev->error >= 0)
    bad("an error without an error code", ev);
}

static void drain(vigil_t *v) {
  vigil_event ev;
  int r;
  /* Bounded: an input cannot make more events than a few per byte. */
  for (int i = 0; i < 100000 && (r = vigil_read(v, &ev, 0)) == 1; i++)
    check(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  uint32_t cuts;
  memcpy(&cuts, data, 4);
  data += 4;
  size -= 4;
  /* An exact copy, so that reading past the end is caught. */
  char *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  for (size_t i = 0; i < size; i++)
    buf[i] = data[i] == '/' ? '_' : (char)data[i];

  vigil_t *v;
  /* A long wait for rename pairs: held renames are settled at the end, not by the clock. */
  vigil_options opt;
  vigil_options_init(&opt);
  opt.move_wait_ms = 600000;
  if (vigil_open(&v, &opt) < 0 || vigil_add(v, root, 0) < 0)
    abort();
  drain(v);

  size_t start = 0, off = 0;
  for (unsigned rec = 0; off + sizeof(struct inotify_event) <= size; rec++) {
    struct inotify_event e;
    memcpy(&e, buf + off, sizeof e);
    if (e.len > size - off - sizeof e)
      break;
    off += sizeof e + e.len;
    if (rec < 32 && (cuts >> rec & 1)) {
      vigil__inotify_decode(v->src[0].state, v, buf + start, off - start);
      drain(v);
      start = off;
    }
  }
  vigil__inotify_decode(v->src[0].state, v, buf + start, size - start);
  drain(v);
  vigil__sources_flush(v);
  drain(v);
  vigil_close(v);
  free(buf);
  return 0;
}
