/*
 * Mounts: file systems mounted or unmounted inside or above a root.
 *
 * inotify watches inodes, not paths, so a mount changes what a watched
 * path shows without a record: a file system mounted over a watched
 * directory hides its entries and shows others, an unmount shows them
 * again, and a bind-mounted root that is unmounted keeps its watch on the
 * source directory, which is no longer the root's. IN_UNMOUNT comes only
 * when a whole file system goes away. So vigil watches the mount table
 * itself: /proc/self/mountinfo polls POLLPRI after every change in the
 * process's mount namespace.
 *
 * It is opened twice. One descriptor is a source of the platform layer
 * (src/platform/), to wake the caller. But a poll of that file takes the news with it, and a
 * caller that polls vigil_fd polls it too, so the change itself is looked
 * for on a second descriptor that only vigil polls, once per step before
 * the backend is read. The table is read and parsed only then, when it
 * changed: a machine with thousands of mounts pays for them once per
 * change, never per event.
 *
 * The table as last read is kept; a mount whose identity (id, parent,
 * device, root within its file system, mount point) is new or gone
 * changed its mount point. For each such point, shortest first:
 *   - at or above a root's directory: the root ends if its path no longer
 *     leads to the directory it was (as a removed root does);
 *   - below a root: the directory there is taken as replaced. What it
 *     showed is reported removed, and what it shows now is watched,
 *     listed and reported created (VIGIL_SYNTHETIC), as for a directory
 *     moved in. Below a point just handled there is nothing more to do.
 *     A file that is a mount point (a bind-mounted file) is reported
 *     modified.
 * A file system of any type is watched with inotify alike; on those where
 * inotify sees nothing (FUSE, network file systems) only the changes made
 * through this machine's kernel are reported.
 */
#include "instance.h"
#include "admit.h"
#include "apply.h"
#include "drop.h"
#include "emit.h"
#include "mounts.h"
#include "reconcile.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#ifndef _WIN32
#include <poll.h> /* Windows: platform/winposix.h */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOUNTINFO "/proc/self/mountinfo"

struct mount {
  unsigned long id, parent;
  const char *dev;   /* "major:minor" */
  const char *root;  /* the directory of its file system that is mounted */
  const char *point; /* where, as an absolute path */
};

struct vigil__mounts {
  int pollfd; /* the second descriptor, polled by vigil alone */
  char *text; /* the table as last read; the entries point into it */
  struct mount *m;
  size_t n;
  /*
   * The hashes of the mount points' last names, open addressing (0:
   * free): whether a directory may be a mount point costs a scan one
   * hash of its name (vigil__mounts_maybe_point).
   */
  uint32_t *names; /* in m's block */
  size_t names_mask;
  char *path; /* a directory's absolute path, for vigil__mounts_is_point */
  size_t path_len, path_cap;
  unsigned stale : 1; /* read the table again even without POLLPRI */
};

/* Reads the whole table into a new buffer. */
static int read_table(int fd, char **out, size_t *len) {
  size_t cap = 16384, n = 0;
  char *buf = vigil__malloc(cap);
  if (!buf)
    return -ENOMEM;
  if (VIGIL__SYS(lseek(fd, 0, SEEK_SET)) < 0)
    goto fail;
  for (;;) {
    if (cap - n < 4096) {
      char *nb = vigil__realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return -ENOMEM;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t got = VIGIL__SYS(read(fd, buf + n, cap - n - 1));
    if (got < 0)
      goto fail;
    if (got == 0)
      break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
fail:;
  int err = -errno;
  free(buf);
  return err;
}

/* Undoes mountinfo's octal escapes ("\040" for a space) in place. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

static int by_id(const void *a, const void *b) {
  const struct mount *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Splits the table into mounts, in place: "36 35 98:0 /mnt1 /mnt/parent
 * rw ... - ext3 /dev/root rw". Only the first five fields matter here.
 */
static int parse(char *text, size_t len, struct mount **out, size_t *count, uint32_t **names,
                 size_t *names_cap) {
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += text[i] == '\n';
  /*
   * The set of last names (vigil__mounts_maybe_point) comes in the same
   * block, after the mounts: one allocation for the whole table.
   */
  size_t cap = 16;
  while (cap < lines * 2 + 2)
    cap *= 2;
  struct mount *m = vigil__calloc(1, (lines + 1) * sizeof *m + cap * sizeof(uint32_t));
  if (!m)
    return -ENOMEM;
  size_t n = 0;
  for (char *line = text; line < text + len;) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    if (nl)
      *nl = '\0';
    char *f[5];
    char *p = line;
    int k = 0;
    for (; k < 5 && *p; k++) {
      f[k] = p;
      p += strcspn(p, " ");
      if (*p)
        *p++ = '\0';
    }
    if (k == 5 && f[4][0] == '/') {
      m[n].id = strtoul(f[0], NULL, 10);
      m[n].parent = strtoul(f[1], NULL, 10);
      m[n].dev = f[2];
      unescape(f[3]);
      unescape(f[4]);
      m[n].root = f[3];
      m[n].point = f[4];
      n++;
    }
    if (!nl)
      break;
    line = nl + 1;
  }
  qsort(m, n, sizeof *m, by_id);
  *out = m;
  *count = n;
  *names = (uint32_t *)(void *)(m + lines + 1);
  *names_cap = cap;
  return 0;
}

static int same_mount(const struct mount *a, const struct mount *b) {
  return a->parent == b->parent && strcmp(a->dev, b->dev) == 0 && strcmp(a->root, b->root) == 0 &&
         strcmp(a->point, b->point) == 0;
}

/* Is p the path a or a directory above it? */
static int at_or_above(const char *p, const char *a) {
  size_t n = strlen(p);
  if (n == 1 && p[0] == '/')
    return 1;
  return strncmp(p, a, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

static int by_length(const void *a, const void *b) {
  size_t x = strlen(*(const char *const *)a), y = strlen(*(const char *const *)b);
  return x < y ? -1 : x > y;
}

/* The node at rel (a path relative to the top), or NULL. */
static vigil__node *walk(vigil_t *v, vigil__node *top, const char *rel) {
  vigil__node *n = top;
  while (*rel) {
    size_t len = strcspn(rel, "/");
    if (!vigil__node_dir(n))
      return NULL;
    n = len ? vigil__tree_find(&v->tree, n, rel, len) : n;
    if (!n)
      return NULL;
    rel += len;
    while (*rel == '/')
      rel++;
  }
  return n;
}

/* The directory at n's path is another one now (see the comment at the top). */
static int replace_dir(vigil_t *v, vigil__node *n) {
  if (!vigil__node_dir(n))
    return vigil__emit(v, VIGIL_MODIFIED, VIGIL_SYNTHETIC, n, 0);
  if (!vigil__should_descend(n))
    return 0;
  while (vigil__node_first(n))
    vigil__drop(v, vigil__node_first(n), 1);
  vigil__unwatch(v, n);
  /*
   * Its inode number stays the one its parent's listing shows (the
   * covered directory's), so a later rescan of the parent matches it.
   */
  return vigil__reconcile(v, n, VIGIL__SCAN_NEW);
}

static int apply_point(vigil_t *v, const char *point) {
  for (vigil__root *r = v->roots; r; r = r->next) {
    if (r->dead)
      continue;
    if (at_or_above(point, r->abspath)) {
      if (!vigil__root_intact(r))
        vigil__root_gone(v, r);
      continue;
    }
    if (!at_or_above(r->abspath, point))
      continue;
    const char *rel = point + strlen(r->abspath);
    while (*rel == '/')
      rel++;
    vigil__node *n = walk(v, r->top, rel);
    if (n) {
      int rc = replace_dir(v, n);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

/* The mount points that changed between the two tables, shortest first. */
static int changed_points(const struct vigil__mounts *old, const struct mount *m, size_t n,
                          const char ***out, size_t *count) {
  const char **pts = vigil__malloc((old->n + n + 1) * sizeof *pts);
  if (!pts)
    return -ENOMEM;
  size_t k = 0, i = 0, j = 0;
  while (i < old->n || j < n) {
    if (j == n || (i < old->n && old->m[i].id < m[j].id)) {
      pts[k++] = old->m[i++].point;
    } else if (i == old->n || m[j].id < old->m[i].id) {
      pts[k++] = m[j++].point;
    } else {
      if (!same_mount(&old->m[i], &m[j])) {
        pts[k++] = old->m[i].point;
        pts[k++] = m[j].point;
      }
      i++, j++;
    }
  }
  qsort(pts, k, sizeof *pts, by_length);
  *out = pts;
  *count = k;
  return 0;
}

static uint32_t name_hash(const char *s, size_t len) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h ? h : 1;
}

/* The last name of a mount point ("/a/b" gives "b"); "/" has none. */
static const char *last_name(const char *point, size_t *len) {
  const char *end = point + strlen(point);
  const char *s = end;
  while (s > point && s[-1] != '/')
    s--;
  *len = (size_t)(end - s);
  return s;
}

/* Fills the set of the table's last names, set (cap entries, zeroed, in ms->m's block). */
static void index_names(struct vigil__mounts *ms, uint32_t *set, size_t cap) {
  for (size_t i = 0; i < ms->n; i++) {
    size_t len;
    const char *s = last_name(ms->m[i].point, &len);
    if (!len)
      continue;
    uint32_t h = name_hash(s, len);
    size_t j = h & (cap - 1);
    while (set[j] && set[j] != h)
      j = (j + 1) & (cap - 1);
    set[j] = h;
  }
  ms->names = set;
  ms->names_mask = cap - 1;
}

int vigil__mounts_maybe_point(const vigil_t *v, const vigil__node *d) {
  const struct vigil__mounts *ms = v->mounts;
  if (!ms || !ms->text || !vigil__node_parent(d))
    return 0;
  uint32_t h = name_hash(vigil__node_name(d), d->namelen);
  for (size_t j = h & ms->names_mask; ms->names[j]; j = (j + 1) & ms->names_mask)
    if (ms->names[j] == h)
      return 1;
  return 0;
}

int vigil__mounts_is_point(vigil_t *v, const vigil__root *r, const vigil__node *d) {
  struct vigil__mounts *ms = v->mounts;
  if (!ms || !ms->text)
    return 0;
  ms->path_len = 0;
  if (vigil__node_relpath(d, &ms->path, &ms->path_len, &ms->path_cap) < 0)
    return 0;
  size_t alen = strlen(r->abspath);
  if (alen == 1)
    alen = 0; /* "/": the path is "/" and the relative one */
  for (size_t i = 0; i < ms->n; i++) {
    const char *p = ms->m[i].point;
    if (strncmp(p, r->abspath, alen) == 0 && p[alen] == '/' &&
        strlen(p + alen + 1) == ms->path_len && memcmp(p + alen + 1, ms->path, ms->path_len) == 0)
      return 1;
  }
  return 0;
}

static int sync_table(vigil_t *v) {
  struct vigil__mounts *ms = v->mounts;
  char *text;
  size_t len, n, k;
  struct mount *m;
  int rc = read_table(ms->pollfd, &text, &len);
  if (rc < 0)
    return rc;
  uint32_t *names;
  size_t names_cap;
  rc = parse(text, len, &m, &n, &names, &names_cap);
  if (rc < 0) {
    free(text);
    return rc;
  }
  const char **pts = NULL;
  rc = changed_points(ms, m, n, &pts, &k);
  if (rc < 0) {
    free(m);
    free(text);
    return rc;
  }
  ms->stale = 0;
  /*
   * The new table is the one the listings below consult (a new mount
   * point gets its own backend); the old one stays until the points,
   * some of which are its, have been applied.
   */
  struct mount *old_m = ms->m;
  char *old_text = ms->text;
  ms->m = m;
  ms->n = n;
  ms->text = text;
  index_names(ms, names, names_cap);
  for (size_t i = 0; i < k && rc == 0; i++) {
    /* Below a point already handled, the listing has seen it all. */
    size_t j = 0;
    while (j < i && !at_or_above(pts[j], pts[i]))
      j++;
    if (j == i)
      rc = apply_point(v, pts[i]);
  }
  free(pts);
  free(old_m);
  free(old_text);
  return rc;
}

int vigil__mounts_open(vigil_t *v) {
#ifndef __linux__
  /*
   * Other systems have no mount table that polls: there a mount made
   * inside a root after vigil_add is seen only as its backend lists the
   * directory again.
   */
  v->mountfd = -1;
  return 0;
#endif
  v->mountfd = VIGIL__SYS(open(MOUNTINFO, O_RDONLY | O_CLOEXEC));
  int pollfd = v->mountfd >= 0 ? VIGIL__SYS(open(MOUNTINFO, O_RDONLY | O_CLOEXEC)) : -1;
  if (pollfd < 0) {
    /* Mounts would go unnoticed: fail rather than watch half blind. */
    int err = errno;
    if (v->mountfd >= 0)
      close(v->mountfd);
    v->mountfd = -1;
    return err == ENOENT ? VIGIL_ENOPROC : -err;
  }
  struct vigil__mounts *ms = vigil__calloc(1, sizeof *ms);
  if (!ms) {
    close(pollfd);
    return -ENOMEM;
  }
  ms->pollfd = pollfd;
  v->mounts = ms;
  return 0;
}

void vigil__mounts_close(vigil_t *v) {
  struct vigil__mounts *ms = v->mounts;
  if (ms) {
    close(ms->pollfd);
    free(ms->m);
    free(ms->text);
    free(ms->path);
    free(ms);
    v->mounts = NULL;
  }
  if (v->mountfd >= 0)
    close(v->mountfd);
  v->mountfd = -1;
}

int vigil__mounts_stale(vigil_t *v) {
  if (!v->mounts)
    return -1;
  v->mounts->stale = 1;
  return 0;
}

/*
 * The table to compare with is read when the first root is added, not
 * by vigil_open: with thousands of mounts the read is what costs, and an
 * instance without roots never needs it.
 */
static int first_table(struct vigil__mounts *ms) {
  struct pollfd p = {.fd = ms->pollfd, .events = POLLPRI};
  VIGIL__SYS(poll(&p, 1, 0)); /* what changed before this read is in it */
  /* 0: mingw-w64's gcc cannot see that read_table sets it. */
  size_t len = 0, names_cap = 0;
  uint32_t *names = NULL;
  int rc = read_table(ms->pollfd, &ms->text, &len);
  if (rc == 0)
    rc = parse(ms->text, len, &ms->m, &ms->n, &names, &names_cap);
  if (rc < 0) {
    free(ms->text);
    ms->text = NULL;
    return rc;
  }
  index_names(ms, names, names_cap);
  return rc;
}

int vigil__mounts_check(vigil_t *v) {
  struct vigil__mounts *ms = v->mounts;
  if (!ms)
    return 0;
  if (!ms->text)
    return first_table(ms) == -ENOMEM ? -ENOMEM : 0;
  struct pollfd p = {.fd = ms->pollfd, .events = POLLPRI};
  if (VIGIL__SYS(poll(&p, 1, 0)) < 0)
    return 0;
  if (!(p.revents & POLLPRI) && !ms->stale)
    return 0;
  int rc = sync_table(v);
  if (rc < 0) {
    /*
     * Without the table, the mounts' effect is unknown: rescan instead.
     * Only memory is worth trying again for before the next change.
     */
    ms->stale = rc == -ENOMEM;
    v->need_repair = 1;
  }
  return rc == -ENOMEM ? rc : 0;
}
