/*
 * emit.c: the one way into the event queue, shared by every part that
 * changes the tree.
 */
#ifndef VIGIL_EMIT_H
#define VIGIL_EMIT_H

#include "vigil.h"
#include "tree.h"

/*
 * Queues an event for node n (its path built from the tree) or for path
 * (NULL for none, as an overflow has), when kind is in the mask; n is
 * left out when an outer root reports it (vigil__covered). 0, or -ENOMEM
 * when it could not be queued: then a repair is asked for.
 */
int vigil__emit(vigil_t *v, vigil_kind kind, unsigned flags, const vigil__node *n, int error);
int vigil__emit_path(vigil_t *v, vigil_kind kind, unsigned flags, const char *path, int error);
/*
 * Does another root report n? Roots may overlap; an entry is reported once,
 * by the outer root.
 */
int vigil__covered(vigil_t *v, const vigil__node *n);
/* vigil__emit for a caller that has asked vigil__covered already. */
int vigil__emit_node(vigil_t *v, vigil_kind kind, unsigned flags, const vigil__node *n, int error);
/* Reports n and everything below it removed, children first; the tree is left as it is. */
void vigil__emit_removed_tree(vigil_t *v, const vigil__node *n, unsigned flags);
/* Reports n and everything below it created, parents first, as a listing would. */
void vigil__emit_created_tree(vigil_t *v, const vigil__node *n, unsigned flags);
/* Is moved in the mask? Without it, a move is reported as removed and created. */
int vigil__moved_asked(const vigil_t *v);
/*
 * Moves n to tdir/tname in the tree and reports it: moved, or removed and
 * created when the mask leaves out moved. 0 or -ENOMEM.
 */
int vigil__emit_move(vigil_t *v, vigil__node *n, vigil__node *tdir, const char *tname, size_t tlen);

#endif /* VIGIL_EMIT_H */
