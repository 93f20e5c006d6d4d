/*
 * apply.c: the observations a backend makes (declared in backend/backend.h)
 * are applied to the tree there; and a directory's watch, as the core sees
 * it.
 */
#ifndef VIGIL_APPLY_H
#define VIGIL_APPLY_H

#include "vigil.h"
#include "tree.h"

typedef struct vigil__source vigil__source;

/*
 * vigil__watch places dir's watch through its source's backend, given an
 * open descriptor of dir, and marks the node watched when that succeeds;
 * vigil__unwatch drops it if the node is.
 */
int vigil__watch(vigil_t *v, vigil__node *dir, int fd);
/* The same through the source of index src (a mount point "auto" gave its own backend). */
int vigil__watch_as(vigil_t *v, vigil__node *dir, int fd, unsigned src);
void vigil__unwatch(vigil_t *v, vigil__node *dir);
/*
 * The source (backend) of a directory node: the one that watches it, or
 * for one not watched, its root's (the default for a subtree kept aside).
 */
vigil__source *vigil__src_of(vigil_t *v, const vigil__node *dir);
/* Is the root still the directory (or file's directory) it was when added? */
int vigil__root_intact(const vigil__root *r);

#endif /* VIGIL_APPLY_H */
