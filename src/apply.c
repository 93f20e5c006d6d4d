/*
 * Observations, applied to the tree.
 *
 * Each function here takes one piece of news from a backend ("in directory
 * D, name N appeared"), changes the tree accordingly, and emits an event
 * only when the tree changed. A scan (reconcile.c) may already have
 * reported what the kernel reports later, and the kernel may report what a
 * scan already found; checking the tree first is what keeps the stream
 * free of duplicates either way.
 */
#include "instance.h"
#include "admit.h"
#include "apply.h"
#include "drop.h"
#include "emit.h"
#include "fault.h"
#include "file_root.h"
#include "ignore.h"
#include "mounts.h"
#include "reconcile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * A watched directory's source is in its flags; one not watched (yet) has
 * its parent's, up to its root's, and one in a subtree kept aside the
 * instance's default.
 */
static unsigned src_index(const vigil__node *dir) {
  for (const vigil__node *n = dir; n; n = vigil__node_parent(n)) {
    if (vigil__watched(n))
      return (unsigned)n->flags >> VIGIL__N_SRC_SHIFT;
    if (!vigil__node_parent(n)) {
      const vigil__root *r = vigil__node_dir(n)->root;
      return r ? r->src : 0;
    }
  }
  return 0;
}

vigil__source *vigil__src_of(vigil_t *v, const vigil__node *dir) {
  return &v->src[src_index(dir)];
}

/*
 * A backend that watches each directory on its own is asked for every
 * one; any other only for the top of what it watches (a root's top, or a
 * mount point given another backend than its parent's), whose watch
 * covers the directories below, which are then watched as far as the
 * core knows.
 */
static int own_watch(const vigil__source *s, unsigned i, const vigil__node *dir) {
  const vigil__node *parent = vigil__node_parent(dir);
  return (s->be->caps & VIGIL__CAP_DIR_WATCHES) || !parent || src_index(parent) != i;
}

int vigil__watch(vigil_t *v, vigil__node *dir, int fd) {
  return vigil__watch_as(v, dir, fd, src_index(dir));
}

int vigil__watch_as(vigil_t *v, vigil__node *dir, int fd, unsigned i) {
  vigil__source *s = &v->src[i];
  int rc = own_watch(s, i, dir) ? s->be->watch(s->state, dir, fd) : 0;
  if (rc == 0)
    dir->flags = (uint8_t)((dir->flags & ((1u << VIGIL__N_SRC_SHIFT) - 1)) | VIGIL__N_WATCHED |
                           (i << VIGIL__N_SRC_SHIFT));
  return rc;
}

void vigil__unwatch(vigil_t *v, vigil__node *dir) {
  if (!vigil__watched(dir))
    return;
  unsigned i = src_index(dir);
  vigil__source *s = &v->src[i];
  /* Judged while still watched, as when the watch was placed. */
  int own = own_watch(s, i, dir);
  dir->flags &= (uint8_t)~VIGIL__N_WATCHED;
  if (own)
    s->be->unwatch(s->state, dir);
}

void vigil__obs_unwatched(vigil_t *v, vigil__node *dir) {
  (void)v;
  dir->flags &= (uint8_t)~VIGIL__N_WATCHED;
}

void vigil__obs_lost(vigil_t *v) {
  v->need_repair = 1;
}

/*
 * Listed as a directory that just appeared is: every entry that differs
 * from the tree is reported, and nothing is reported modified, which is
 * for the backend to say (a repair would report every file).
 */
int vigil__obs_dir_changed(vigil_t *v, vigil__node *dir) {
  if (vigil__detached(dir))
    return 0;
  return vigil__reconcile(v, dir, VIGIL__SCAN_NEW);
}

vigil__tree *vigil__tree_of(vigil_t *v) {
  return &v->tree;
}

int vigil__obs_admits(vigil_t *v, const vigil__node *dir, const char *name, size_t len,
                      int is_dir) {
  return vigil__admit(v, dir, name, len, is_dir);
}

int vigil__xchg_held(const vigil_t *v) {
  return v->xchg_len != 0;
}

void vigil__xchg_suspect(vigil_t *v, int on) {
  v->xchg_suspect = on != 0;
}

static int live(const vigil__node *dir) {
  const vigil__root *r = vigil__node_root(dir);
  return r && !r->dead;
}

/* The inode now at dir/name, or 0 if it cannot be known. */
/*
 * Stats dir/name: 0, or -ENOENT when dir was opened but holds no such
 * entry, or another negative errno when dir itself could not be opened
 * (it may have been renamed since: its path is the tree's).
 */
static int stat_at(vigil_t *v, const vigil__node *dir, const char *name, size_t len,
                   struct stat *st) {
  char buf[NAME_MAX + 1];
  if (len > NAME_MAX)
    return -ENAMETOOLONG;
  memcpy(buf, name, len);
  buf[len] = '\0';
  int dfd = vigil__open_dir(v, dir);
  if (dfd < 0)
    return dfd == -ENOENT || dfd == VIGIL_EROOTMOVED ? -ESTALE : dfd;
  int rc = VIGIL__SYS(fstatat(dfd, buf, st, AT_SYMLINK_NOFOLLOW)) < 0 ? -ENOENT : 0;
  close(dfd);
  return rc;
}

static uint64_t ino_at(vigil_t *v, const vigil__node *dir, const char *name, size_t len) {
  struct stat st;
  return stat_at(v, dir, name, len, &st) < 0 ? 0 : st.st_ino;
}

/*
 * Exchanges. renameat2(RENAME_EXCHANGE) swaps two names in one step, and
 * the kernel reports it as two renames back to back, a -> b and then
 * b -> a, each with a cookie of its own. Read as two renames, the first
 * would replace b and the second move the entry back, losing the real b.
 * So every rename is remembered until the next record (struct vigil__xchg),
 * with the entry it replaced kept aside, unlinked but whole, subtree and
 * watches included. A rename that is the exact reverse of the one before
 * is the second half of an exchange, unless it is a plain rename back
 * (exchanged() tells them apart): the entry kept aside comes back under
 * the other name.
 *
 * An exchange is reported as "moved a -> b" (replay replaces b) and then
 * "created" for a and everything now below it: replay holds with the
 * kinds every reader knows, and nothing is invented.
 */
int vigil__detached(const vigil__node *n) {
  const vigil__node *p;
  while ((p = vigil__node_parent(n)))
    n = p;
  return !vigil__node_dir(n) || !vigil__node_dir(n)->root;
}

static struct vigil__xchg *xchg_add(vigil_t *v, vigil__node *sdir, const char *sname, size_t slen,
                                    vigil__node *tdir, const char *tname, size_t tlen,
                                    int s_isdir) {
  if (slen > NAME_MAX || tlen > NAME_MAX)
    return NULL;
  if (v->xchg_len == v->xchg_cap) {
    size_t ncap = v->xchg_cap ? v->xchg_cap * 2 : 4;
    struct vigil__xchg *nx = vigil__realloc(v->xchg, ncap * sizeof *nx);
    if (!nx) {
      /* Without the record an exchange would read as two renames: rescan. */
      v->need_repair = 1;
      return NULL;
    }
    v->xchg = nx;
    v->xchg_cap = ncap;
  }
  struct vigil__xchg *x = &v->xchg[v->xchg_len++];
  x->sdir = sdir;
  x->tdir = tdir;
  x->kept = NULL;
  x->s_isdir = s_isdir;
  x->old = 0;
  x->slen = (uint8_t)slen;
  x->tlen = (uint8_t)tlen;
  if (slen)
    memcpy(x->sname, sname, slen);
  memcpy(x->tname, tname, tlen);
  return x;
}

void vigil__xchg_age(vigil_t *v) {
  for (size_t i = 0; i < v->xchg_len; i++)
    v->xchg[i].old = 1;
}

static void xchg_remove(vigil_t *v, size_t i) {
  v->xchg[i] = v->xchg[--v->xchg_len];
}

void vigil__xchg_release(vigil_t *v, int only_old) {
  for (size_t i = 0; i < v->xchg_len;) {
    if (only_old && !v->xchg[i].old) {
      i++;
      continue;
    }
    /* Its removal is already in the stream: "moved" replaced it, or removed said so. */
    vigil__node *kept = v->xchg[i].kept;
    xchg_remove(v, i);
    if (kept)
      vigil__drop(v, kept, 0);
  }
}

/* The earlier rename that this one (sdir/sname -> tdir/tname) reverses, or NULL. */
static struct vigil__xchg *xchg_reverse_of(vigil_t *v, const vigil__node *sdir, const char *sname,
                                           size_t slen, const vigil__node *tdir, const char *tname,
                                           size_t tlen) {
  for (size_t i = 0; i < v->xchg_len; i++) {
    struct vigil__xchg *x = &v->xchg[i];
    if (x->old && x->sdir == tdir && x->tdir == sdir && x->slen == tlen && x->tlen == slen &&
        memcmp(x->sname, tname, tlen) == 0 && memcmp(x->tname, sname, slen) == 0)
      return x;
  }
  return NULL;
}

/* Does the disk hold an entry of this type (and inode, when n knows it) at dir/name? */
static int holds(vigil_t *v, const vigil__node *dir, const char *name, size_t len, int is_dir,
                 const vigil__node *n) {
  struct stat st;
  int rc = stat_at(v, dir, name, len, &st);
  if (rc == -ENOENT)
    return 0;
  if (rc < 0) {
    /*
     * The directory is not where the tree has it (renamed since, say):
     * the disk cannot tell, and a rescan will.
     */
    v->need_repair = 1;
    return 0;
  }
  if (!S_ISDIR(st.st_mode) != !is_dir)
    return 0;
  return !n || !n->ino || n->ino == (uint32_t)st.st_ino;
}

/*
 * Is the rename x (a -> b), followed at once by b -> a (whose entry has
 * type b_isdir), an exchange, or two renames there and back? The records
 * tell when they can: both halves of a rename there and back carry the
 * type of the one entry, and a directory replaced by a rename gets an
 * IN_ATTRIB record right after it (the kernel's link count change), which
 * would have let the kept one go before this rename. Otherwise (two files,
 * or a directory without a watch) the disk tells: a rename back leaves b
 * empty, an exchange leaves there the entry that went to b. A later change
 * of b that misleads this check also comes as records, which then say
 * what b is.
 */
static int exchanged(vigil_t *v, const struct vigil__xchg *x, int b_isdir) {
  if (!live(x->sdir) || !live(x->tdir))
    return 0;
  if (!b_isdir != !x->s_isdir)
    return 1;
  if (x->kept && x->kept->type == VIGIL__T_DIR && vigil__watched(x->kept))
    return 1;
  const vigil__node *at_b = vigil__tree_find(&v->tree, x->tdir, x->tname, x->tlen);
  return holds(v, x->tdir, x->tname, x->tlen, x->s_isdir, at_b);
}

/*
 * A directory node turned out to hold another directory than the one at
 * its name: what it holds is reported removed, and the directory at its
 * name is watched and listed in its place.
 */
static int reidentify(vigil_t *v, vigil__node *d) {
  while (vigil__node_first(d))
    vigil__drop(v, vigil__node_first(d), 1);
  vigil__unwatch(v, d);
  vigil__node_dir(d)->listed_ino = 0;
  d->ino = 0;
  return vigil__reconcile(v, d, VIGIL__SCAN_NEW);
}

static int appeared(vigil_t *v, vigil__node *dir, const char *name, size_t len, int is_dir,
                    enum vigil__how how) {
  if (!live(dir) || !vigil__admit(v, dir, name, len, is_dir))
    return 0;
  vigil__root *r = vigil__node_root(dir);
  vigil__node *old = vigil__tree_find(&v->tree, dir, name, len);
  if (old && r->is_file && !vigil__file_back(v, r, old, is_dir, how))
    return 0;
  if (old && !r->is_file) {
    /* A create for an entry we hold: a scan of a new directory saw it first. */
    if (how == VIGIL__BY_CREATE)
      return 0;
    /*
     * A rename from outside onto an entry we hold replaces it, unless the
     * entry is that very inode, found by the scan of a new directory.
     */
    uint64_t ino = ino_at(v, dir, name, len);
    if (ino && (uint32_t)ino == old->ino)
      return 0;
    vigil__drop(v, old, 1);
  }
  vigil__node *n = vigil__node_new(&v->tree, name, len, is_dir ? VIGIL__T_DIR : VIGIL__T_NONDIR, 0);
  if (!n) {
    v->need_repair = 1;
    return -ENOMEM;
  }
  vigil__tree_link(&v->tree, dir, n);
  vigil__emit(v, VIGIL_CREATED, how == VIGIL__BY_MOVE ? VIGIL_BY_MOVE : 0, n, 0);
  /* It may be the first half of an exchange with an entry of another root. */
  if (how == VIGIL__BY_MOVE)
    xchg_add(v, NULL, "", 0, dir, name, len, is_dir);
  if (is_dir && vigil__should_descend(dir))
    return vigil__reconcile(v, n, VIGIL__SCAN_NEW);
  return 0;
}

/*
 * Each observation of a name is also news about the directory's ignore
 * file when that is the name; the file is looked at after the entry
 * itself is applied, whether or not the entry is admitted.
 */
int vigil__obs_appeared(vigil_t *v, vigil__node *dir, const char *name, size_t len, int is_dir,
                        enum vigil__how how) {
  int rc = appeared(v, dir, name, len, is_dir, how);
  return rc < 0 ? rc : vigil__ignore_touched(v, dir, name, len);
}

/*
 * The rename just applied took the entry away from dir/name, reversing
 * the rename before it with other records in between. If the name still
 * holds an entry, that was an exchange whose halves were not adjacent,
 * and the entry the first half replaced is lost to the tree: the stream
 * says so with an overflow, and the rescan after it repairs.
 */
static void suspect_exchange(vigil_t *v, const vigil__node *dir, const char *name, size_t len) {
  struct stat st;
  if (live(dir) && stat_at(v, dir, name, len, &st) != -ENOENT)
    v->need_repair = 1;
}

/*
 * A rename takes n out of this root just after another rename put it at
 * dir/name. If the disk still holds an entry of its type there, the two
 * renames are an exchange with another root, and what left is the entry
 * the first one already replaced, whose removal is in the stream.
 */
static int xchg_second_half_out(vigil_t *v, const vigil__node *dir, const char *name, size_t len,
                                const vigil__node *n) {
  for (size_t i = 0; i < v->xchg_len; i++) {
    const struct vigil__xchg *x = &v->xchg[i];
    if (x->old && x->tdir == dir && x->tlen == len && memcmp(x->tname, name, len) == 0)
      return holds(v, dir, name, len, n->type == VIGIL__T_DIR, n);
  }
  return 0;
}

static int gone(vigil_t *v, vigil__node *dir, const char *name, size_t len, enum vigil__how how) {
  if (!live(dir))
    return 0;
  vigil__node *n = vigil__tree_find(&v->tree, dir, name, len);
  if (!n)
    return 0;
  vigil__root *r = vigil__node_root(dir);
  if (r->is_file) {
    vigil__file_gone(v, r, how);
    return 0;
  }
  if (how == VIGIL__BY_MOVE && xchg_second_half_out(v, dir, name, len, n))
    return 0;
  if (how == VIGIL__BY_MOVE && v->xchg_suspect)
    suspect_exchange(v, dir, name, len);
  if (how == VIGIL__BY_MOVE) {
    /* Children first, as always; only the top says it was moved out. */
    while (vigil__node_dir(n) && vigil__node_first(n))
      vigil__drop(v, vigil__node_first(n), 1);
    vigil__emit(v, VIGIL_REMOVED, VIGIL_BY_MOVE, n, 0);
    vigil__drop(v, n, 0);
    return 0;
  }
  vigil__drop(v, n, 1);
  return 0;
}

int vigil__obs_gone(vigil_t *v, vigil__node *dir, const char *name, size_t len,
                    enum vigil__how how) {
  int rc = gone(v, dir, name, len, how);
  return rc < 0 ? rc : vigil__ignore_touched(v, dir, name, len);
}

/*
 * What follows the move of a directory: a listing if it was never listed,
 * the directories below it that vanished with it, and the exclude
 * patterns, which can depend on the path, judged again under its new one.
 */
static int after_dir_move(vigil_t *v, vigil__node *src, vigil__node *tdir, vigil__root *root) {
  if (src->type != VIGIL__T_DIR || !vigil__should_descend(tdir))
    return 0;
  /*
   * A directory renamed before its watch or listing was in place (it
   * vanished from under its old name) is listed now, under the new one.
   */
  int was_partial = (src->flags & VIGIL__N_PARTIAL) != 0;
  int rc = 0;
  if (was_partial)
    rc = vigil__reconcile(v, src, VIGIL__SCAN_NEW);
  /* So is one below it that vanished when this directory was renamed. */
  if (rc == 0 && v->vanished_len)
    rc = vigil__vanished_retry(v);
  if (rc < 0 || was_partial)
    return rc;
  /*
   * Exclude patterns can depend on the path ("/build", "src/gen"), so what
   * lies below a moved directory is judged again under its new name.
   */
  if (vigil__root_filtered(root))
    return vigil__reconcile(v, src, VIGIL__SCAN_REFILTER);
  return 0;
}

/*
 * The second half of an exchange (x was a -> b; this is b -> a, and b's
 * old entry has type b_isdir): the entry kept aside comes back as a, with
 * its subtree and watches, and is reported created with all below it.
 * When it was not kept (it was not in the tree, or in another root), a is
 * whatever is there now, listed like a tree moved in.
 */
static int exchange_back(vigil_t *v, struct vigil__xchg *x, int b_isdir) {
  vigil__node *pa = x->sdir, *pb = x->tdir, *kept = x->kept;
  char name[NAME_MAX + 1];
  size_t len = x->slen;
  memcpy(name, x->sname, len);
  xchg_remove(v, (size_t)(x - v->xchg));
  if (kept) {
    vigil__root *r = vigil__node_root(pa);
    if (!r->is_file && r == vigil__node_root(pb) && (kept->type == VIGIL__T_DIR) == !!b_isdir &&
        vigil__admit(v, pa, name, len, b_isdir) && !vigil__tree_find(&v->tree, pa, name, len) &&
        vigil__tree_move(&v->tree, kept, pa, name, len) == 0) {
      vigil__emit_created_tree(v, kept, VIGIL_BY_MOVE);
      return after_dir_move(v, kept, pa, r);
    }
    vigil__drop(v, kept, 0);
  }
  return appeared(v, pa, name, len, b_isdir, VIGIL__BY_MOVE);
}

static int moved(vigil_t *v, vigil__node *sdir, const char *sname, size_t slen, vigil__node *tdir,
                 const char *tname, size_t tlen, int is_dir) {
  if (v->xchg_len) {
    struct vigil__xchg *rev = xchg_reverse_of(v, sdir, sname, slen, tdir, tname, tlen);
    if (rev && exchanged(v, rev, is_dir))
      return exchange_back(v, rev, is_dir);
  }
  vigil__root *sroot = vigil__node_root(sdir), *troot = vigil__node_root(tdir);
  vigil__node *src = live(sdir) ? vigil__tree_find(&v->tree, sdir, sname, slen) : NULL;
  int admitted = live(tdir) && vigil__admit(v, tdir, tname, tlen, is_dir);
  struct vigil__xchg *x = xchg_add(v, sdir, sname, slen, tdir, tname, tlen, is_dir);
  size_t xi = x ? (size_t)(x - v->xchg) : SIZE_MAX;

  /*
   * A move is one event only when both ends are in the same root and the
   * target is watched; otherwise the source went away and the target
   * appeared, which is exactly what replay needs.
   */
  if (!src || !admitted || sroot != troot || sroot->is_file) {
    if (src)
      gone(v, sdir, sname, slen, VIGIL__BY_MOVE);
    if (admitted)
      return appeared(v, tdir, tname, tlen, is_dir, VIGIL__BY_MOVE);
    return 0;
  }
  vigil__node *old = vigil__tree_find(&v->tree, tdir, tname, tlen);
  if (old == src)
    return 0;
  /*
   * The rename replaced the target. Replay of "moved" replaces it too;
   * without moved in the mask, its removal must be said. The entry is kept
   * aside until the next record, in case this is half of an exchange
   * (with ignore files in play it is not: their patterns are tied to it).
   */
  if (old) {
    if (!vigil__moved_asked(v))
      vigil__emit_removed_tree(v, old, 0);
    if (xi != SIZE_MAX && !sroot->nignores) {
      vigil__tree_unlink(&v->tree, old);
      v->xchg[xi].kept = old;
    } else {
      vigil__drop(v, old, 0);
    }
  }
  int rc = vigil__emit_move(v, src, tdir, tname, tlen);
  if (v->xchg_suspect)
    suspect_exchange(v, sdir, sname, slen);
  if (rc < 0 || src->type != VIGIL__T_DIR || !vigil__should_descend(tdir))
    return rc;
  /*
   * The node may hold another directory than the one renamed: a directory
   * is opened by its name after it was announced or listed, and the name
   * may hold a newer one by then (mkdir a; mv a b; mkdir a). The rename
   * took the older one to tname, so the node is made to hold what is
   * there now. The inode of what was listed comes from its "." entry, so
   * it compares with stat's on any file system (readdir's d_ino of an
   * entry does not, on FAT or for a btrfs subvolume).
   */
  uint32_t listed = vigil__node_dir(src)->listed_ino;
  if (listed && !(src->flags & VIGIL__N_PARTIAL)) {
    uint64_t ino = ino_at(v, tdir, tname, tlen);
    if (ino && (uint32_t)ino != listed)
      return reidentify(v, src);
  }
  return after_dir_move(v, src, tdir, sroot);
}

int vigil__obs_moved(vigil_t *v, vigil__node *sdir, const char *sname, size_t slen,
                     vigil__node *tdir, const char *tname, size_t tlen, int is_dir) {
  int rc = moved(v, sdir, sname, slen, tdir, tname, tlen, is_dir);
  if (rc == 0)
    rc = vigil__ignore_touched(v, sdir, sname, slen);
  if (rc == 0)
    rc = vigil__ignore_touched(v, tdir, tname, tlen);
  return rc;
}

static int changed(vigil_t *v, vigil__node *dir, const char *name, size_t len, vigil_kind kind) {
  if (!live(dir))
    return 0;
  if (!name) {
    /*
     * A directory's own watch reports its metadata changes, and so does
     * its parent's. Only a root's top has no watched parent.
     */
    if (vigil__node_parent(dir) || vigil__node_root(dir)->is_file)
      return 0;
    return vigil__emit(v, kind, 0, dir, 0);
  }
  vigil__node *n = vigil__tree_find(&v->tree, dir, name, len);
  if (!n)
    return 0;
  return vigil__emit(v, kind, 0, n, 0);
}

int vigil__obs_changed(vigil_t *v, vigil__node *dir, const char *name, size_t len,
                       vigil_kind kind) {
  int rc = changed(v, dir, name, len, kind);
  return rc < 0 || !name ? rc : vigil__ignore_touched(v, dir, name, len);
}

int vigil__obs_self_gone(vigil_t *v, vigil__node *dir) {
  /*
   * Below the top, the parent's watch reports the same removal or move.
   * A directory kept aside for an exchange is moved by one too.
   */
  if (vigil__node_parent(dir) || !vigil__node_dir(dir)->root)
    return 0;
  vigil__xchg_release(v, 0);
  vigil__root_gone(v, vigil__node_dir(dir)->root);
  return 0;
}

int vigil__obs_top_lost(vigil_t *v, vigil__node *dir, int err) {
  vigil__root *r = vigil__node_parent(dir) ? NULL : vigil__node_dir(dir)->root;
  if (!r || r->dead)
    return 0;
  /*
   * With no watch to follow the directory, nothing in it can be seen any
   * more: the root ends, as a rescan ends it when its path leads
   * elsewhere, and the error first says why. A file root's is on its file.
   */
  int rc = 0;
  if (err == VIGIL_EROOTMOVED) {
    const vigil__node *on = r->is_file && vigil__node_first(dir) ? vigil__node_first(dir) : dir;
    rc = vigil__emit(v, VIGIL_ERROR, 0, on, err);
  }
  vigil__obs_self_gone(v, dir);
  return rc;
}

int vigil__obs_unmounted(vigil_t *v, vigil__node *dir) {
  vigil__root *r = vigil__node_root(dir);
  if (!vigil__node_parent(dir) || !vigil__root_intact(r)) {
    /* The root's own file system went away (its record may come later). */
    vigil__root_gone(v, r);
    return 0;
  }
  /*
   * A file system mounted inside the tree went away. What is now visible
   * at that path is whatever lies beneath the mount point, which the
   * mount table tells (mounts.c); without it, a repair pass reports the
   * difference and re-places the watches.
   */
  if (vigil__mounts_stale(v) < 0)
    v->need_repair = 1;
  return 0;
}

int vigil__root_intact(const vigil__root *r) {
  struct stat st;
  if (r->dead)
    return 0;
  if (stat(r->abspath, &st) < 0)
    return 0;
  return (uint32_t)st.st_ino == r->top->ino && (unsigned long)st.st_dev == r->dev;
}

int vigil__obs_watch_lost(vigil_t *v, vigil__node *dir) {
  /*
   * For a directory below the top this is normal: the kernel drops the
   * watch of a deleted directory before its parent reports the deletion.
   */
  if (!vigil__node_parent(dir))
    vigil__root_gone(v, vigil__node_dir(dir)->root);
  return 0;
}

int vigil__obs_overflow(vigil_t *v) {
  vigil__sources_flush(v);
  vigil__xchg_release(v, 0);
  /* The rescan starts from what is known: a file not back yet is removed. */
  vigil__files_settle(v, INT64_MAX, NULL);
  v->need_repair = 0;
  vigil__emit_path(v, VIGIL_OVERFLOW, 0, NULL, 0);
  for (vigil__root *r = v->roots; r; r = r->next) {
    if (r->dead)
      continue;
    int rc = vigil__reconcile(v, r->top, VIGIL__SCAN_REPAIR);
    if (rc < 0)
      return rc;
  }
  return 0;
}
