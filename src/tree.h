/*
 * The tree: vigil's model of what exists under each root.
 *
 * It is the single source of truth. Every kernel observation and every scan
 * result is applied to it, and an event is emitted only when the tree
 * actually changes; that one rule is what makes the stream free of
 * duplicates whether news came from the kernel or from a scan.
 *
 * Nodes hold a parent pointer and their name, never a full path: a path is
 * built on demand by walking up, so a directory renamed within the tree is
 * one re-parenting and every path below it is right at once.
 */
#ifndef VIGIL_TREE_H
#define VIGIL_TREE_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "arena.h"

typedef struct vigil__node vigil__node;
typedef struct vigil__dir vigil__dir;
typedef struct vigil__root vigil__root;

enum vigil__type {
  VIGIL__T_NONDIR = 0, /* not a directory, exact type not yet known */
  VIGIL__T_DIR,
  VIGIL__T_FILE,
  VIGIL__T_LINK,
  VIGIL__T_OTHER /* fifo, socket, device */
};

enum {
  VIGIL__N_HEAPNAME = 1u << 0, /* the name outgrew its inline room; see tree.c */
  VIGIL__N_SEEN = 1u << 1,     /* reconcile's mark, clear outside a reconcile pass */
  VIGIL__N_PARTIAL = 1u << 2,  /* a directory not yet (fully) watched and listed */
  VIGIL__N_WATCHED = 1u << 3,  /* a directory its backend watches (vigil__watch) */
  /* The rest: a watched directory's backend, an index into the instance's sources. */
  VIGIL__N_SRC_SHIFT = 4
};

/*
 * How many sources (backends in use) an instance can hold: a node names
 * its own in the bits of its flags above VIGIL__N_SRC_SHIFT. An instance
 * opens one source per backend it uses, so it never holds more than the
 * backends built in, and one more that the unit tests give; backends.c
 * checks at build time that they fit.
 */
#define VIGIL__SOURCES_MAX (1u << (8 - VIGIL__N_SRC_SHIFT))

/*
 * A directory's slot for the backend that watches it: what the backend
 * keeps there (inotify: its watch descriptor, and the next node that
 * shares that watch) is its own business; the core only zeroes it when
 * the node is made, and never reads it.
 */
typedef struct {
  void *ptr;
  int32_t num;
} vigil__slot;

/*
 * Directory-only state. It sits in the same block as the directory's node,
 * just before it, so a file carries none of it.
 */
struct vigil__dir {
  vigil__root *root; /* set on a root's top node only */
  vigil__slot slot;  /* the backend's (see vigil__slot) */
  int32_t child_;    /* first child, relative to the node (see below) */
  uint32_t nchild;
  uint32_t indexed; /* its children are in the child index (see tree.c) */
  /*
   * The low 32 bits of the inode number of the directory last opened,
   * watched and listed for this node (from its "." entry), or 0: what the
   * node holds is that directory's, which a rename's other end is checked
   * against (reidentify in apply.c).
   */
  uint32_t listed_ino;
};

/*
 * A node is 24 bytes plus its name. Links to other nodes are 32-bit
 * offsets in arena units relative to the node itself (0: none), which all
 * nodes of a tree can use because they live in one arena; the accessors
 * below turn them into pointers. Node addresses never change.
 */
struct vigil__node {
  int32_t parent_;   /* NULL for a root's top node */
  int32_t sib_next_; /* the parent's children form a doubly linked list */
  int32_t sib_prev_;
  uint32_t hnext; /* next in the child index's chain: an arena offset */
  uint32_t ino;   /* low 32 bits of the inode number; 0 when not known */
  uint8_t namelen;
  uint8_t type;
  uint8_t flags;
  uint8_t units; /* size of the node's arena block, in arena units */
  char name_[];  /* inline name; use vigil__node_name() */
};

static inline vigil__node *vigil__node_rel(const vigil__node *n, int32_t off) {
  return off ? (vigil__node *)(void *)((char *)(uintptr_t)n + (ptrdiff_t)off * VIGIL__ARENA_UNIT)
             : NULL;
}

static inline int32_t vigil__node_relof(const vigil__node *n, const vigil__node *to) {
  return to ? (int32_t)(((const char *)to - (const char *)n) / VIGIL__ARENA_UNIT) : 0;
}

static inline vigil__node *vigil__node_parent(const vigil__node *n) {
  return vigil__node_rel(n, n->parent_);
}

static inline vigil__node *vigil__node_next(const vigil__node *n) {
  return vigil__node_rel(n, n->sib_next_);
}

static inline vigil__dir *vigil__node_dir(const vigil__node *n) {
  return n->type == VIGIL__T_DIR ? (vigil__dir *)(void *)((char *)(uintptr_t)n - sizeof(vigil__dir))
                                 : NULL;
}

/* The backend's slot of a directory node. */
static inline vigil__slot *vigil__node_slot(const vigil__node *n) {
  return &vigil__node_dir(n)->slot;
}

/* A node's type from a listing's d_type (DT_UNKNOWN: VIGIL__T_OTHER). */
static inline int vigil__type_of_dtype(unsigned char d_type) {
  switch (d_type) {
  case DT_DIR:
    return VIGIL__T_DIR;
  case DT_REG:
    return VIGIL__T_FILE;
  case DT_LNK:
    return VIGIL__T_LINK;
  default:
    return VIGIL__T_OTHER;
  }
}

/* A node's type from stat's st_mode. */
static inline int vigil__type_of_mode(mode_t m) {
  if (S_ISDIR(m))
    return VIGIL__T_DIR;
  if (S_ISREG(m))
    return VIGIL__T_FILE;
  if (S_ISLNK(m))
    return VIGIL__T_LINK;
  return VIGIL__T_OTHER;
}

/*
 * Is the entry on disk (its type, and its inode number or 0) the one node
 * n holds under that name? A type or inode the node does not know yet
 * matches.
 */
static inline int vigil__same_entry(const vigil__node *n, int type, uint64_t ino) {
  if ((n->type == VIGIL__T_DIR) != (type == VIGIL__T_DIR))
    return 0;
  if (n->type != VIGIL__T_NONDIR && n->type != type)
    return 0;
  return !n->ino || !ino || n->ino == (uint32_t)ino;
}

/* Is n a directory its backend watches? */
static inline int vigil__watched(const vigil__node *n) {
  return (n->flags & VIGIL__N_WATCHED) != 0;
}

/* The first child of a directory node. */
static inline vigil__node *vigil__node_first(const vigil__node *n) {
  return vigil__node_rel(n, vigil__node_dir(n)->child_);
}

/*
 * A root. A directory root's top node is the directory itself. A file
 * root's top node is its parent directory (the "holder"): the kernel
 * cannot watch a name, only a directory, so the holder is watched and
 * only the one child named like the file is kept in the tree.
 */
struct vigil__root {
  char *given;       /* the path exactly as the caller gave it */
  size_t prefix_len; /* length of given without trailing slashes (but "/" stays) */
  char *dirpath;     /* a file root's parent directory as given (abspath resolves it) */
  char *base;        /* a file root's name in that directory */
  /*
   * Its exclude patterns: its own (own_filter) or the instance's, shared;
   * NULL when nothing is excluded. They are relative to this root.
   */
  const struct vigil__filter *filter;
  struct vigil__filter *own_filter;
  /*
   * Its base patterns, judged below its ignore files (vigil_root_options
   * .base_exclude); NULL when there are none.
   */
  struct vigil__filter *base_filter;
  char *ignore_file; /* the name of its per-directory ignore files, or NULL */
  size_t ignore_len;
  /* Its directories' ignore files, sorted by node address (src/ignore.c). */
  struct vigil__ignore *ignores;
  size_t nignores, ignores_cap;
  /*
   * The top directory's absolute path with every link resolved, once, at
   * vigil_add: every directory below is opened relative to it, so a
   * chdir() of the program changes nothing. No descriptor of it is held:
   * an open directory would hold back the kernel's report of its deletion.
   */
  char *abspath;
  unsigned long dev; /* the device of the top, to tell an unmount */
  uint64_t ino;      /* the inode of the top: with dev (and base), what the root is */
  /* The directory above abspath at vigil_add (up_ino 0 for "/"): tells a rename above the root. */
  unsigned long up_dev;
  uint64_t up_ino;
  vigil__node *top;
  /*
   * A file root whose file went away waits until then (CLOCK_MONOTONIC
   * ms; 0: not waiting) for a file to come back under its name, as when
   * an editor saves (see file_root.c).
   */
  int64_t file_due;
  vigil__root *file_next;    /* the next root waiting, in the order they began */
  unsigned file_by_move : 1; /* it was renamed away rather than deleted */
  unsigned announce : 1;     /* uncovered with its entries removed: report them anew */
  unsigned is_file : 1;
  unsigned norecurse : 1;
  unsigned dead : 1; /* gone from disk; the caller will see no more of it */
  unsigned src : 4;  /* its backend: an index into the instance's sources */
  /*
   * Its backend is "auto"'s choice, by file system (fstype.c): so is the
   * backend of each mount point found below it.
   */
  unsigned auto_backend : 1;
  /*
   * Why "auto" polls it although its file system is local: the error
   * that kept the preferred backend from it (VIGIL_EWATCHLIMIT,
   * VIGIL_EINSTLIMIT, -ENOSYS...), or 0.
   */
  int fallback;
  vigil__root *next;
};

/* The nodes, and the instance-wide index of children by (parent, name). */
typedef struct {
  vigil__arena arena;
  uint32_t *buckets; /* arena offsets of chain heads */
  size_t mask;       /* bucket count - 1 */
  size_t indexed;    /* nodes in the index */
  size_t count;      /* nodes linked anywhere */
  size_t dirs;
} vigil__tree;

int vigil__tree_init(vigil__tree *t);
void vigil__tree_free(vigil__tree *t);

static inline const char *vigil__node_name(const vigil__node *n) {
  if (n->flags & VIGIL__N_HEAPNAME) {
    int32_t off;
    __builtin_memcpy(&off, n->name_, sizeof off);
    return (const char *)vigil__node_rel(n, off);
  }
  return n->name_;
}

/*
 * Makes a node (with its directory state if type is VIGIL__T_DIR). It is
 * not linked anywhere until vigil__tree_link. Returns NULL when out of
 * memory or when the name is longer than NAME_MAX.
 */
vigil__node *vigil__node_new(vigil__tree *t, const char *name, size_t len, int type, uint64_t ino);
void vigil__node_free(vigil__tree *t, vigil__node *n);

/* Links n as a child of parent (which must be a directory). */
int vigil__tree_link(vigil__tree *t, vigil__node *parent, vigil__node *n);
/* Unlinks n from its parent; n keeps its own children. */
void vigil__tree_unlink(vigil__tree *t, vigil__node *n);
/* Finds a child of dir by name, or NULL. */
vigil__node *vigil__tree_find(vigil__tree *t, const vigil__node *dir, const char *name, size_t len);
/*
 * Moves n under new_parent with a new name; 0 or -ENOMEM (then n is
 * unchanged). n may be unlinked, and is then linked.
 */
int vigil__tree_move(vigil__tree *t, vigil__node *n, vigil__node *new_parent, const char *name,
                     size_t len);
/* Counts the nodes under n, n included. */
size_t vigil__tree_count(const vigil__node *n);

/*
 * Appends the path of n (the root as given, joined with the relative
 * path) to *buf, growing it; 0 or -ENOMEM. A file root's file has the
 * given path itself.
 */
int vigil__node_path(const vigil__node *n, char **buf, size_t *len, size_t *cap);
/* Appends the path of n relative to its root ("" for the top). */
int vigil__node_relpath(const vigil__node *n, char **buf, size_t *len, size_t *cap);
/* The root that n belongs to. */
vigil__root *vigil__node_root(const vigil__node *n);

/* A byte buffer that grows; used for paths and for the event queue. */
int vigil__buf_grow(char **buf, size_t *cap, size_t need);

#endif /* VIGIL_TREE_H */
