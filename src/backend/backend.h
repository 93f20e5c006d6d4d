/*
 * The one header a backend includes: the interface every backend
 * implements, the observations it makes, and (through tree.h) the tree's
 * public accessors it may use. backends.c lists the backends built in.
 *
 * A backend places watches on directory nodes (given an open descriptor
 * of the directory), reads what its kernel interface has ready, and turns
 * each record into an observation about a directory node and a name: the
 * vigil__obs_* functions below, defined in apply.c. That is all it does to
 * the instance, which it sees only as an opaque vigil_t. It knows nothing
 * of paths, of exclusion or of the queue. What the core needs to know
 * about a read (how many records, the moment before which everything has
 * been read, how long a held-back record may wait) comes back in a
 * vigil__read_result; what it has still pending is counted in its own
 * units. Rename pairing lives in a backend because it is a property of
 * its kernel's stream.
 *
 * Each directory node carries a slot (vigil__node_slot) that belongs to
 * the backend that watches it; the core never reads it. Whether a
 * directory is watched at all is the core's to know (vigil__watched): it
 * is set when watch succeeds, and cleared when the core unwatches the
 * node or the backend reports vigil__obs_unwatched.
 */
#ifndef VIGIL_BACKEND_H
#define VIGIL_BACKEND_H

#include "vigil.h"
#include "fault.h" /* the system-call and allocation wrappers every part uses */
#include "tree.h"

#include <stddef.h>
#include <time.h>

typedef struct vigil vigil_t;

/*
 * What a backend can do; the core decides by these, never by a name.
 */
enum {
  /* The kernel pairs a rename's two ends: moves come as vigil__obs_moved. */
  VIGIL__CAP_PAIRS_RENAMES = 1u << 0,
  /* Every directory is watched on its own (watch per directory node). */
  VIGIL__CAP_DIR_WATCHES = 1u << 1,
  /* One watch on a root's top covers everything below it. */
  VIGIL__CAP_RECURSIVE = 1u << 2,
  /*
   * It may only be able to say "this directory changed, list it again"
   * (vigil__obs_dir_changed): polling, kqueue, a Windows overflow.
   */
  VIGIL__CAP_DIR_CHANGED = 1u << 3,
  /*
   * Its reads report a sync point (vigil__read_result.synced): after
   * lost records, a repair trusts a file whose times predate it as
   * unchanged. Without it every file is reported as possibly changed.
   */
  VIGIL__CAP_SYNC_CLOCK = 1u << 4,
  /*
   * Everything it observes was found by looking (listing and comparing),
   * not told by a kernel: the events of its reads carry VIGIL_SYNTHETIC.
   */
  VIGIL__CAP_SYNTHETIC = 1u << 5,
};

/* What the core tells a backend when it opens it. */
typedef struct {
  /*
   * The instance's mask of kinds to deliver: a backend asks its kernel
   * for costly records (opens, closes without writing) only when asked.
   */
  unsigned kinds;
  /* How long a held-back record (an unpaired rename source) may wait. */
  int move_wait_ms;
  /* A polling backend's time between passes (vigil_options.poll_interval_ms); 0: its default. */
  int poll_interval_ms;
} vigil__backend_config;

/* What one read found. */
typedef struct {
  size_t records; /* records read: what makes a storm (see vigil__wait) */
  size_t units;   /* of what pending() counted, consumed by this read */
  /*
   * Set (synced = 1) when the read found nothing more ready: every change
   * made before sync (CLOCK_REALTIME_COARSE) has been read.
   */
  int synced;
  struct timespec sync;
  int wait_ms; /* how long a held-back record may still wait, or -1 */
} vigil__read_result;

/* The descriptor of a backend with nothing to wait on (polling). */
#ifdef _WIN32
#define VIGIL__NO_FD NULL
#else
#define VIGIL__NO_FD (-1)
#endif

typedef struct vigil__backend {
  const char *name;
  unsigned caps; /* VIGIL__CAP_* */
  /*
   * Creates the backend's state; *fd is the descriptor to poll, readable
   * when read() has something, or -1 for a backend that has none (one
   * that polls): its read() then runs at the latest when the wait_ms of
   * its last read has passed, by the platform layer's timer, which
   * callers that wait by themselves see in vigil_timeout.
   */
  int (*open)(void **state, vigil_os_fd_t *fd, const vigil__backend_config *cfg);
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
   * Reads what is ready, without blocking, and makes its observations on
   * v; at most max_units of what pending() counts when max_units is not
   * 0. Returns 0 or an error, and fills *out.
   */
  int (*read)(void *state, vigil_t *v, size_t max_units, vigil__read_result *out);
  /*
   * The directory nodes that share dir's watch (dir among them), one
   * after the other: the first for after == NULL, then the one after
   * after; NULL at the end or if dir is not watched. They are the same
   * directory, seen through several roots.
   */
  vigil__node *(*sharing)(void *state, const vigil__node *dir, const vigil__node *after);
  /*
   * How many watches are held: directories, each counted once however
   * many nodes (overlapping roots, file roots) share its watch.
   */
  size_t (*watches)(void *state);
  /* How much the backend holds unread right now, in its own units. */
  size_t (*pending)(void *state);
  /* Reads and discards up to max_units of it; returns how many records. */
  size_t (*discard)(void *state, size_t max_units);
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
extern const vigil__backend vigil__backend_poll;

/*
 * The backend named name (backends.c), the preferred one for NULL or
 * "auto", or NULL if none of that name is built in.
 */
const vigil__backend *vigil__backend_find(const char *name);

/* ---- The observations: everything a backend may say (apply.c). */

enum vigil__how { VIGIL__BY_CREATE, VIGIL__BY_MOVE };
/* name appeared in dir: created, or (VIGIL__BY_MOVE) renamed in from outside. */
int vigil__obs_appeared(vigil_t *v, vigil__node *dir, const char *name, size_t len, int is_dir,
                        enum vigil__how how);
/* how: VIGIL__BY_MOVE when the entry was renamed out of the root. */
int vigil__obs_gone(vigil_t *v, vigil__node *dir, const char *name, size_t len,
                    enum vigil__how how);
/* A rename with both ends known. */
int vigil__obs_moved(vigil_t *v, vigil__node *sdir, const char *sname, size_t slen,
                     vigil__node *tdir, const char *tname, size_t tlen, int is_dir);
/* Content or metadata of dir/name (or of dir itself, name NULL) changed. */
int vigil__obs_changed(vigil_t *v, vigil__node *dir, const char *name, size_t len, vigil_kind kind);
/* Something in dir changed, the backend cannot say what: list it again. */
int vigil__obs_dir_changed(vigil_t *v, vigil__node *dir);
/* dir itself was deleted or renamed. */
int vigil__obs_self_gone(vigil_t *v, vigil__node *dir);
/*
 * A root's top that a backend finds by its path (polling) can no longer
 * be opened: err is what vigil__open_dir said, -ENOENT when the root
 * itself went, VIGIL_EROOTMOVED when a directory above it was renamed
 * (reported on the root). Either way the root ends.
 */
int vigil__obs_top_lost(vigil_t *v, vigil__node *dir, int err);
int vigil__obs_unmounted(vigil_t *v, vigil__node *dir);
/* The watch on a root's top is gone: the root may have ended. */
int vigil__obs_watch_lost(vigil_t *v, vigil__node *dir);
/* The backend dropped dir's watch itself (the kernel dropped it). */
void vigil__obs_unwatched(vigil_t *v, vigil__node *dir);
/* Records were lost, and the kernel said so: report it and repair. */
int vigil__obs_overflow(vigil_t *v);
/* Records were lost without a word from the kernel (no memory): repair. */
void vigil__obs_lost(vigil_t *v);
/*
 * Exchanges (see struct vigil__xchg in instance.h): the backend marks the
 * renames kept so far as older before it applies the next rename,
 * releases the older ones after it, and releases them all before any
 * other record, whose nodes must not be among those kept aside.
 * vigil__xchg_held says whether any rename is kept. While suspect is on,
 * the rename being applied reverses the last one with other records in
 * between: the two halves of an exchange, no longer adjacent.
 */
int vigil__xchg_held(const vigil_t *v);
void vigil__xchg_suspect(vigil_t *v, int on);
void vigil__xchg_age(vigil_t *v);
void vigil__xchg_release(vigil_t *v, int only_old);
/* Is n in a subtree kept aside (not linked under any root)? */
int vigil__detached(const vigil__node *n);

/*
 * For a backend that finds changes by listing (VIGIL__CAP_DIR_CHANGED):
 * the tree to compare with (its nodes are read with tree.h, never
 * changed but through observations); whether the core would keep an
 * entry of dir (its exclusions); and a directory node opened for
 * listing by its path below its root's (reconcile.c: O_RDONLY, close-on-
 * exec, no symbolic link followed; the descriptor or -errno).
 */
vigil__tree *vigil__tree_of(vigil_t *v);
int vigil__obs_admits(vigil_t *v, const vigil__node *dir, const char *name, size_t len, int is_dir);
int vigil__open_dir(vigil_t *v, const vigil__node *dir);

#endif /* VIGIL_BACKEND_H */
