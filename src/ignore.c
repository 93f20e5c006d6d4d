/*
 * Per-directory ignore files (vigil_options.ignore_file).
 *
 * Each directory that has an ignore file keeps its patterns in a filter of
 * its own, with paths relative to that directory, in its root's table
 * (sorted by node address). Nothing in a filter names the directory's
 * path, so a directory moved within its root takes its patterns along,
 * and a file read again replaces just its own filter. An entry is judged
 * by the files of its ancestors, the deepest first: the first file with a
 * matching pattern decides, as git lets a deeper .gitignore override a
 * shallower one.
 *
 * The file is an entry of a watched directory, so the kernel reports when
 * it is created, written, renamed or removed. Then it is read again and,
 * if its contents changed, the directory's subtree is judged again
 * (reconcile's REFILTER mode, as after a move): what the file now
 * excludes is reported removed and no longer watched, and what it no
 * longer excludes is listed, watched and reported created. Replay of the
 * stream gives the tree vigil watches, whatever the ignore files say.
 */
#include "instance.h"
#include "ignore.h"
#include "reconcile.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vigil__ignore {
  const vigil__node *dir;
  vigil__filter *filter;
  uint64_t hash; /* of the file's text, to tell a write that changed nothing */
};

#define IGNORE_FILE_MAX (1024 * 1024)

/* The slot of dir in r's table, or where it would go. */
static size_t slot_of(const vigil__root *r, const vigil__node *dir) {
  size_t lo = 0, hi = r->nignores;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((uintptr_t)r->ignores[mid].dir < (uintptr_t)dir)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

const vigil__filter *vigil__ignore_find(const vigil__root *r, const vigil__node *dir) {
  size_t i = slot_of(r, dir);
  return i < r->nignores && r->ignores[i].dir == dir ? r->ignores[i].filter : NULL;
}

void vigil__ignore_forget(vigil__root *r, const vigil__node *dir) {
  size_t i = slot_of(r, dir);
  if (i == r->nignores || r->ignores[i].dir != dir)
    return;
  vigil__filter_free(r->ignores[i].filter);
  memmove(&r->ignores[i], &r->ignores[i + 1], (r->nignores - i - 1) * sizeof *r->ignores);
  r->nignores--;
}

void vigil__ignore_free(vigil__root *r) {
  for (size_t i = 0; i < r->nignores; i++)
    vigil__filter_free(r->ignores[i].filter);
  free(r->ignores);
  r->ignores = NULL;
  r->nignores = r->ignores_cap = 0;
}

/* Puts f as dir's filter, replacing the one it had; f is the table's then. */
static int put_filter(vigil__root *r, const vigil__node *dir, vigil__filter *f, uint64_t hash) {
  size_t i = slot_of(r, dir);
  if (i < r->nignores && r->ignores[i].dir == dir) {
    vigil__filter_free(r->ignores[i].filter);
    r->ignores[i].filter = f;
    r->ignores[i].hash = hash;
    return 0;
  }
  if (r->nignores == r->ignores_cap) {
    size_t ncap = r->ignores_cap ? r->ignores_cap * 2 : 8;
    struct vigil__ignore *n = vigil__realloc(r->ignores, ncap * sizeof *n);
    if (!n) {
      vigil__filter_free(f);
      return -ENOMEM;
    }
    r->ignores = n;
    r->ignores_cap = ncap;
  }
  memmove(&r->ignores[i + 1], &r->ignores[i], (r->nignores - i) * sizeof *r->ignores);
  r->ignores[i] = (struct vigil__ignore){.dir = dir, .filter = f, .hash = hash};
  r->nignores++;
  return 0;
}

static uint64_t hash_text(const char *s, size_t len) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h | 1; /* 0 stands for "no file" */
}

/* Reads the ignore file in dfd; *text is NULL when there is none (or none usable). */
static int read_file(const char *name, int dfd, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  int fd = VIGIL__SYS(openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd < 0)
    return errno == ENOMEM ? -ENOMEM : 0;
  struct stat st;
  int rc = 0;
  if (VIGIL__SYS(fstat(fd, &st)) < 0 || !S_ISREG(st.st_mode) || st.st_size > IGNORE_FILE_MAX)
    goto out;
  char *t = vigil__malloc((size_t)st.st_size + 1);
  if (!t) {
    rc = -ENOMEM;
    goto out;
  }
  size_t n = 0;
  while (n < (size_t)st.st_size) {
    ssize_t got = VIGIL__SYS(read(fd, t + n, (size_t)st.st_size - n));
    if (got <= 0)
      break;
    n += (size_t)got;
  }
  t[n] = '\0';
  *text = t;
  *len = n;
out:
  close(fd);
  return rc;
}

/* Compiles text; a malformed line is skipped, as git skips it. */
static int compile(char *text, size_t len, vigil__filter **out) {
  vigil__filter *f = vigil__filter_new();
  if (!f)
    return -ENOMEM;
  char *line = text;
  /* A byte order mark is not part of the first pattern. */
  if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
    line += 3;
  while (line < text + len) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    if (nl)
      *nl = '\0';
    if (vigil__filter_add(f, line, "") == -ENOMEM) {
      vigil__filter_free(f);
      return -ENOMEM;
    }
    if (!nl)
      break;
    line = nl + 1;
  }
  *out = f;
  return 0;
}

int vigil__ignore_load(const vigil__node *d, int dfd) {
  vigil__root *r = vigil__node_root(d);
  size_t i = slot_of(r, d);
  uint64_t old = i < r->nignores && r->ignores[i].dir == d ? r->ignores[i].hash : 0;
  char *text;
  size_t len;
  int rc = read_file(r->ignore_file, dfd, &text, &len);
  if (rc < 0)
    return rc;
  if (!text) {
    vigil__ignore_forget(r, d);
    return old != 0;
  }
  uint64_t hash = hash_text(text, len);
  if (hash == old) {
    free(text);
    return 0;
  }
  vigil__filter *f;
  rc = compile(text, len, &f);
  free(text);
  if (rc == 0)
    rc = put_filter(r, d, f, hash);
  return rc < 0 ? rc : 1;
}

int vigil__ignore_touched(vigil_t *v, vigil__node *dir, const char *name, size_t len) {
  vigil__root *r = vigil__node_root(dir);
  if (!r || r->dead || r->is_file || (dir->flags & VIGIL__N_PARTIAL))
    return 0;
  if (!r->ignore_file || len != r->ignore_len || memcmp(name, r->ignore_file, len) != 0)
    return 0;
  int dfd = vigil__open_dir(v, dir);
  if (dfd < 0) /* the directory itself went away: its parent's watch says so */
    return dfd == -ENOMEM ? dfd : 0;
  int rc = vigil__ignore_load(dir, dfd);
  close(dfd);
  if (rc <= 0)
    return rc;
  return vigil__reconcile(v, dir, VIGIL__SCAN_REFILTER);
}
