/*
 * The instance: struct vigil, which every part of the core works on, and
 * what vigil.c, the file of its life (open, add, close) and of its read
 * loop, gives the other parts. Each other part of the core declares what
 * it gives in the header named after it: apply.h, admit.h, cancel.h,
 * drop.h, emit.h, file_root.h, ignore.h, mounts.h, reconcile.h, thread.h.
 */
#ifndef VIGIL_INSTANCE_H
#define VIGIL_INSTANCE_H

#include "vigil.h"
#include "backend/backend.h"
#include "filter.h"
#include "platform/platform.h"
#include "queue.h"
#include "tree.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/*
 * A backend in use: its state and descriptor, shared by every root that
 * uses that backend (one per kind), and what the core keeps of its reads.
 */
typedef struct vigil__source {
  const vigil__backend *be;
  void *state;
  vigil_os_fd_t fd;
  /* Every change before this moment has been read from it (vigil__read_result.sync). */
  struct timespec synced;
  size_t left; /* a drain's budget, in the backend's units (see vigil__drain) */
} vigil__source;

struct vigil {
  vigil__tree tree;
  vigil__queue queue;
  vigil__root *roots;
  /* The defaults of the roots that have none of their own (vigil__root). */
  vigil__filter *filter; /* exclude patterns; NULL when nothing is excluded */
  char *ignore_file;     /* per-directory ignore file name, or NULL */
  /* Some root, now or before, reads ignore files: a dropped directory may have one. */
  int ignore_files;
  /* The backends in use; src[0] is vigil_options.backend's, opened by vigil_open. */
  vigil__source src[VIGIL__SOURCES_MAX];
  unsigned nsrc;
  /* vigil_options.backend is "auto": each root's backend is chosen by file system. */
  unsigned auto_backend : 1;
  unsigned events; /* mask of (1u << kind) to deliver */
  /* Added to every event's flags: VIGIL_SYNTHETIC while a looking backend's read applies. */
  unsigned emit_flags;
  int poll_interval_ms; /* vigil_options.poll_interval_ms, for a polling backend */
  int move_wait_ms;
  int batch_us;              /* a storm's gathering time (see vigil__wait); 0: none */
  size_t records_since_wait; /* kernel records read since the last blocking wait */
  /* What makes a storm (see vigil__wait); the defaults below, which the tests change. */
  size_t storm_records;
  int64_t storm_wait_us;
  vigil_progress_cb progress;
  void *progress_userdata;

  vigil__plat *plat; /* what the read loop waits on; vigil_fd (src/platform/) */
  int mountfd;       /* /proc/self/mountinfo, POLLPRI when the mount table changed (mounts.c) */
  struct vigil__mounts *mounts; /* the mount table as last read */
  int64_t resync_due;           /* when to look at an empty kernel queue again (see resync), or 0 */
  int64_t records_ms;           /* when records were last read */
  unsigned need_repair : 1;     /* something was lost without an overflow record */
  unsigned no_openat2 : 1;      /* the kernel lacks openat2: open name by name */

  pid_t pid;
  unsigned long fork_gen;

  size_t add_dirs;    /* directories watched by the last vigil_add, for its progress */
  size_t add_told;    /* add_dirs when the progress callback was last called */
  size_t add_watches; /* kernel watches the last vigil_add placed (see add_root) */

  /*
   * The background thread of vigil_start (thread.c). While it runs, lock
   * guards everything above; the thread lets go of it while it waits in
   * vigil__plat_wait, while the callback runs, and between two steps
   * while lock_wanted says a caller waits for it. cond is broadcast when
   * the thread ends, when a join ends, and when the last caller waiting
   * for the lock has it.
   */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int lock_wanted; /* callers in vigil__lock, not yet holding the lock (atomic) */
  pthread_t thread;
  vigil_cb cb;
  void *cb_userdata;
  int started_flag;           /* a thread exists and has not been joined (atomic) */
  unsigned thread_done : 1;   /* it has left its loop */
  unsigned joining : 1;       /* a caller is in pthread_join */
  unsigned close_on_exit : 1; /* vigil_close came from the callback */
  unsigned sync_init : 1;     /* lock and cond are initialised */
  int stop;                   /* a vigil__stop_state (thread.h) */
  int64_t stop_deadline;      /* CLOCK_MONOTONIC ms */
  size_t dropped;

  char *scratch; /* path building for system calls */
  size_t scratch_len, scratch_cap;
  char *rel; /* relative paths for the exclude filter */
  size_t rel_len, rel_cap;
  /* The ignore files that judge a listing's entries, deepest first (vigil__admission). */
  struct vigil__ignore_use {
    const vigil__filter *filter;
    size_t off; /* where the path relative to the file's directory starts in v->rel */
  } * chain;
  size_t chain_cap;
  char *dents; /* getdents64 buffer */
  size_t dents_cap;
  /*
   * Directories that vanished from their path before they could be
   * watched or listed (renamed with, or under, a parent that moved on).
   * A directory move within the tree tries them again under their new
   * paths; a deletion drops them.
   */
  vigil__node **vanished;
  size_t vanished_len, vanished_cap;
  size_t roots_gone; /* counts roots that ended, so vigil_read can return */
  /* File roots waiting for their file to come back, oldest first. */
  vigil__root *files_waiting, *files_waiting_last;
  /*
   * The renames of the last kernel rename, kept until the next record in
   * case it is the first half of an exchange (renameat2 RENAME_EXCHANGE),
   * which the kernel reports as a -> b then b -> a. The entry a rename
   * replaced is kept aside, unlinked, with its subtree and watches, so
   * that an exchange can put it back under the other name (apply.c).
   */
  struct vigil__xchg {
    vigil__node *sdir, *tdir; /* where the entry came from and went to */
    vigil__node *kept;        /* the entry it replaced, unlinked, or NULL */
    int s_isdir;              /* the type of the entry that moved */
    unsigned old : 1;         /* made by an earlier rename than the current one */
    uint8_t slen, tlen;
    char sname[NAME_MAX + 1], tname[NAME_MAX + 1];
  } * xchg;
  size_t xchg_len, xchg_cap;
  /* The rename being applied may be an exchange's second half, unpaired (inotify.c). */
  unsigned xchg_suspect : 1;
  /*
   * Reconcile's stack of directories to visit, each with a descriptor
   * opened relative to its parent while that was open (or -1): opening
   * by name under an open parent costs one lookup, not a whole path's.
   */
  struct vigil__work {
    vigil__node *dir;
    int fd;
  } * work;
  size_t work_len, work_cap;
  size_t work_fds; /* descriptors held on the stack */
};

/* The default of vigil_options.batch_us. */
#define VIGIL__BATCH_US 250
/* A storm: this many records since the last blocking wait, and a wait that ends this soon. */
#define VIGIL__STORM_RECORDS 6
#define VIGIL__STORM_WAIT_US 1000

/*
 * vigil.c: vigil_open with a backend given, whatever opt names; NULL is
 * vigil_open itself. The unit tests give one that is in no list.
 */
int vigil__open_with(vigil_t **out, const vigil_options *opt, const vigil__backend *be);
/*
 * The index of be's source in v, opened (and waited on) the first time a
 * root asks for it. 0, or the backend's error (-ENOSPC when
 * VIGIL__SOURCES_MAX are open, which backends.c makes impossible).
 */
int vigil__source_get(vigil_t *v, const vigil__backend *be, unsigned *index);
/* Resolves every source's held-back records at once. */
void vigil__sources_flush(vigil_t *v);
/* The read loop in two halves, so thread.c can lock around them. */
/* draining: read only what vigil__drain_mark found (see vigil__drain). */
int vigil__step(vigil_t *v, vigil_event *ev, int draining, int *wait_ms, size_t *got);
int vigil__wait(vigil_t *v, int block);
/*
 * A drain delivers what is queued and what each source held unread when
 * vigil__drain_mark(v, 1) looked (its pending(), in its own units), until
 * deadline (CLOCK_MONOTONIC ms), and returns the number delivered;
 * vigil__drain_mark(v, 0) leaves it nothing to read.
 * vigil__drain_discard drops what is left unread and returns how many
 * records that was.
 */
void vigil__drain_mark(vigil_t *v, int all);
size_t vigil__drain(vigil_t *v, int64_t deadline, vigil_cb deliver, void *ctx);
size_t vigil__drain_discard(vigil_t *v);
int64_t vigil__now_ms(void);
int vigil__forked(const vigil_t *v);
void vigil__free(vigil_t *v);

#endif /* VIGIL_INSTANCE_H */
