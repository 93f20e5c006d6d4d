/*
 * ignore.c: per-directory ignore files (vigil_options.ignore_file).
 */
#ifndef VIGIL_IGNORE_H
#define VIGIL_IGNORE_H

#include "vigil.h"
#include "filter.h"
#include "tree.h"
#include <stddef.h>

/*
 * Reads d's ignore file (its root's) through dfd (d opened) into d's filter, or forgets
 * it when there is none. Returns 1 if the patterns changed, 0 if not, or
 * -ENOMEM.
 */
int vigil__ignore_load(const vigil__node *d, int dfd);
const vigil__filter *vigil__ignore_find(const vigil__root *r, const vigil__node *dir);
void vigil__ignore_forget(vigil__root *r, const vigil__node *dir);
void vigil__ignore_free(vigil__root *r);
/*
 * The kernel reported something about dir/name. If that is dir's ignore
 * file, it is read again, and if its patterns changed, what lies below
 * dir is judged again: removed, or listed and created (REFILTER).
 */
int vigil__ignore_touched(vigil_t *v, vigil__node *dir, const char *name, size_t len);

#endif /* VIGIL_IGNORE_H */
