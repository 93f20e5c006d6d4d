/*
 * mounts.c: the mount table, watched for mounts inside and above the roots.
 */
#ifndef VIGIL_MOUNTS_H
#define VIGIL_MOUNTS_H

#include "vigil.h"
#include "tree.h"

/* Opens it (v->mountfd, v->mounts). 0, VIGIL_ENOPROC or -errno. */
int vigil__mounts_open(vigil_t *v);
void vigil__mounts_close(vigil_t *v);
/* If the table changed, applies what that did to the roots. 0 or -ENOMEM. */
int vigil__mounts_check(vigil_t *v);
/* Makes the next check read the table; -1 if the table is not watched. */
int vigil__mounts_stale(vigil_t *v);
/*
 * Whether the directory d below a root may be a mount point, by its name
 * alone, as the table last read says: cheap, for every directory a scan
 * watches. Then whether it is one: d's path below r is a mount point.
 */
int vigil__mounts_maybe_point(const vigil_t *v, const vigil__node *d);
int vigil__mounts_is_point(vigil_t *v, const vigil__root *r, const vigil__node *d);

#endif /* VIGIL_MOUNTS_H */
