/*
 * file_root.c: a root that is one file, and the wait for its file to come
 * back when an editor's save takes the name away for a moment.
 */
#ifndef VIGIL_FILE_ROOT_H
#define VIGIL_FILE_ROOT_H

#include "vigil.h"
#include "backend/backend.h" /* enum vigil__how */
#include "tree.h"
#include <stdint.h>

/* How long a file root's file that went away is waited for. */
#define VIGIL__FILE_WAIT_MS 50

/* r's file went away (how: deleted, or renamed away): its wait begins. */
void vigil__file_gone(vigil_t *v, vigil__root *r, enum vigil__how how);
/*
 * A name appeared where a file root holds its file: an editor's save.
 * Returns 1 if the caller must still create the entry.
 */
int vigil__file_back(vigil_t *v, vigil__root *r, vigil__node *old, int is_dir, enum vigil__how how);
/*
 * Settles the file roots whose file went away: those whose wait ends by
 * until (CLOCK_MONOTONIC ms; INT64_MAX for all, 0 for none) are reported
 * removed. *wait_ms, if given, is lowered to the time left until the next
 * wait ends.
 */
void vigil__files_settle(vigil_t *v, int64_t until, int *wait_ms);
/* Forgets a file root's wait (its root is being removed). */
void vigil__file_forget(vigil_t *v, vigil__root *r);

#endif /* VIGIL_FILE_ROOT_H */
