/*
 * drop.c: an entry, or a whole root, leaves the tree.
 */
#ifndef VIGIL_DROP_H
#define VIGIL_DROP_H

#include "vigil.h"
#include "tree.h"

/*
 * Removes n and everything below it, children first, reporting each when
 * emit is set. Kernel watches are dropped as directories go.
 */
void vigil__drop(vigil_t *v, vigil__node *n, int emit);
/*
 * A root that is gone from disk: everything in it is reported removed,
 * the root last, and the caller hears no more of it.
 */
void vigil__root_gone(vigil_t *v, vigil__root *r);

#endif /* VIGIL_DROP_H */
