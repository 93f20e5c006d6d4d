/*
 * What the inotify backend offers besides its vigil__backend: a hook for
 * the unit tests, which feed it records that no kernel could be made to
 * write in that order.
 */
#ifndef VIGIL_BACKEND_INOTIFY_H
#define VIGIL_BACKEND_INOTIFY_H

#include "backend/backend.h"

/*
 * Applies a buffer of inotify records as if read from the descriptor;
 * returns how many records it held.
 */
size_t vigil__inotify_decode(void *state, vigil_t *v, const char *buf, size_t len);

#endif /* VIGIL_BACKEND_INOTIFY_H */
