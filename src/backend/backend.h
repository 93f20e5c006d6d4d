/*
 * The interface every kernel backend implements; backends.c lists the
 * ones built in.
 *
 * A backend places kernel watches on directory nodes (given the
 * directory's path on disk), reads the kernel's records, and turns each
 * into an observation about a directory node and a name: the vigil__obs_*
 * functions, declared in instance.h and defined in apply.c. It knows
 * nothing of the paths events carry, of exclusion or of the queue. Rename
 * pairing lives here because it is a property of the kernel's stream.
 *
 * The interface is not sealed yet: besides making observations, the
 * inotify backend reads the instance's move_wait_ms and writes three of
 * its fields itself: synced (every change before that moment has been
 * read; the repair after an overflow relies on it), records_since_wait
 * (what makes a storm, for batching) and need_repair (records lost
 * without an overflow record, when memory ran out).
 */
#ifndef VIGIL_BACKEND_H
#define VIGIL_BACKEND_H

#include "tree.h"

typedef struct vigil vigil_t;

typedef struct vigil__backend {
  const char *name;
  /*
   * Creates the backend's state; *fd is the descriptor to poll. kinds is
   * the instance's mask of kinds to deliver: a backend asks the kernel for
   * costly records (opens, closes without writing) only when it is asked.
   */
  int (*open)(void **state, int *fd, unsigned kinds);
  /*
   * Places (or refreshes) the watch on a directory node, given an open
   * descriptor of that very directory: the watch must cover the directory
   * that is listed, whatever has happened to its name. Returns 0, -errno,
   * or VIGIL_EWATCHLIMIT. Calling it on a node already watched re-checks
   * that the watch still covers that directory.
   */
  int (*watch)(void *state, vigil__node *dir, int fd);
  /* Drops the node's watch; the kernel watch goes when no node shares it. */
  void (*unwatch)(void *state, vigil__node *dir);
  /*
   * Optional. While on (a count of nested calls), watches are placed
   * without the costly records of the instance's kinds: vigil's own
   * listings would otherwise fill the kernel's queue with opens and closes
   * of directories. Returns whether there are such records to leave out
   * (when turned off: and this was the outermost call).
   */
  int (*quiet)(void *state, int on);
  /*
   * Once quiet is off: a directory whose watch was placed while it was on
   * and is still held, to be watched again with the whole mask; NULL when
   * there is none left.
   */
  vigil__node *(*quieted)(void *state);
  /*
   * Reads what the kernel has ready, without blocking, and applies it;
   * at most max_bytes of records when max_bytes is not 0. Returns the
   * number of bytes read, 0 if nothing was ready, or an error. *wait_ms is
   * set to how long a held-back record (an unpaired rename source) may
   * still wait, or -1.
   */
  int (*read)(void *state, vigil_t *v, size_t max_bytes, int *wait_ms);
  /*
   * The first of the directory nodes that share dir's watch (dir among
   * them; the rest follow through wd_next), or NULL if dir is not watched.
   * They are the same directory, seen through several roots.
   */
  vigil__node *(*sharing)(void *state, const vigil__node *dir);
  /*
   * How many kernel watches are held: directories, each counted once
   * however many nodes (overlapping roots, file roots) share its watch.
   */
  size_t (*watches)(void *state);
  /* How many bytes of records the kernel holds for us right now. */
  size_t (*pending)(void *state);
  /* Reads and discards up to max_bytes of records; returns how many. */
  size_t (*discard)(void *state, size_t max_bytes);
  /* Resolves held-back records at once. */
  void (*flush)(void *state, vigil_t *v);
  /*
   * Frees the state. It may run in a forked child, so it must leave the
   * kernel's watches alone (closing a descriptor drops only this
   * process's copy) and release only what the process itself holds.
   */
  void (*close)(void *state);
} vigil__backend;

extern const vigil__backend vigil__backend_inotify;

/*
 * The backend named name (backends.c), the preferred one for NULL or
 * "auto", or NULL if none of that name is built in.
 */
const vigil__backend *vigil__backend_find(const char *name);

/* Applies a buffer of inotify records as if read from the descriptor. */
void vigil__inotify_decode(void *state, vigil_t *v, const char *buf, size_t len);

#endif /* VIGIL_BACKEND_H */
