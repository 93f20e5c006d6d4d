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
 * What changed in a file is told by its print: 12 bytes a pass keeps per
 * file, in an array its directory's slot points to, sorted by a hash of
 * the name: a hash of what stat says of its content (size, mtime, inode
 * number, type) and one of its metadata (mode, owner, group, link count,
 * ctime). A change to any of them is seen, even when the times are put
 * back (cp -p, rsync -t, tar) or the file system shows no ctime of its
 * own (sshfs shows the mtime): modified if the content's print differs,
 * attrib if only the metadata's does. A directory also keeps its stamp,
 * the newest ctime the last pass saw among its files, for a file that
 * has no print (see "Prints"). And it keeps a print of itself, so that a
 * change of its own metadata is attrib, as the kernel reports it.
 *
 * A change made right after a pass, within the same tick of the file's
 * clock, keeps the times that pass saw: its print still differs if the
 * size, inode, mode or owner changed. One that keeps all of them cannot
 * be told by stat, neither by this pass nor by any later look (Linux
 * gives a file whose times were read since its last change a
 * fine-grained ctime at the next, on file systems with multigrain
 * timestamps, which closes that window there).
 *
 * Directories are fstat'ed through the descriptor that lists them (their
 * own metadata), never by name; a listing's d_type tells them apart from
 * files, so a directory costs no lookup of its own. A pass takes no more
 * than a set share of one core: after a pass, the next waits at least
 * CPU_RATIO times the CPU time it took.
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
#ifdef _WIN32
#define ST_OWNER(st) 0 /* the stat of winposix.h has no owner */
#else
#define ST_OWNER(st) (((uint64_t)(st)->st_uid << 32) | (uint32_t)(st)->st_gid)
#endif

/* The default time between the end of a pass and the start of the next. */
#define DEFAULT_INTERVAL_MS 1000
/* At most 1 / (1 + CPU_RATIO) of one core: the wait after a pass is CPU_RATIO times its CPU. */
#define CPU_RATIO 9
#define DENTS_SIZE (64 * 1024)

enum { REC_CHANGED, REC_GONE, REC_APPEARED };
/* The kind of a REC_GONE of a root's top itself, by why its path no longer leads to it. */
enum { TOP_GONE = 1, TOP_MOVED_ABOVE };

typedef struct {
  vigil__node *dir; /* NULL once the directory left the tree */
  uint32_t name;    /* offset of the name in names; a name of length 0: dir itself */
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
  /* Every directory's prints, to free them at close (the tree is not walked then). */
  struct prints **all;
  size_t nall, all_cap;
  /* The prints of the directory being listed, in listing order. */
  struct print *fresh;
  size_t nfresh, fresh_cap;
  struct same_dir *same; /* the directories of roots that overlap (see "Overlapping roots") */
  size_t nsame, same_cap, same_tops;
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

/* ---- Prints: what a pass keeps of each file. */

/*
 * A file's print. The name is known by its hash (key): the prints are
 * made from a listing, before the core has made nodes for the names
 * (watch), and a name is all a listing and the tree share. Two names of
 * one directory with the same key are rare (about n^2 / 2^33 pairs among
 * n names); such a file is judged by its ctime against the stamp, as if
 * it had no print. A change goes unseen only when both hashes of a print
 * it changes come out the same, about once in 2^32 changes that keep
 * the times, and never when the ctime moves past the stamp.
 */
typedef struct print {
  uint32_t key;     /* the name */
  uint32_t content; /* size, mtime, inode number, type */
  uint32_t meta;    /* mode, owner, group, link count, ctime */
} print;

/* A directory's prints: what its slot's ptr points to (NULL: not known). */
typedef struct prints {
  /*
   * The newest ctime among its files when it was last listed, in the
   * file system's own clock: a file with no print whose ctime is past it
   * has changed since. Also what tells a file moved in this pass from a
   * new one made with its inode number (pair_moves).
   */
  int64_t stamp;
  uint32_t self;    /* the directory's own mode, owner and group */
  uint32_t self_ct; /* its own ctime */
  uint32_t at;      /* its place in state.all */
  uint32_t n;
  print p[]; /* sorted by key */
} prints;

/* The slot's num: whether self_ct may be compared (a rename sets a directory's ctime). */
#define SELF_CT_KNOWN 1

static prints *prints_of(const vigil__node *d) {
  return vigil__node_slot(d)->ptr;
}

/*
 * Absorbs x into the hash h: a bijective scramble (a 64-bit finalizer) of
 * h ^ x. Values are absorbed one at a time, from a seed, so that no two of
 * them can cancel each other's bits.
 */
static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

#define SEED 0x9e3779b97f4a7c15ULL

static uint32_t name_key(const char *name, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
  return (uint32_t)(mix(mix(SEED, h), len) >> 32);
}

static void print_of(print *p, const char *name, size_t len, const struct stat *st) {
  p->key = name_key(name, len);
  uint64_t h = mix(SEED, (uint64_t)st->st_size);
  h = mix(h, (uint64_t)ns_of(&ST_MTIM(st)));
  h = mix(h, (uint64_t)st->st_ino);
  p->content = (uint32_t)(mix(h, (uint64_t)(st->st_mode & S_IFMT)) >> 32);
  h = mix(SEED, (uint64_t)st->st_mode);
  h = mix(h, ST_OWNER(st));
  h = mix(h, (uint64_t)st->st_nlink);
  p->meta = (uint32_t)(mix(h, (uint64_t)ns_of(&ST_CTIM(st))) >> 32);
}

/* A directory's own metadata: its mode, owner and group. */
static uint32_t self_of(const struct stat *st) {
  return (uint32_t)(mix(mix(SEED, (uint64_t)st->st_mode), ST_OWNER(st)) >> 32);
}

static uint32_t self_ct_of(const struct stat *st) {
  return (uint32_t)(mix(SEED, (uint64_t)ns_of(&ST_CTIM(st))) >> 32);
}

/* The print of the name with this key, or NULL when there is none or several. */
static print *print_find(prints *ps, uint32_t key) {
  size_t lo = 0, hi = ps->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ps->p[mid].key < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == ps->n || ps->p[lo].key != key || (lo + 1 < ps->n && ps->p[lo + 1].key == key))
    return NULL;
  return &ps->p[lo];
}

static int print_cmp(const void *a, const void *b) {
  uint32_t x = ((const print *)a)->key, y = ((const print *)b)->key;
  return (x > y) - (x < y);
}

static int fresh_add(state *s, const char *name, size_t len, const struct stat *st) {
  if (s->nfresh == s->fresh_cap) {
    size_t ncap = s->fresh_cap ? s->fresh_cap * 2 : 256;
    print *n = vigil__realloc(s->fresh, ncap * sizeof *n);
    if (!n)
      return -ENOMEM;
    s->fresh = n;
    s->fresh_cap = ncap;
  }
  print_of(&s->fresh[s->nfresh++], name, len, st);
  return 0;
}

static void prints_drop(state *s, vigil__node *d) {
  prints *ps = prints_of(d);
  vigil__node_slot(d)->ptr = NULL;
  vigil__node_slot(d)->num = 0;
  if (!ps)
    return;
  s->all[ps->at] = s->all[--s->nall];
  s->all[ps->at]->at = ps->at;
  free(ps);
}

/*
 * Makes the fresh prints d's (sorted), with its stamp and its own print;
 * on failure d has none, and its next listing learns without reporting.
 */
static int prints_set(state *s, vigil__node *d, int64_t stamp, const struct stat *self) {
  prints *ps = prints_of(d);
  if (!ps || ps->n != s->nfresh) {
    if (!ps && s->nall == s->all_cap) {
      size_t ncap = s->all_cap ? s->all_cap * 2 : 64;
      prints **n = vigil__realloc(s->all, ncap * sizeof *n);
      if (!n)
        return -ENOMEM;
      s->all = n;
      s->all_cap = ncap;
    }
    prints *n = vigil__realloc(ps, sizeof *ps + s->nfresh * sizeof(print));
    if (!n) {
      prints_drop(s, d);
      return -ENOMEM;
    }
    if (!ps)
      n->at = (uint32_t)s->nall++;
    s->all[n->at] = n;
    vigil__node_slot(d)->ptr = ps = n;
    ps->n = (uint32_t)s->nfresh;
  }
  if (s->nfresh) {
    qsort(s->fresh, s->nfresh, sizeof *s->fresh, print_cmp);
    memcpy(ps->p, s->fresh, s->nfresh * sizeof *s->fresh);
  }
  ps->stamp = stamp;
  ps->self = self_of(self);
  ps->self_ct = self_ct_of(self);
  vigil__node_slot(d)->num = SELF_CT_KNOWN;
  return 0;
}

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
  prints *was;   /* its prints before, or NULL when not known */
  int64_t old;   /* the stamp before, 0 when not known */
  int64_t stamp; /* the newest ctime so far, at least old */
  size_t found;  /* files whose print was found, and updated in place */
  uint64_t keys; /* the sum of their keys */
} dir_cmp;

/*
 * A file the tree holds, stat'ed: has it changed since it was last seen
 * (VIGIL_MODIFIED, VIGIL_ATTRIB, or 0)? Its print says; a file without
 * one has if its ctime is past the stamp. Its print is brought up to
 * date in place.
 */
static int file_change(dir_cmp *c, const print *now, const struct stat *st) {
  int64_t ct = ns_of(&ST_CTIM(st));
  print *was = c->was ? print_find(c->was, now->key) : NULL;
  if (!was) {
    if (!c->old || ct <= c->old)
      return 0;
    return ns_of(&ST_MTIM(st)) > c->old ? VIGIL_MODIFIED : VIGIL_ATTRIB;
  }
  int kind = was->content != now->content            ? VIGIL_MODIFIED
             : was->meta != now->meta || ct > c->old ? VIGIL_ATTRIB
                                                     : 0;
  *was = *now;
  c->found++;
  c->keys += now->key;
  return kind;
}

/*
 * Has the directory's own metadata changed (attrib)? Its mode, owner or
 * group; or its ctime, unless its mtime moved with it: an entry added,
 * removed or renamed in it sets both to the same time, a change of
 * metadata (times set, an extended attribute) only the ctime.
 */
static int self_changed(const vigil__node *d, const struct stat *st) {
  const prints *ps = prints_of(d);
  if (!ps)
    return 0;
  if (ps->self != self_of(st))
    return 1;
  return (vigil__node_slot(d)->num & SELF_CT_KNOWN) && ps->self_ct != self_ct_of(st) &&
         ns_of(&ST_CTIM(st)) != ns_of(&ST_MTIM(st));
}

/* ---- Comparing one directory with the tree. */

static void fold(dir_cmp *c, const struct stat *st);
static int dir_commit(state *s, vigil__node *d, int fd, dir_cmp *c);

/*
 * Lists d and compares it with the tree, noting what differs as records,
 * and d's own metadata with its print (st: d's stat, through fd).
 */
static int compare_dir(state *s, vigil_t *v, vigil__node *d, int fd) {
  dir_cmp c = {.was = prints_of(d)};
  c.old = c.stamp = c.was ? c.was->stamp : 0;
  s->nfresh = 0;
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
      if (fresh_add(s, e.name, e.len, &st) < 0) {
        rc = -ENOMEM;
        break;
      }
      int kind = file_change(&c, &s->fresh[s->nfresh - 1], &st);
      if (kind) {
        rec *r = rec_add(s, d, REC_CHANGED, e.name, e.len);
        if (!r) {
          rc = -ENOMEM;
          break;
        }
        r->kind = (uint8_t)kind;
      }
      fold(&c, &st);
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
      fold(&c, &st);
      if (fresh_add(s, e.name, e.len, &st) < 0) {
        rc = -ENOMEM;
        break;
      }
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
    return rc;
  }
  for (vigil__node *k = vigil__node_first(d); k; k = vigil__node_next(k)) {
    if (k->flags & VIGIL__N_SEEN) {
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
  return rc < 0 ? rc : dir_commit(s, d, fd, &c);
}

/*
 * Ends a listing: d's own metadata compared, and its prints made those of
 * this listing. When the same names were found as before (all of them,
 * each once), the prints were brought up to date in place.
 */
static int dir_commit(state *s, vigil__node *d, int fd, dir_cmp *c) {
  struct stat self;
  if (VIGIL__SYS(fstat(fd, &self)) < 0)
    return 0; /* its listing has just worked: this does not fail */
  if (self_changed(d, &self)) {
    vigil__node *p = vigil__node_parent(d);
    rec *r = p ? rec_add(s, p, REC_CHANGED, vigil__node_name(d), d->namelen)
               : rec_add(s, d, REC_CHANGED, "", 0);
    if (!r)
      return -ENOMEM;
    r->kind = VIGIL_ATTRIB;
  }
  prints *ps = c->was;
  if (ps && c->found == ps->n && s->nfresh == ps->n) {
    uint64_t keys = 0;
    for (size_t i = 0; i < ps->n; i++)
      keys += ps->p[i].key;
    if (keys == c->keys) {
      ps->stamp = c->stamp;
      ps->self = self_of(&self);
      ps->self_ct = self_ct_of(&self);
      vigil__node_slot(d)->num = SELF_CT_KNOWN;
      return 0;
    }
  }
  return prints_set(s, d, c->stamp, &self);
}

/* Folds a stat'ed file's ctime into the stamp. */
static void fold(dir_cmp *c, const struct stat *st) {
  int64_t ct = ns_of(&ST_CTIM(st));
  if (ct > c->stamp)
    c->stamp = ct;
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
  int rc = compare_dir(s, v, d, fd);
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
      /*
       * Nor are two ends in two roots: roots that overlap each list what
       * they share, and each root's move is its own.
       */
      if (o->dir && a->dir && o->dir != a->dir &&
          vigil__node_root(o->dir) != vigil__node_root(a->dir))
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
        /* The rename set its ctime: until it is listed again, only its mode and owner tell. */
        if (n && vigil__watched(n) && mine(s, n))
          vigil__node_slot(n)->num &= ~SELF_CT_KNOWN;
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
      rc = vigil__obs_changed(v, r->dir, r->len ? rec_name(s, r) : NULL, r->len,
                              (vigil_kind)r->kind);
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

/*
 * ---- Overlapping roots.
 *
 * Roots that hold one directory (d and d/sub; a file root in a directory
 * root's tree; several file roots of one directory) each keep a tree of
 * their own and list it. The core reports each change once, through the
 * outer root, by asking which nodes are the same directory (sharing), as
 * inotify tells by the kernel watch they share. What it asks about is
 * always a root's top: so the same directories kept here are each root's
 * top, known by its root's device and inode, and every node of another
 * root that is the same directory as a top, found when either of them is
 * watched. They are few, and this costs nothing while one root polls.
 */
typedef struct same_dir {
  vigil__node *node;
  uint64_t dev, ino;
  int top; /* a root's top */
} same_dir;

/* The root whose top n is, or NULL. */
static const vigil__root *root_at(const vigil__node *n) {
  return vigil__node_parent(n) ? NULL : vigil__node_dir(n)->root;
}

/*
 * The list is sorted by device, inode and node, so that one directory's
 * nodes are together and each is found by a binary search.
 */
static int same_cmp(uint64_t dev, uint64_t ino, const vigil__node *n, const same_dir *e) {
  if (dev != e->dev)
    return dev < e->dev ? -1 : 1;
  if (ino != e->ino)
    return ino < e->ino ? -1 : 1;
  if (n != e->node)
    return (uintptr_t)n < (uintptr_t)e->node ? -1 : 1;
  return 0;
}

/* Where (dev, ino, n) is, or would be; n NULL: the first of that directory. */
static size_t same_pos(const state *s, uint64_t dev, uint64_t ino, const vigil__node *n) {
  size_t lo = 0, hi = s->nsame;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (same_cmp(dev, ino, n, &s->same[mid]) > 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static same_dir *same_of(const state *s, const vigil__node *n) {
  const vigil__root *r = root_at(n);
  if (r) {
    size_t i = same_pos(s, r->dev, r->ino, n);
    return i < s->nsame && s->same[i].node == n ? &s->same[i] : NULL;
  }
  for (size_t i = 0; i < s->nsame; i++)
    if (s->same[i].node == n)
      return &s->same[i];
  return NULL;
}

static int same_add(state *s, vigil__node *n, uint64_t dev, uint64_t ino, int top) {
  if (s->nsame == s->same_cap) {
    size_t ncap = s->same_cap ? s->same_cap * 2 : 8;
    same_dir *m = vigil__realloc(s->same, ncap * sizeof *m);
    if (!m)
      return -ENOMEM;
    s->same = m;
    s->same_cap = ncap;
  }
  size_t i = same_pos(s, dev, ino, n);
  memmove(&s->same[i + 1], &s->same[i], (s->nsame - i) * sizeof *s->same);
  s->same[i] = (same_dir){n, dev, ino, top};
  s->nsame++;
  s->same_tops += top != 0;
  return 0;
}

static void same_forget(state *s, const vigil__node *n) {
  same_dir *e = same_of(s, n);
  if (!e)
    return;
  s->same_tops -= e->top != 0;
  memmove(e, e + 1, (size_t)(s->same + s->nsame - (e + 1)) * sizeof *e);
  s->nsame--;
}

static vigil__node *child_named(const vigil__node *d, const char *name, size_t len) {
  for (vigil__node *k = vigil__node_first(d); k; k = vigil__node_next(k))
    if (k->namelen == len && memcmp(vigil__node_name(k), name, len) == 0)
      return k;
  return NULL;
}

/*
 * A root's top, just watched: the nodes of other directory roots at its
 * path, in their trees, are its directory when their inode says so.
 */
static int same_found(state *s, const vigil__root *r) {
  size_t n = s->nsame;
  for (size_t i = 0; i < n; i++) {
    const vigil__node *o = s->same[i].node;
    const vigil__root *outer = s->same[i].top ? root_at(o) : NULL;
    if (!outer || outer == r || outer->is_file || outer->dead)
      continue;
    size_t olen = strlen(outer->abspath);
    if (olen == 1)
      olen = 0; /* "/" */
    if (strncmp(r->abspath, outer->abspath, olen) != 0 || r->abspath[olen] != '/')
      continue;
    vigil__node *k = (vigil__node *)o;
    for (const char *name = r->abspath + olen + 1; k && *name;) {
      size_t len = strcspn(name, "/");
      k = k->type == VIGIL__T_DIR ? child_named(k, name, len) : NULL;
      name += len + (name[len] == '/');
    }
    if (!k || k == o || !vigil__watched(k) ||
        (k->flags >> VIGIL__N_SRC_SHIFT) != (o->flags >> VIGIL__N_SRC_SHIFT) ||
        (k->ino && k->ino != (uint32_t)r->ino) || same_of(s, k))
      continue;
    if (same_add(s, k, r->dev, r->ino, 0) < 0)
      return -ENOMEM;
  }
  return 0;
}

/*
 * Notes dir, being watched through fd, if it is a root's top or the same
 * directory as another root's (one fstat, made only while several roots
 * poll).
 */
static int same_watch(state *s, vigil__node *dir, int fd) {
  const vigil__root *r = root_at(dir);
  if (r) {
    if (same_of(s, dir))
      return 0;
    int rc = same_add(s, dir, r->dev, r->ino, 1);
    if (rc == 0 && (rc = same_found(s, r)) < 0)
      same_forget(s, dir); /* what same_found added stays: each is a node watched */
    return rc;
  }
  same_forget(s, dir); /* watched again, it may be another directory now */
  struct stat st;
  if (s->same_tops < 2 || VIGIL__SYS(fstat(fd, &st)) < 0)
    return 0;
  const vigil__root *own = vigil__node_root(dir);
  for (size_t i = 0; i < s->nsame; i++) {
    const same_dir *e = &s->same[i];
    if (e->top && e->dev == (uint64_t)st.st_dev && e->ino == (uint64_t)st.st_ino &&
        root_at(e->node) != own)
      return same_add(s, dir, e->dev, e->ino, 0);
  }
  return 0;
}

/*
 * How many directories x's tree holds, x included, that p's tree holds
 * too, at the same names below p: those x and p share.
 */
static size_t same_below(const state *s, const vigil__node *x, const vigil__node *p) {
  typedef struct {
    const vigil__node *a, *b;
  } pair;
  pair *stack = vigil__malloc(16 * sizeof *stack);
  size_t n = 0, len = 0, cap = 16;
  if (!stack)
    return 1;
  stack[len++] = (pair){x, p};
  while (len) {
    pair at = stack[--len];
    n++;
    /* Both were listed in the same order, mostly: each search starts after the last match. */
    const vigil__node *from = vigil__node_first(at.b);
    for (const vigil__node *c = vigil__node_first(at.a); c; c = vigil__node_next(c)) {
      if (!mine(s, c))
        continue;
      const vigil__node *m = NULL;
      for (const vigil__node *k = from; k && !m; k = vigil__node_next(k))
        if (k->namelen == c->namelen &&
            memcmp(vigil__node_name(k), vigil__node_name(c), c->namelen) == 0)
          m = k;
      if (!m)
        m = child_named(at.b, vigil__node_name(c), c->namelen);
      if (!m || !mine(s, m))
        continue;
      from = vigil__node_next(m);
      if (len == cap) {
        pair *more = vigil__realloc(stack, cap * 2 * sizeof *stack);
        if (!more)
          break; /* a count a little high, rather than none */
        stack = more;
        cap *= 2;
      }
      stack[len++] = (pair){c, m};
    }
  }
  free(stack);
  return n;
}

/* ---- The backend. */

static void pass_end(state *s) {
  s->passing = 0;
  s->cur = NULL;
  s->nrecs = 0;
  s->names_len = 0;
}

static int po_open(void **out, vigil_os_fd_t *fd, const vigil__backend_config *cfg) {
  state *s = vigil__calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->dents = vigil__malloc(DENTS_SIZE);
  if (!s->dents) {
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
  for (size_t i = 0; i < s->nall; i++)
    free(s->all[i]);
  free(s->all);
  free(s->fresh);
  free(s->tops);
  free(s->same);
  free(s->recs);
  free(s->names);
  free(s->dents);
  free(s);
}

/*
 * Prints a directory being watched, from a listing of its own (the
 * descriptor's position is the core's), so that the first pass can tell a
 * change made after the core's listing. When it cannot be listed, the
 * first pass learns without reporting.
 */
static void learn_dir(state *s, vigil__node *d, int fd) {
  prints_drop(s, d);
  int dfd = VIGIL__SYS(openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd < 0)
    return;
  dir_cmp c = {0};
  s->nfresh = 0;
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
    fold(&c, &st);
    if (fresh_add(s, e.name, e.len, &st) < 0) {
      rc = -ENOMEM;
      break;
    }
  }
  list_end(&l);
  struct stat self;
  if (rc == 0 && VIGIL__SYS(fstat(dfd, &self)) == 0)
    prints_set(s, d, c.stamp ? c.stamp : 1, &self);
  close(dfd);
}

static int po_watch(void *st, vigil__node *dir, int fd) {
  state *s = st;
  int again = vigil__watched(dir);
  learn_dir(s, dir, fd);
  int rc = same_watch(s, dir, fd);
  if (again || rc < 0)
    return again ? 0 : rc;
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
      same_forget(s, dir);
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
  prints_drop(s, dir);
  same_forget(s, dir);
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
 * A read runs the pass when it is due, a slice at a time, and applies
 * what the pass found when its walk is over. Its wait_ms says when it
 * has more to do (0 while a pass is under way).
 */
static int po_read(void *st, vigil_t *v, size_t max_units, vigil__read_result *out) {
  state *s = st;
  (void)max_units;
  int64_t now = now_ms();
  if (!s->passing) {
    if (now < s->due_ms) {
      out->wait_ms = (int)(s->due_ms - now);
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
  out->wait_ms = s->passing || s->due_ms <= now ? 0 : (int)(s->due_ms - now);
  return 0;
}

/* The nodes that are dir's directory: those noted with its device and inode. */
static vigil__node *po_sharing(void *st, const vigil__node *dir, const vigil__node *after) {
  state *s = st;
  if (!vigil__watched(dir))
    return NULL;
  const same_dir *e = same_of(s, dir);
  if (!e)
    return after ? NULL : (vigil__node *)dir;
  size_t i = after ? same_pos(s, e->dev, e->ino, after) + 1 : same_pos(s, e->dev, e->ino, NULL);
  return i < s->nsame && s->same[i].dev == e->dev && s->same[i].ino == e->ino ? s->same[i].node
                                                                              : NULL;
}

/*
 * Directories, each counted once however many roots hold it. Of the
 * nodes noted as one directory, one of another root's tree (or else a
 * directory root's top) stands for it; every other root's top that is
 * that directory shares its whole tree with that node's, as far as the
 * two hold the same names.
 */
static size_t po_watches(void *st) {
  state *s = st;
  size_t n = s->watches;
  for (size_t i = 0, j; i < s->nsame; i = j) {
    const same_dir *p = NULL;
    int best = 3;
    for (j = i;
         j < s->nsame && s->same[j].dev == s->same[i].dev && s->same[j].ino == s->same[i].ino;
         j++) {
      const same_dir *e = &s->same[j];
      int rank = !e->top ? 0 : !root_at(e->node)->is_file ? 1 : 2;
      if (rank < best) {
        best = rank;
        p = e;
      }
    }
    for (size_t k = i; k < j; k++)
      if (s->same[k].top && &s->same[k] != p)
        n -= same_below(s, s->same[k].node, p->node);
  }
  return n;
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
