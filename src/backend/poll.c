/*
 * The polling backend: it watches nothing, it looks. Each pass lists every
 * directory it was given and compares the listing with the tree, for file
 * systems whose changes the kernel cannot see (NFS, SMB, FUSE, 9p), or
 * where no kernel interface is at hand.
 *
 * A pass never changes the tree while it walks it. It notes what differs
 * (records: a file changed, a name gone, a name appeared), then pairs a
 * name gone with a name that appeared with the same inode anywhere in the
 * pass into one move, and only then makes its observations, in an order
 * that keeps every name free for the move that needs it. A record names
 * its directory node and the entry's name, never the entry's node, and a
 * directory that leaves the tree takes its records with it (unwatch), so
 * one observation can never leave another pointing at freed memory.
 *
 * What changed in a file is told without holding anything per file. Each
 * directory's slot keeps its stamp: the newest change time (ctime) the
 * last pass saw among its files, in the file system's own clock, so a
 * server whose clock differs from ours changes nothing. A file whose
 * ctime is newer than the stamp has changed since: modified if its
 * mtime is newer too, attrib if only its metadata is. A change made after
 * the last pass but within the same tick of the file system's clock as
 * the stamp carries the stamp's very time. That can only happen when the
 * pass ran within a tick of the stamp (the stamp is "racy", as git calls
 * it), which the pass can tell from the local clock and the largest lead
 * of that file system's clock over it seen so far; such a directory is
 * looked at again once the tick is surely over (see "Racy stamps").
 *
 * Directories are not stat'ed: their content is their listing, and a
 * listing's d_type tells them apart from files, so only the files cost a
 * stat. A pass takes no more than a set share of one core: after a pass,
 * the next waits at least CPU_RATIO times the CPU time it took.
 */
#include "backend/backend.h"
#include "platform/portable.h"
#ifdef _WIN32
#include "platform/winfs.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __APPLE__
#define ST_MTIM(st) ((st)->st_mtimespec)
#define ST_CTIM(st) ((st)->st_ctimespec)
#else
#define ST_MTIM(st) ((st)->st_mtim)
#define ST_CTIM(st) ((st)->st_ctim)
#endif

/* The default time between the end of a pass and the start of the next. */
#define DEFAULT_INTERVAL_MS 1000
/* At most 1 / (1 + CPU_RATIO) of one core: the wait after a pass is CPU_RATIO times its CPU. */
#define CPU_RATIO 9
/* A stamp is racy if the file system's clock may still have been this close to it. */
#define RACY_MIN_NS 20000000LL
#define DENTS_SIZE (64 * 1024)

/* The slot's stamp holds nanoseconds since the epoch, which needs 64 bits. */
_Static_assert(sizeof(void *) >= sizeof(int64_t), "the poll backend keeps 64 bits in a slot");

enum { REC_CHANGED, REC_GONE, REC_APPEARED };
/* The kind of a REC_GONE of a root's top itself, by why its path no longer leads to it. */
enum { TOP_GONE = 1, TOP_MOVED_ABOVE };

typedef struct {
  vigil__node *dir; /* NULL once the directory left the tree */
  uint32_t name;    /* offset of the name in names */
  uint8_t len, op, is_dir, kind;
  uint8_t type;  /* GONE: the node's (VIGIL__T_NONDIR if never known); APPEARED: the listing's */
  uint32_t ino;  /* low 32 bits */
  int64_t mtime; /* APPEARED: the file's mtime; GONE: the directory's stamp before the pass */
  size_t pair;   /* the record at the other end of a move, or SIZE_MAX */
  unsigned done : 1;
} rec;

typedef struct {
  int interval_ms;
  int64_t due_ms; /* CLOCK_MONOTONIC ms of the next pass */
  /* The nodes the walk starts from: those watched whose parent this backend does not watch. */
  vigil__node **tops;
  size_t ntops, tops_cap;
  size_t watches;
  unsigned src; /* the source index in a watched node's flags, once known */
  int src_known;
  /*
   * Per file system (st_dev), the largest lead of its clock over ours seen
   * so far (ctime - CLOCK_REALTIME at the stat), or INT64_MIN. A file
   * system beyond the table's room has no lead: its listings are racy.
   */
  struct lead {
    uint64_t dev;
    int64_t ns;
  } leads[16];
  size_t nleads;
  struct racy_set *racy; /* the directories to look at again (see below) */
  rec *recs;
  size_t nrecs, recs_cap;
  char *names;
  size_t names_len, names_cap;
  char *dents;
  /* The pass under way: the top it walks, the directory it visits next. */
  int passing;
  size_t top_i;
  vigil__node *cur;
  int64_t pass_start_ms, pass_cpu_ns;
  /* For the tests and the benchmark. */
  size_t passes;
  int64_t last_cpu_ns;
} state;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t cpu_now_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
    return 0;
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t ns_of(const struct timespec *ts) {
  return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t stamp_of(const vigil__node *d) {
  int64_t w;
  memcpy(&w, &vigil__node_slot(d)->ptr, sizeof w);
  return w;
}

static void stamp_set(vigil__node *d, int64_t w, uint32_t num) {
  memcpy(&vigil__node_slot(d)->ptr, &w, sizeof w);
  vigil__node_slot(d)->num = (int32_t)num;
}

/* ---- Listing a directory, as the core does (src/platform/portable.h). */

typedef vigil__dirent entry;

typedef struct {
  int fd;
  char *buf;
#ifdef _WIN32
  vigil__win_dirlist w; /* NtQueryDirectoryFile through the handle (winfs.h) */
  int started;
#else
  vigil__dirlist list;
#endif
  int err; /* why it could not be opened, or 0 */
} lister;

static void list_begin(lister *l, int fd, char *buf) {
  l->fd = fd;
  l->buf = buf;
#ifdef _WIN32
  l->started = 0;
  l->err = 0;
#else
  l->err = vigil__dirlist_open(&l->list, fd, buf, DENTS_SIZE);
#endif
}

/* 1 with *e filled, 0 at the end, or -errno. */
static int list_next(lister *l, entry *e) {
#ifdef _WIN32
  if (!l->started) {
    void *h = vigil__w_handle(l->fd);
    int rc = h ? vigil__win_list_open(&l->w, h, l->buf, DENTS_SIZE) : -EBADF;
    if (rc < 0)
      return rc;
    l->started = 1;
  }
  vigil__win_dirent w;
  int rc = vigil__win_list_next(&l->w, &w);
  if (rc <= 0)
    return rc;
  e->name = w.name;
  e->len = w.len;
  e->ino = w.id;
  e->type = w.is_link ? DT_LNK : w.is_dir ? DT_DIR : DT_REG;
  return 1;
#else
  return l->err ? l->err : vigil__dirlist_next(&l->list, e);
#endif
}

static void list_end(lister *l) {
#ifdef _WIN32
  if (l->started)
    vigil__win_list_close(&l->w);
#else
  if (!l->err)
    vigil__dirlist_close(&l->list);
#endif
}

/* ---- Records. */

static int name_add(state *s, const char *name, size_t len, uint32_t *off) {
  if (s->names_len + len + 1 > s->names_cap) {
    size_t ncap = s->names_cap ? s->names_cap * 2 : 4096;
    while (ncap < s->names_len + len + 1)
      ncap *= 2;
    if (ncap > UINT32_MAX)
      return -ENOMEM;
    char *n = vigil__realloc(s->names, ncap);
    if (!n)
      return -ENOMEM;
    s->names = n;
    s->names_cap = ncap;
  }
  memcpy(s->names + s->names_len, name, len);
  s->names[s->names_len + len] = '\0';
  *off = (uint32_t)s->names_len;
  s->names_len += len + 1;
  return 0;
}

static rec *rec_add(state *s, vigil__node *dir, int op, const char *name, size_t len) {
  if (s->nrecs == s->recs_cap) {
    size_t ncap = s->recs_cap ? s->recs_cap * 2 : 64;
    rec *n = vigil__realloc(s->recs, ncap * sizeof *n);
    if (!n)
      return NULL;
    s->recs = n;
    s->recs_cap = ncap;
  }
  rec *r = &s->recs[s->nrecs];
  memset(r, 0, sizeof *r);
  if (name_add(s, name, len, &r->name) < 0)
    return NULL;
  r->dir = dir;
  r->op = (uint8_t)op;
  r->len = (uint8_t)len;
  r->pair = SIZE_MAX;
  s->nrecs++;
  return r;
}

/* ---- Comparing one directory with the tree. */

/*
 * Racy stamps. A file changed after a listing stat'ed it, but within the
 * same tick of the file system's clock as the directory's stamp, would
 * carry the stamp's very time and look unchanged. So when a listing ran
 * that close to its stamp (by the local clock and the largest lead of the
 * file system's clock over it seen so far), the directory is listed again
 * once the tick is surely over: any change made since then is past the
 * stamp. For that second look the files that were at the stamp are kept
 * (their inode, size and mtime), for as long as it takes; a file at the
 * stamp that was below it then, or is not what was kept, has changed.
 * The directory's slot says it has such a look pending (num's RACY bit).
 */
typedef struct {
  uint32_t name; /* offset in the set's names */
  uint8_t len;
  uint64_t ino;
  int64_t size, mtime, ctime;
} tie;

typedef struct {
  vigil__node *dir; /* NULL once looked at again, or gone from the tree */
  size_t first, n;  /* its ties */
} racy;

typedef struct racy_set {
  racy *dirs;
  size_t ndirs, dirs_cap;
  tie *ties;
  size_t nties, ties_cap;
  char *names;
  size_t names_len, names_cap;
  int64_t due_ms; /* CLOCK_MONOTONIC ms when every tick is surely over */
} racy_set;

#define RACY 1u

/*
 * The inode a listing gives, as the tree keeps it, or 0 when the file
 * system gives none: FUSE file systems that do not number their files
 * (sshfs by default) give every entry 0xffffffff, which pairs nothing.
 */
static uint32_t listed_ino(uint64_t ino) {
  return (uint32_t)ino == UINT32_MAX ? 0 : (uint32_t)ino;
}

/* What one directory's comparison gathers. */
typedef struct {
  int64_t old;      /* the stamp before, 0 when never known */
  int64_t stamp;    /* the newest ctime so far, at least old */
  int64_t now;      /* the local clock (CLOCK_REALTIME ns) when the listing began */
  const racy *look; /* the files kept at the old stamp, for a second look */
  int64_t *lead;    /* its file system's lead (state.leads), or NULL before a file is seen */
  size_t mark;      /* where this listing's candidate ties begin */
  size_t names_mark;
  int nomem;
} dir_cmp;

static void cmp_begin(state *s, dir_cmp *c, int64_t old);
static int racy_commit(state *s, vigil__node *d, dir_cmp *c);

/* The lead of file system dev, or NULL when the table is full. */
static int64_t *lead_of(state *s, uint64_t dev) {
  for (size_t i = 0; i < s->nleads; i++)
    if (s->leads[i].dev == dev)
      return &s->leads[i].ns;
  if (s->nleads == sizeof s->leads / sizeof s->leads[0])
    return NULL;
  s->leads[s->nleads] = (struct lead){dev, INT64_MIN};
  return &s->leads[s->nleads++].ns;
}

/*
 * Notes a stat'ed file: its ctime may raise the stamp, and a file that may
 * be at the final stamp is kept as a candidate tie.
 */
static void fold(state *s, dir_cmp *c, const char *name, size_t len, const struct stat *st) {
  racy_set *rs = s->racy;
  int64_t ct = ns_of(&ST_CTIM(st));
  if (!c->lead)
    c->lead = lead_of(s, (uint64_t)st->st_dev);
  if (c->lead && ct - c->now > *c->lead)
    *c->lead = ct - c->now;
  if (ct < c->stamp || c->nomem)
    return;
  if (ct > c->stamp) {
    c->stamp = ct;
    rs->nties = c->mark; /* the candidates so far are below the new stamp */
    rs->names_len = c->names_mark;
  }
  if (rs->nties == rs->ties_cap) {
    size_t ncap = rs->ties_cap ? rs->ties_cap * 2 : 64;
    tie *n = vigil__realloc(rs->ties, ncap * sizeof *n);
    if (!n) {
      c->nomem = 1;
      return;
    }
    rs->ties = n;
    rs->ties_cap = ncap;
  }
  if (rs->names_len + len + 1 > rs->names_cap) {
    size_t ncap = rs->names_cap ? rs->names_cap * 2 : 4096;
    while (ncap < rs->names_len + len + 1)
      ncap *= 2;
    char *n = ncap <= UINT32_MAX ? vigil__realloc(rs->names, ncap) : NULL;
    if (!n) {
      c->nomem = 1;
      return;
    }
    rs->names = n;
    rs->names_cap = ncap;
  }
  tie *t = &rs->ties[rs->nties++];
  memcpy(rs->names + rs->names_len, name, len);
  t->name = (uint32_t)rs->names_len;
  t->len = (uint8_t)len;
  rs->names_len += len;
  t->ino = st->st_ino;
  t->size = (int64_t)st->st_size;
  t->mtime = ns_of(&ST_MTIM(st));
  t->ctime = ct;
}

/*
 * A file the tree holds, stat'ed: has it changed since it was last seen?
 * It has if its ctime is past the stamp; at the stamp, only a second look
 * can tell, by what was kept of it.
 */
static int file_changed(const state *s, const dir_cmp *c, const char *name, size_t len,
                        const struct stat *st) {
  int64_t ct = ns_of(&ST_CTIM(st));
  if (!c->old || ct < c->old)
    return 0;
  if (ct > c->old)
    return 1;
  if (!c->look)
    return 0;
  const racy_set *rs = s->racy;
  for (size_t i = c->look->first; i < c->look->first + c->look->n; i++) {
    const tie *t = &rs->ties[i];
    if (t->len == len && memcmp(rs->names + t->name, name, len) == 0)
      return t->ino != (uint64_t)st->st_ino || t->size != (int64_t)st->st_size ||
             t->mtime != ns_of(&ST_MTIM(st));
  }
  return 1; /* it was below the stamp when the listing looked */
}

/*
 * Lists d and compares it with the tree, noting what differs as records.
 * A second look (files_only) notes only the files that changed: names
 * that came or went are left to the next pass, so that a pass that finds
 * a name has found every name made before it, in every directory.
 */
static int compare_dir(state *s, vigil_t *v, vigil__node *d, int fd, int files_only) {
  dir_cmp c;
  cmp_begin(s, &c, stamp_of(d));
  if (vigil__node_slot(d)->num & RACY) {
    for (size_t i = 0; i < s->racy->ndirs; i++)
      if (s->racy->dirs[i].dir == d)
        c.look = &s->racy->dirs[i];
  }
  int had = vigil__node_first(d) != NULL;
  /*
   * A listing comes in the order of the last one, and the tree links each
   * new child first, so the children from last to first are the likely
   * order of the entries: each is tried before the child index is.
   */
  vigil__node *guess = vigil__node_first(d);
  while (guess && vigil__node_next(guess))
    guess = vigil__node_next(guess);
  lister l;
  list_begin(&l, fd, s->dents);
  entry e = {0};
  int rc;
  while ((rc = list_next(&l, &e)) > 0) {
    if (e.name[0] == '.' && (e.len == 1 || (e.len == 2 && e.name[1] == '.'))) {
      /*
       * The directory at this name is no longer the one the node holds
       * (the parent's pass tells). Compared with the "." of its last
       * listing, not with stat's inode, which some file systems (FUSE,
       * FAT) number differently.
       */
      uint32_t *listed = &vigil__node_dir(d)->listed_ino;
      if (e.len == 1 && *listed && e.ino && (uint32_t)e.ino != *listed) {
        rc = -ESTALE;
        break;
      }
      if (e.len == 1 && e.ino)
        *listed = (uint32_t)e.ino;
      continue;
    }
    struct stat st;
    int stated = 0, type;
    if (e.type == DT_UNKNOWN) {
      if (VIGIL__SYS(fstatat(fd, e.name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
        continue; /* gone already: the next pass tells */
      stated = 1;
      type = vigil__type_of_mode(st.st_mode);
    } else {
      type = vigil__type_of_dtype(e.type);
    }
    int is_dir = type == VIGIL__T_DIR;
    vigil__node *child = NULL;
    if (guess && guess->namelen == e.len && memcmp(vigil__node_name(guess), e.name, e.len) == 0)
      child = guess;
    else if (had)
      child = vigil__tree_find(vigil__tree_of(v), d, e.name, e.len);
    if (child)
      guess = vigil__node_rel(child, child->sib_prev_);
    if (child && vigil__same_entry(child, type, e.ino)) {
      child->flags |= VIGIL__N_SEEN;
      if (!child->ino)
        child->ino = (uint32_t)e.ino;
      if (child->type == VIGIL__T_NONDIR)
        child->type = (uint8_t)type;
      if (is_dir)
        continue;
      if (!stated && VIGIL__SYS(fstatat(fd, e.name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
        continue;
      if (file_changed(s, &c, e.name, e.len, &st)) {
        rec *r = rec_add(s, d, REC_CHANGED, e.name, e.len);
        if (!r) {
          rc = -ENOMEM;
          break;
        }
        /* Content changes move mtime; at the stamp, what was kept tells no time apart. */
        int64_t mt = ns_of(&ST_MTIM(&st));
        r->kind =
            (uint8_t)(mt > c.old || ns_of(&ST_CTIM(&st)) == c.old ? VIGIL_MODIFIED : VIGIL_ATTRIB);
      }
      fold(s, &c, e.name, e.len, &st);
      continue;
    }
    if (files_only) {
      if (child)
        child->flags |= VIGIL__N_SEEN;
      continue;
    }
    if (child) {
      /* Another entry under the name the tree holds: the old one went. */
      child->flags |= VIGIL__N_SEEN;
      rec *r = rec_add(s, d, REC_GONE, e.name, e.len);
      if (!r) {
        rc = -ENOMEM;
        break;
      }
      r->ino = listed_ino(child->ino);
      r->is_dir = child->type == VIGIL__T_DIR;
      r->type = child->type;
      r->mtime = c.old;
    }
    if (!vigil__obs_admits(v, d, e.name, e.len, is_dir))
      continue;
    int64_t mt = 0;
    if (!is_dir) {
      if (!stated && VIGIL__SYS(fstatat(fd, e.name, &st, AT_SYMLINK_NOFOLLOW)) < 0)
        continue;
      mt = ns_of(&ST_MTIM(&st));
      fold(s, &c, e.name, e.len, &st);
    }
    rec *r = rec_add(s, d, REC_APPEARED, e.name, e.len);
    if (!r) {
      rc = -ENOMEM;
      break;
    }
    r->ino = listed_ino(e.ino);
    r->is_dir = (uint8_t)is_dir;
    r->type = (uint8_t)type;
    r->mtime = mt;
  }
  list_end(&l);
  if (rc < 0) {
    /* Unlisted: its marks go, and nothing more is said of it this pass. */
    for (vigil__node *k = vigil__node_first(d); k; k = vigil__node_next(k))
      k->flags &= (uint8_t)~VIGIL__N_SEEN;
    s->racy->nties = c.mark;
    s->racy->names_len = c.names_mark;
    return rc;
  }
  for (vigil__node *k = vigil__node_first(d); k; k = vigil__node_next(k)) {
    if ((k->flags & VIGIL__N_SEEN) || files_only) {
      k->flags &= (uint8_t)~VIGIL__N_SEEN;
      continue;
    }
    rec *r = rec_add(s, d, REC_GONE, vigil__node_name(k), k->namelen);
    if (!r)
      rc = -ENOMEM;
    else {
      r->ino = listed_ino(k->ino);
      r->is_dir = k->type == VIGIL__T_DIR;
      r->type = k->type;
      r->mtime = c.old;
    }
  }
  int r2 = racy_commit(s, d, &c);
  return rc < 0 ? rc : r2;
}

static void cmp_begin(state *s, dir_cmp *c, int64_t old) {
  memset(c, 0, sizeof *c);
  c->old = old;
  c->stamp = old;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  c->now = ns_of(&ts);
  c->mark = s->racy->nties;
  c->names_mark = s->racy->names_len;
}

/*
 * How long a tick of the clock that made stamp may last. A file system's
 * tick is not published, but a time whose nanoseconds are a multiple of
 * 10^k comes from a clock whose tick is at most 10^k ns (every tick in
 * use is a power of ten: 1 ns, 100 ns for SMB and NTFS, 10 ms for exFAT, a
 * second for sshfs and ext3), and whole seconds may mean FAT's 2 s. A
 * kernel's coarse clock moves in jiffies, whatever its nanoseconds: at
 * least RACY_MIN_NS.
 */
static int64_t tick_of(int64_t stamp) {
  int64_t ns = stamp % 1000000000LL, tick = 1;
  if (ns == 0)
    return 2000000000LL;
  while (ns % 10 == 0) {
    ns /= 10;
    tick *= 10;
  }
  return tick > RACY_MIN_NS ? tick : RACY_MIN_NS;
}

/*
 * Ends a listing: the directory's new stamp, and whether it needs a
 * second look. Its earlier look is done with (the entry stays, with no
 * directory, until the set is next emptied).
 */
static int racy_commit(state *s, vigil__node *d, dir_cmp *c) {
  racy_set *rs = s->racy;
  if (c->look)
    ((racy *)c->look)->dir = NULL;
  /* A file system with no lead known cannot show the tick is over: racy, for a while. */
  int64_t lead = c->lead && *c->lead != INT64_MIN ? *c->lead : c->stamp - c->now;
  int64_t margin = c->stamp + tick_of(c->stamp) - (c->now + lead);
  int is_racy = c->stamp > 1 && margin > 0;
  /* A directory never stamped learns its stamp now; only the next pass can tell changes. */
  stamp_set(d, c->stamp ? c->stamp : 1, is_racy ? RACY : 0);
  if (!is_racy || c->nomem) {
    rs->nties = c->mark;
    rs->names_len = c->names_mark;
    if (c->nomem)
      stamp_set(d, 0, 0); /* unknown: the next pass learns without reporting */
    return c->nomem ? -ENOMEM : 0;
  }
  /* Only the candidates at the final stamp are ties. */
  size_t n = c->mark;
  for (size_t i = c->mark; i < rs->nties; i++)
    if (rs->ties[i].ctime == c->stamp)
      rs->ties[n++] = rs->ties[i];
  rs->nties = n;
  if (rs->ndirs == rs->dirs_cap) {
    size_t ncap = rs->dirs_cap ? rs->dirs_cap * 2 : 16;
    racy *nd = vigil__realloc(rs->dirs, ncap * sizeof *nd);
    if (!nd) {
      rs->nties = c->mark;
      rs->names_len = c->names_mark;
      stamp_set(d, 0, 0);
      return -ENOMEM;
    }
    rs->dirs = nd;
    rs->dirs_cap = ncap;
  }
  rs->dirs[rs->ndirs++] = (racy){.dir = d, .first = c->mark, .n = n - c->mark};
  int64_t due = now_ms() + margin / 1000000 + 2;
  if (due > rs->due_ms)
    rs->due_ms = due;
  return 0;
}

/* ---- The walk: every directory watched here, depth first, a slice at a time. */

/* A pass gives way after this much time, so a wake or a stop is seen between slices. */
#define SLICE_MS 20
/* Descriptors held along the walk's path; deeper directories are opened by path. */
#define PATH_FDS 32

/* Is k a directory this backend watches, below one it watches? */
static int mine(const state *s, const vigil__node *k) {
  return k->type == VIGIL__T_DIR && vigil__watched(k) &&
         (unsigned)(k->flags >> VIGIL__N_SRC_SHIFT) == s->src;
}

/* The directory after n in the walk of top's subtree, n's own subtree skipped if skip. */
static vigil__node *walk_next(const state *s, vigil__node *n, const vigil__node *top, int skip) {
  if (!skip)
    for (vigil__node *k = vigil__node_first(n); k; k = vigil__node_next(k))
      if (mine(s, k))
        return k;
  while (n && n != top) {
    for (vigil__node *k = vigil__node_next(n); k; k = vigil__node_next(k))
      if (mine(s, k))
        return k;
    n = vigil__node_parent(n);
  }
  return NULL;
}

typedef struct {
  vigil__node *node;
  int fd;
} path_fd;

typedef struct {
  state *s;
  path_fd path[PATH_FDS];
  size_t depth;
} walker;

static void walker_pop_to(walker *w, const vigil__node *parent) {
  while (w->depth && w->path[w->depth - 1].node != parent)
    close(w->path[--w->depth].fd);
}

/* Lists one directory and compares it; returns whether to go below it. */
static int visit(state *s, vigil_t *v, walker *w, vigil__node *d, vigil__node *top) {
  walker_pop_to(w, d == top ? NULL : vigil__node_parent(d));
  int fd;
  if (w->depth && d != top) {
    fd = VIGIL__SYS(openat(w->path[w->depth - 1].fd, vigil__node_name(d),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd < 0)
      fd = -errno;
  } else {
    fd = vigil__open_dir(v, d);
  }
  if (fd < 0) {
    /*
     * A directory below the top that cannot be opened went away or was
     * replaced, which its parent's listing tells. A root's top that its
     * path no longer leads to (the core opens it by path and checks its
     * device and inode) is the root's end, whether the root went or a
     * directory above it was renamed.
     */
    if (d == top && !vigil__node_parent(d) && (fd == -ENOENT || fd == VIGIL_EROOTMOVED)) {
      rec *r = rec_add(s, d, REC_GONE, "", 0);
      if (!r)
        return -ENOMEM;
      r->kind = fd == VIGIL_EROOTMOVED ? TOP_MOVED_ABOVE : TOP_GONE;
    }
    return 0;
  }
  int rc = compare_dir(s, v, d, fd, 0);
  if (rc < 0 || w->depth == PATH_FDS) {
    close(fd);
    return rc == -ENOMEM ? rc : rc == 0;
  }
  w->path[w->depth].node = d;
  w->path[w->depth].fd = fd;
  w->depth++;
  return 1;
}

static void walker_end(walker *w) {
  while (w->depth)
    close(w->path[--w->depth].fd);
}

/* Walks until deadline (CLOCK_MONOTONIC ms): 1 when the walk is over, 0 if not, or -ENOMEM. */
static int walk(state *s, vigil_t *v, int64_t deadline) {
  walker w = {.s = s};
  while (s->top_i < s->ntops) {
    vigil__node *top = s->tops[s->top_i];
    if (!s->cur)
      s->cur = top;
    while (s->cur) {
      if (now_ms() >= deadline) {
        walker_end(&w);
        return 0;
      }
      vigil__node *d = s->cur;
      int down = visit(s, v, &w, d, top);
      if (down < 0) {
        walker_end(&w);
        return down;
      }
      s->cur = walk_next(s, d, top, !down);
    }
    s->top_i++;
  }
  walker_end(&w);
  return 1;
}

/* ---- Pairing and applying. */

typedef struct {
  uint32_t ino;
  size_t i;
} by_ino;

static int by_ino_cmp(const void *a, const void *b) {
  const by_ino *x = a, *y = b;
  if (x->ino != y->ino)
    return x->ino < y->ino ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * A name gone and a name that appeared with the same inode (and type) in
 * the same pass are one move. A file moves with its mtime, which a new
 * file that reused the inode number does not have: it was made after the
 * last pass saw its directory, so its mtime is past that stamp.
 */
static int pair_moves(state *s) {
  size_t n = 0;
  for (size_t i = 0; i < s->nrecs; i++)
    n += s->recs[i].op == REC_GONE && s->recs[i].ino && !s->recs[i].kind;
  if (!n)
    return 0;
  by_ino *g = vigil__malloc(n * sizeof *g);
  if (!g)
    return -ENOMEM;
  n = 0;
  for (size_t i = 0; i < s->nrecs; i++)
    if (s->recs[i].op == REC_GONE && s->recs[i].ino && !s->recs[i].kind)
      g[n++] = (by_ino){s->recs[i].ino, i};
  qsort(g, n, sizeof *g, by_ino_cmp);
  for (size_t i = 0; i < s->nrecs; i++) {
    rec *a = &s->recs[i];
    if (a->op != REC_APPEARED || !a->ino)
      continue;
    size_t lo = 0, hi = n;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (g[mid].ino < a->ino)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (; lo < n && g[lo].ino == a->ino; lo++) {
      rec *o = &s->recs[g[lo].i];
      if (o->pair != SIZE_MAX || o->is_dir != a->is_dir)
        continue;
      /* A link made with the inode number of a file just deleted is no move. */
      if (o->type != VIGIL__T_NONDIR && o->type != a->type)
        continue;
      /* Nor is the same name with another type or inode: it went, and came. */
      if (o->dir == a->dir && o->len == a->len &&
          memcmp(s->names + o->name, s->names + a->name, a->len) == 0)
        continue;
      if (!a->is_dir && (!o->mtime || a->mtime > o->mtime))
        continue;
      o->pair = i;
      a->pair = g[lo].i;
      break;
    }
  }
  free(g);
  return 0;
}

static const char *rec_name(const state *s, const rec *r) {
  return s->names + r->name;
}

static int apply_moves(state *s, vigil_t *v) {
  int rc = 0;
  for (;;) {
    int progress = 0, blocked = 0;
    for (size_t i = 0; i < s->nrecs && rc == 0; i++) {
      rec *g = &s->recs[i];
      if (g->op != REC_GONE || g->pair == SIZE_MAX || g->done)
        continue;
      rec *a = &s->recs[g->pair];
      if (!g->dir || !a->dir) {
        /* An end's directory left the tree: what is left of the move is a plain one. */
        g->done = 1;
        a->pair = SIZE_MAX;
        if (g->dir)
          rc = vigil__obs_gone(v, g->dir, rec_name(s, g), g->len, VIGIL__BY_CREATE);
        continue;
      }
      /* The target's name still holds the source of another move: that one goes first. */
      if (vigil__tree_find(vigil__tree_of(v), a->dir, rec_name(s, a), a->len)) {
        blocked = 1;
        continue;
      }
      g->done = a->done = 1;
      progress = 1;
      rc = vigil__obs_moved(v, g->dir, rec_name(s, g), g->len, a->dir, rec_name(s, a), a->len,
                            a->is_dir);
      if (vigil__xchg_held(v))
        vigil__xchg_release(v, 0);
      if (rc == 0 && a->is_dir && a->dir) {
        /* What is in it now is listed at once: the stream replays to this pass's tree. */
        vigil__node *n = vigil__tree_find(vigil__tree_of(v), a->dir, rec_name(s, a), a->len);
        if (n && vigil__watched(n))
          rc = vigil__obs_dir_changed(v, n);
      }
    }
    if (rc < 0 || !blocked)
      return rc;
    if (progress)
      continue;
    /* A cycle (names exchanged or rotated): one source goes, its target appears later. */
    for (size_t i = 0; i < s->nrecs; i++) {
      rec *g = &s->recs[i];
      if (g->op == REC_GONE && g->pair != SIZE_MAX && !g->done) {
        g->done = 1;
        s->recs[g->pair].pair = SIZE_MAX;
        if (g->dir)
          rc = vigil__obs_gone(v, g->dir, rec_name(s, g), g->len, VIGIL__BY_CREATE);
        break;
      }
    }
    if (rc < 0)
      return rc;
  }
}

/*
 * The observations, in an order that frees each name before it is
 * needed: changes, names gone, moves, names that appeared.
 */
static int apply(state *s, vigil_t *v) {
  int rc = pair_moves(s);
  if (rc < 0)
    return rc;
  for (size_t i = 0; i < s->nrecs && rc == 0; i++) {
    rec *r = &s->recs[i];
    if (r->dir && r->op == REC_GONE && r->kind) {
      r->done = 1;
      rc = vigil__obs_top_lost(v, r->dir, r->kind == TOP_MOVED_ABOVE ? VIGIL_EROOTMOVED : -ENOENT);
    }
  }
  for (size_t i = 0; i < s->nrecs && rc == 0; i++) {
    rec *r = &s->recs[i];
    if (r->dir && r->op == REC_CHANGED)
      rc = vigil__obs_changed(v, r->dir, rec_name(s, r), r->len, (vigil_kind)r->kind);
  }
  for (size_t i = 0; i < s->nrecs && rc == 0; i++) {
    rec *r = &s->recs[i];
    if (r->dir && r->op == REC_GONE && r->pair == SIZE_MAX && !r->done)
      rc = vigil__obs_gone(v, r->dir, rec_name(s, r), r->len, VIGIL__BY_CREATE);
  }
  if (rc == 0)
    rc = apply_moves(s, v);
  for (size_t i = 0; i < s->nrecs && rc == 0; i++) {
    rec *r = &s->recs[i];
    if (!r->dir || r->op != REC_APPEARED || r->pair != SIZE_MAX)
      continue;
    rc = vigil__obs_appeared(v, r->dir, rec_name(s, r), r->len, r->is_dir, VIGIL__BY_CREATE);
    /*
     * The node is made without its inode or exact type; a move before the
     * next pass pairs by both, so a file deleted then is never taken for
     * a link made with its inode number.
     */
    vigil__node *n =
        r->dir ? vigil__tree_find(vigil__tree_of(v), r->dir, rec_name(s, r), r->len) : NULL;
    if (n && !n->ino)
      n->ino = r->ino;
    if (n && n->type == VIGIL__T_NONDIR && !r->is_dir)
      n->type = r->type;
  }
  return rc;
}

/* ---- The backend. */

static void racy_compact(state *s);

static void pass_end(state *s) {
  s->passing = 0;
  s->cur = NULL;
  s->nrecs = 0;
  s->names_len = 0;
  racy_compact(s);
}

static int po_open(void **out, vigil_os_fd_t *fd, const vigil__backend_config *cfg) {
  state *s = vigil__calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->dents = vigil__malloc(DENTS_SIZE);
  s->racy = vigil__calloc(1, sizeof *s->racy);
  if (!s->dents || !s->racy) {
    free(s->dents);
    free(s->racy);
    free(s);
    return -ENOMEM;
  }
  s->interval_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : DEFAULT_INTERVAL_MS;
  s->due_ms = now_ms() + s->interval_ms;
  *out = s;
  *fd = VIGIL__NO_FD; /* nothing to wait on: passes are due by the clock (read's wait_ms) */
  return 0;
}

static void po_close(void *st) {
  state *s = st;
  free(s->tops);
  free(s->recs);
  free(s->names);
  free(s->dents);
  if (s->racy) {
    free(s->racy->dirs);
    free(s->racy->ties);
    free(s->racy->names);
    free(s->racy);
  }
  free(s);
}

/*
 * Stamps a directory being watched: its files' newest ctime, from a
 * listing of its own (the descriptor's position is the core's), so that
 * the first pass can tell a change made after the core's listing.
 */
static void racy_forget(state *s, const vigil__node *d) {
  if (!(vigil__node_slot(d)->num & RACY))
    return;
  for (size_t i = 0; i < s->racy->ndirs; i++)
    if (s->racy->dirs[i].dir == d)
      s->racy->dirs[i].dir = NULL;
}

/* Drops what the set holds for directories done with. */
static void racy_compact(state *s) {
  racy_set *rs = s->racy;
  size_t nd = 0, nt = 0, nn = 0;
  for (size_t i = 0; i < rs->ndirs; i++) {
    racy r = rs->dirs[i];
    if (!r.dir)
      continue;
    size_t first = nt;
    for (size_t k = r.first; k < r.first + r.n; k++) {
      tie t = rs->ties[k];
      memmove(rs->names + nn, rs->names + t.name, t.len);
      t.name = (uint32_t)nn;
      nn += t.len;
      rs->ties[nt++] = t;
    }
    r.first = first;
    rs->dirs[nd++] = r;
  }
  rs->ndirs = nd;
  rs->nties = nt;
  rs->names_len = nn;
}

static void stamp_dir(state *s, vigil__node *d, int fd) {
  racy_forget(s, d);
  stamp_set(d, 0, 0);
  int dfd = VIGIL__SYS(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd < 0)
    return;
  dir_cmp c;
  cmp_begin(s, &c, 0);
  lister l;
  list_begin(&l, dfd, s->dents);
  entry e = {0};
  int rc;
  while ((rc = list_next(&l, &e)) > 0) {
    if (e.type == DT_DIR || (e.name[0] == '.' && (e.len == 1 || (e.len == 2 && e.name[1] == '.'))))
      continue;
    struct stat st;
    if (VIGIL__SYS(fstatat(dfd, e.name, &st, AT_SYMLINK_NOFOLLOW)) < 0 || S_ISDIR(st.st_mode))
      continue;
    fold(s, &c, e.name, e.len, &st);
  }
  list_end(&l);
  close(dfd);
  if (rc < 0) {
    /* Never stamped: the first pass learns without reporting. */
    s->racy->nties = c.mark;
    s->racy->names_len = c.names_mark;
    return;
  }
  racy_commit(s, d, &c);
}

static int po_watch(void *st, vigil__node *dir, int fd) {
  state *s = st;
  int again = vigil__watched(dir);
  stamp_dir(s, dir, fd);
  if (again)
    return 0;
  s->watches++;
  /*
   * A directory whose parent this backend watches is walked from there;
   * any other is a top of the walk. Which flags are this backend's is
   * learnt from the first top, watched by now.
   */
  if (!s->src_known && s->ntops && vigil__watched(s->tops[0])) {
    s->src = (unsigned)(s->tops[0]->flags >> VIGIL__N_SRC_SHIFT);
    s->src_known = 1;
  }
  vigil__node *p = vigil__node_parent(dir);
  if (p && s->src_known && mine(s, p))
    return 0;
  if (s->ntops == s->tops_cap) {
    size_t ncap = s->tops_cap ? s->tops_cap * 2 : 4;
    vigil__node **n = vigil__realloc(s->tops, ncap * sizeof *n);
    if (!n) {
      s->watches--;
      return -ENOMEM;
    }
    s->tops = n;
    s->tops_cap = ncap;
  }
  s->tops[s->ntops++] = dir;
  return 0;
}

static void po_unwatch(void *st, vigil__node *dir) {
  state *s = st;
  s->watches--;
  racy_forget(s, dir);
  if (s->passing) {
    /* Its records go with it, and the walk goes on after it. */
    for (size_t i = 0; i < s->nrecs; i++)
      if (s->recs[i].dir == dir)
        s->recs[i].dir = NULL;
    if (s->cur == dir)
      s->cur = s->top_i < s->ntops ? walk_next(s, dir, s->tops[s->top_i], 1) : NULL;
  }
  for (size_t i = 0; i < s->ntops; i++) {
    if (s->tops[i] != dir)
      continue;
    memmove(&s->tops[i], &s->tops[i + 1], (s->ntops - i - 1) * sizeof *s->tops);
    s->ntops--;
    if (s->passing && i < s->top_i)
      s->top_i--;
    else if (s->passing && i == s->top_i)
      s->cur = NULL;
    break;
  }
}

/*
 * The second looks that are due: each racy directory listed again (by
 * path: there are few), and what they found applied.
 */
static size_t recheck(state *s, vigil_t *v) {
  racy_set *rs = s->racy;
  size_t n = rs->ndirs;
  s->passing = 1; /* records, and unwatch takes a directory's along */
  s->top_i = s->ntops;
  int rc = 0;
  for (size_t i = 0; i < n && rc != -ENOMEM; i++) {
    vigil__node *d = rs->dirs[i].dir;
    if (!d)
      continue;
    int fd = vigil__open_dir(v, d);
    if (fd < 0) {
      /* Gone or out of reach: the next pass tells. */
      rs->dirs[i].dir = NULL;
      vigil__node_slot(d)->num = 0;
      continue;
    }
    rc = compare_dir(s, v, d, fd, 1);
    close(fd);
  }
  size_t applied = s->nrecs;
  if (rc != -ENOMEM)
    rc = apply(s, v);
  if (rc == -ENOMEM)
    vigil__obs_lost(v);
  pass_end(s);
  return applied;
}

/*
 * A read runs the pass when it is due, a slice at a time, and applies
 * what the pass found when its walk is over; between passes, it makes
 * the second looks at racy directories. Its wait_ms says when it has
 * more to do (0 while a pass is under way).
 */
static int po_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  state *s = st;
  (void)max_units;
  int64_t now = now_ms();
  if (!s->passing && s->racy->ndirs && now >= s->racy->due_ms)
    out->records += recheck(s, v);
  if (!s->passing) {
    if (now < s->due_ms) {
      int64_t next = s->racy->ndirs && s->racy->due_ms < s->due_ms ? s->racy->due_ms : s->due_ms;
      out->wait_ms = next > now ? (int)(next - now) : 0;
      return 0;
    }
    s->passing = 1;
    s->top_i = 0;
    s->cur = NULL;
    s->pass_start_ms = now;
    s->pass_cpu_ns = 0;
  }
  int64_t cpu0 = cpu_now_ns();
  int over = walk(s, v, now + SLICE_MS);
  if (over == 1) {
    out->records += s->nrecs;
    over = apply(s, v) < 0 ? -ENOMEM : 1;
  }
  s->pass_cpu_ns += cpu_now_ns() - cpu0;
  if (over < 0) {
    /* Records of this pass were lost: a repair lists everything again. */
    vigil__obs_lost(v);
    over = 1;
  }
  if (over) {
    pass_end(s);
    s->passes++;
    s->last_cpu_ns = s->pass_cpu_ns;
    int64_t end = now_ms();
    int64_t due = s->pass_start_ms + s->interval_ms;
    int64_t share = end + s->pass_cpu_ns * CPU_RATIO / 1000000;
    s->due_ms = due > share ? due : share;
  }
  now = now_ms();
  if (s->passing) {
    out->wait_ms = 0;
  } else {
    int64_t next = s->racy->ndirs && s->racy->due_ms < s->due_ms ? s->racy->due_ms : s->due_ms;
    out->wait_ms = next > now ? (int)(next - now) : 0;
  }
  return 0;
}

static vigil__node *po_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  (void)st;
  return after || !vigil__watched(dir) ? NULL : (vigil__node *)dir;
}

static size_t po_watches(void *st) {
  return ((state *)st)->watches;
}

/* Nothing is held unread: a pass is made when it is due, not drained. */
static size_t po_pending(void *st) {
  (void)st;
  return 0;
}

static size_t po_discard(void *st, size_t max_units) {
  (void)st;
  (void)max_units;
  return 0;
}

static void po_flush(void *st, vigil_t *v) {
  (void)st;
  if (vigil__xchg_held(v))
    vigil__xchg_release(v, 0);
}

const vigil__backend vigil__backend_poll = {
    .name = "poll",
    /*
     * Every directory is listed on its own, what changed is told by
     * comparing, and everything it reports was found by looking.
     */
    .caps = VIGIL__CAP_DIR_WATCHES | VIGIL__CAP_DIR_CHANGED | VIGIL__CAP_SYNTHETIC,
    .open = po_open,
    .watch = po_watch,
    .unwatch = po_unwatch,
    .read = po_read,
    .sharing = po_sharing,
    .watches = po_watches,
    .pending = po_pending,
    .discard = po_discard,
    .flush = po_flush,
    .close = po_close,
};
