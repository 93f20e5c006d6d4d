/*
 * mounts.c: the mount table, watched for mounts inside and above the roots.
 */
#ifndef VIGIL_MOUNTS_H
#define VIGIL_MOUNTS_H

#include "vigil.h"

/* Opens it (v->mountfd, v->mounts). 0, VIGIL_ENOPROC or -errno. */
int vigil__mounts_open(vigil_t *v);
void vigil__mounts_close(vigil_t *v);
/* If the table changed, applies what that did to the roots. 0 or -ENOMEM. */
int vigil__mounts_check(vigil_t *v);
/* Makes the next check read the table; -1 if the table is not watched. */
int vigil__mounts_stale(vigil_t *v);

#endif /* VIGIL_MOUNTS_H */
