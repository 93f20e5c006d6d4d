/*
 * The instance, and the functions the parts of the core call on it.
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
typedef struct {
  const vigil__backend *be;
  void *state;
  int fd;
  /* Every change before this moment has been read from it (vigil__read_result.sync). */
  struct timespec synced;
  size_t left; /* a drain's budget, in the backend's units (see vigil__drain) */
} vigil__source;

/* A directory node holds its source's index in the high bits of its flags. */
#define VIGIL__SOURCES_MAX 16

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
  unsigned events; /* mask of (1u << kind) to deliver */
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
   * vigil__plat_wait and while the callback runs.
   */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  vigil_cb cb;
  void *cb_userdata;
  int started_flag;           /* a thread exists and has not been joined (atomic) */
  unsigned thread_done : 1;   /* it has left its loop */
  unsigned joining : 1;       /* a caller is in pthread_join */
  unsigned close_on_exit : 1; /* vigil_close came from the callback */
  unsigned sync_init : 1;     /* lock and cond are initialised */
  int stop;                   /* a vigil__stop_state */
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

/* How a reconcile pass reports what it finds. */
enum vigil__scan_mode {
  VIGIL__SCAN_SETUP,   /* vigil_add: build the tree, report only errors */
  VIGIL__SCAN_NEW,     /* a directory that just appeared: report its entries */
  VIGIL__SCAN_REPAIR,  /* after lost events: report every difference */
  VIGIL__SCAN_REFILTER /* a directory moved: apply the exclude patterns anew */
};

/* How long a file root's file that went away is waited for (see apply.c). */
#define VIGIL__FILE_WAIT_MS 50

/* The default of vigil_options.batch_us. */
#define VIGIL__BATCH_US 250
/* A storm: this many records since the last blocking wait, and a wait that ends this soon. */
#define VIGIL__STORM_RECORDS 6
#define VIGIL__STORM_WAIT_US 1000

enum vigil__stop_state { VIGIL__RUN, VIGIL__STOP_DRAIN, VIGIL__STOP_NOW };

/*
 * vigil.c: vigil_open with a backend given, whatever opt names; NULL is
 * vigil_open itself. The unit tests give one that is in no list.
 */
int vigil__open_with(vigil_t **out, const vigil_options *opt, const vigil__backend *be);
/*
 * The index of be's source in v, opened (and waited on) the first time a
 * root asks for it. 0, -ENOSPC when VIGIL__SOURCES_MAX are open, or the
 * backend's error.
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

/* thread.c */
int vigil__started(const vigil_t *v);
/* Started and still running (a thread that has ended is joined first). */
int vigil__busy(vigil_t *v);
void vigil__lock(const vigil_t *v);
void vigil__unlock(const vigil_t *v);
/* Stops and joins the thread, if any, for vigil_close. */
void vigil__thread_end(vigil_t *v);
/*
 * The cancel check that long scans make between directories: 0 to go on;
 * 1 when vigil_stop's grace has run out (the scan gives up and leaves the
 * rest to a repair); -ECANCELED when the progress callback of vigil_add,
 * called here every 256 directories watched, asked to stop.
 */
int vigil__cancelled(vigil_t *v);

/* reconcile.c */
int vigil__reconcile(vigil_t *v, vigil__node *dir, enum vigil__scan_mode mode);
/*
 * Opens a directory node for listing (O_RDONLY, close-on-exec) relative to
 * its root's descriptor, following no symbolic link below the root, at any
 * depth. Returns the descriptor or -errno. Uses v->scratch.
 */
int vigil__open_dir(vigil_t *v, const vigil__node *dir);
/* Stats the directory that holds the absolute path abspath: 0 or -errno (-ENOENT for "/"). */
int vigil__stat_above(const char *abspath, struct stat *st);
/* Forgets a directory that was waiting to be listed again. */
void vigil__vanished_forget(vigil_t *v, vigil__node *dir);
/* Lists again the directories that vanished, under their current paths. */
int vigil__vanished_retry(vigil_t *v);

/*
 * apply.c: the observations a backend makes (declared in backend/backend.h)
 * are applied to the tree there; and a directory's watch, as the core sees
 * it. vigil__watch places it through the backend and marks the node
 * watched when that succeeds; vigil__unwatch drops it if the node is.
 */
int vigil__watch(vigil_t *v, vigil__node *dir, int fd);
void vigil__unwatch(vigil_t *v, vigil__node *dir);
/*
 * The source (backend) of a directory node: the one that watches it, or
 * for one not watched, its root's (the default for a subtree kept aside).
 */
vigil__source *vigil__src_of(vigil_t *v, const vigil__node *dir);

/* ignore.c: per-directory ignore files. */
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

/* mounts.c: the mount table, watched for mounts inside and above the roots. */
/* Opens it (v->mountfd, v->mounts). 0, VIGIL_ENOPROC or -errno. */
int vigil__mounts_open(vigil_t *v);
void vigil__mounts_close(vigil_t *v);
/* If the table changed, applies what that did to the roots. 0 or -ENOMEM. */
int vigil__mounts_check(vigil_t *v);
/* Makes the next check read the table; -1 if the table is not watched. */
int vigil__mounts_stale(vigil_t *v);

/* Shared by apply.c and reconcile.c. */
int vigil__emit(vigil_t *v, vigil_kind kind, unsigned flags, const vigil__node *n, int error);
int vigil__emit_path(vigil_t *v, vigil_kind kind, unsigned flags, const char *path, int error);
void vigil__drop(vigil_t *v, vigil__node *n, int emit);
void vigil__root_gone(vigil_t *v, vigil__root *r);
/*
 * Settles the file roots whose file went away: those whose wait ends by
 * until (CLOCK_MONOTONIC ms; INT64_MAX for all, 0 for none) are reported
 * removed. *wait_ms, if given, is lowered to the time left until the next
 * wait ends.
 */
void vigil__files_settle(vigil_t *v, int64_t until, int *wait_ms);
/* Forgets a file root's wait (its root is being removed). */
void vigil__file_forget(vigil_t *v, vigil__root *r);
int vigil__admit(vigil_t *v, const vigil__node *dir, const char *name, size_t len, int is_dir);
/*
 * The same in two steps, for a listing: what depends only on the directory
 * (its root, its relative path) is worked out once, not for every entry.
 * v->rel belongs to the admission until the listing ends.
 */
typedef struct {
  vigil__root *root;
  int filtered;  /* exclude patterns or ignore files apply */
  size_t prefix; /* length of the directory's relative path in v->rel, with '/' */
  size_t nchain; /* ignore files that apply, in v->chain */
} vigil__admission;
void vigil__admit_begin(vigil_t *v, const vigil__node *dir, vigil__admission *a);
int vigil__admit_entry(vigil_t *v, const vigil__admission *a, const char *name, size_t len,
                       int is_dir);
/* Are dir's subdirectories watched (not for a file root or VIGIL_NORECURSE)? */
int vigil__should_descend(const vigil__node *dir);
/* Is the root still the directory (or file's directory) it was when added? */
int vigil__root_intact(const vigil__root *r);

#endif /* VIGIL_INSTANCE_H */
