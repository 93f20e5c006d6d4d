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

#include <stddef.h>
#include <stdint.h>

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
  VIGIL__N_PARTIAL = 1u << 2   /* a directory not yet (fully) watched and listed */
};

/* Directory-only state; files carry none of it. */
struct vigil__dir {
  vigil__node *child;   /* first child; siblings are linked through the nodes */
  vigil__node *wd_next; /* next directory node sharing this kernel watch */
  vigil__root *root;    /* set on a root's top node only */
  int wd;               /* kernel watch descriptor, -1 when not watched */
  uint32_t nchild;
};

struct vigil__node {
  vigil__node *parent; /* NULL for a root's top node */
  vigil__node *hnext;  /* chain in the instance-wide child index */
  vigil__node *sib_next, *sib_prev;
  vigil__dir *dir; /* NULL unless type is VIGIL__T_DIR */
  uint64_t ino;    /* 0 when not known */
  uint32_t hash;   /* hash of (parent, name), kept for resizing the index */
  uint16_t namelen;
  uint8_t type;
  uint8_t flags;
  char name_[]; /* inline name; use vigil__node_name() */
};

/*
 * A root. A directory root's top node is the directory itself. A file
 * root's top node is its parent directory (the "holder"): the kernel
 * cannot watch a name, only a directory, so the holder is watched and
 * only the one child named like the file is kept in the tree.
 */
struct vigil__root {
  char *given;       /* the path exactly as the caller gave it */
  size_t prefix_len; /* length of given without trailing slashes (but "/" stays) */
  char *dirpath;     /* a file root's parent directory, for system calls */
  char *base;        /* a file root's name in that directory */
  unsigned long dev; /* the device of the top, to tell an unmount */
  vigil__node *top;
  unsigned is_file : 1;
  unsigned norecurse : 1;
  unsigned dead : 1; /* gone from disk; the caller will see no more of it */
  vigil__root *next;
};

/* The instance-wide index of children, keyed by (parent pointer, name). */
typedef struct {
  vigil__node **buckets;
  size_t mask; /* bucket count - 1 */
  size_t count;
  size_t dirs;
} vigil__tree;

int vigil__tree_init(vigil__tree *t);
void vigil__tree_free(vigil__tree *t);

static inline const char *vigil__node_name(const vigil__node *n) {
  if (n->flags & VIGIL__N_HEAPNAME) {
    const char *p;
    __builtin_memcpy(&p, n->name_, sizeof p);
    return p;
  }
  return n->name_;
}

/*
 * Makes a node. It is not linked anywhere until vigil__tree_link. Returns
 * NULL when out of memory.
 */
vigil__node *vigil__node_new(const char *name, size_t len, int type, uint64_t ino);
void vigil__node_free(vigil__node *n);

/* Links n as a child of parent (which must be a directory). */
int vigil__tree_link(vigil__tree *t, vigil__node *parent, vigil__node *n);
/* Unlinks n from its parent; n keeps its own children. */
void vigil__tree_unlink(vigil__tree *t, vigil__node *n);
/* Finds a child of dir by name, or NULL. */
vigil__node *vigil__tree_find(const vigil__tree *t, const vigil__node *dir, const char *name,
                              size_t len);
/* Moves n under new_parent with a new name; 0 or -ENOMEM (then n is unchanged). */
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
