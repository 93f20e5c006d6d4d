/*
 * admit.c: whether an entry of a directory belongs in the tree (exclude
 * patterns, ignore files, base patterns, a file root's name).
 */
#ifndef VIGIL_ADMIT_H
#define VIGIL_ADMIT_H

#include "vigil.h"
#include "tree.h"
#include <stddef.h>

/* Is dir/name part of the tree? 1 or 0. */
int vigil__admit(vigil_t *v, const vigil__node *dir, const char *name, size_t len, int is_dir);
/*
 * The same in two steps, for a listing: what depends only on the directory
 * (its root, its relative path) is worked out once, not for every entry.
 * v->rel belongs to the admission until the listing ends.
 */
typedef struct {
  vigil__root *root;
  int filtered;  /* exclude patterns, ignore files or base patterns apply */
  size_t prefix; /* length of the directory's relative path in v->rel, with '/' */
  size_t nchain; /* ignore files that apply, in v->chain */
} vigil__admission;
void vigil__admit_begin(vigil_t *v, const vigil__node *dir, vigil__admission *a);
int vigil__admit_entry(vigil_t *v, const vigil__admission *a, const char *name, size_t len,
                       int is_dir);
/* Do any patterns judge r's entries (exclude, ignore files, base patterns)? */
int vigil__root_filtered(const vigil__root *r);
/* Are dir's subdirectories watched (not for a file root or VIGIL_NORECURSE)? */
int vigil__should_descend(const vigil__node *dir);

#endif /* VIGIL_ADMIT_H */
