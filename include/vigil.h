/*
 * vigil: report file-system changes, exactly.
 *
 * One instance (vigil_t) watches any number of roots. Everything it holds
 * lives inside the instance: two instances in one process are independent,
 * and the library's only process-wide state is a counter of fork()s, which
 * is how an instance inherited by a child is told apart. It never prints,
 * never exits and never aborts on bad input; every function returns 0 (or
 * a count) on success and a negative errno or VIGIL_E* code on failure.
 *
 * The core has no hidden threads. The caller drives it through vigil_fd()
 * (a pollable descriptor) and vigil_read(). See docs/events.md for the event
 * contract that vigil_read() delivers.
 *
 * Thread-safety: without vigil_start, call vigil_add, vigil_remove,
 * vigil_read and vigil_close from one thread at a time (the same one or
 * not). After vigil_start, vigil_add, vigil_remove, vigil_get_stats and
 * vigil_stop are safe from any thread. vigil_wake and vigil_fd may be
 * called from any thread at any time, and vigil_wake also from a signal
 * handler. In a child process after fork(), every call on an inherited
 * instance returns VIGIL_EFORKED, and vigil_close frees it.
 */
#ifndef VIGIL_H
#define VIGIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden symbols; only these are exported. */
#if defined(__GNUC__)
#define VIGIL_API __attribute__((visibility("default")))
#else
#define VIGIL_API
#endif

/*
 * The version of the header. vigil_version() says which library a program
 * actually runs with, which may be newer than the header it was built
 * with. VIGIL_VERSION orders versions: (major << 16) | (minor << 8) | patch.
 */
#define VIGIL_VERSION_MAJOR 0
#define VIGIL_VERSION_MINOR 2
#define VIGIL_VERSION_PATCH 0
#define VIGIL_VERSION_STRING "0.2.0"
#define VIGIL_VERSION                                                                              \
  ((VIGIL_VERSION_MAJOR << 16) | (VIGIL_VERSION_MINOR << 8) | VIGIL_VERSION_PATCH)

/*
 * The version of the library in use, as VIGIL_VERSION and as
 * VIGIL_VERSION_STRING were when it was built. Safe from any thread.
 */
VIGIL_API unsigned vigil_version(void);
VIGIL_API const char *vigil_version_string(void);

/*
 * Growing the API. Until 1.0 any release may change the API; from 1.0 on,
 * a program built against an older vigil.h keeps working with a newer
 * library. Structs the caller allocates and the library reads or fills
 * (vigil_options, vigil_root_options, vigil_stats) carry their size for
 * that: the library reads or writes only the bytes the caller's struct
 * has. Fields are only ever appended, never removed or reordered, a
 * field's zero means what the field's absence meant before it existed,
 * and a version of a struct never ends in padding (so its size is a
 * prefix of every later version).
 *
 * The descriptor type. vigil_fd and vigil_wait_fds hand out
 * vigil_os_fd_t: on POSIX systems an int, a descriptor to poll (negative:
 * an error). On Windows it is a HANDLE (void *) of an event object, for
 * WaitForMultipleObjects or RegisterWaitForSingleObject (NULL: an error);
 * libuv's uv_os_fd_t makes the same split. Code that only stores it and hands it
 * to the platform's wait call works on both.
 *
 * Waiting. vigil_read has something to do when a backend's descriptor
 * has records, the mount table changed, vigil_wake was called, events
 * wait in the queue, or a deadline passed: a rename held back for its
 * pair, one more look at the kernel's queue after a spell of changes, a
 * file root's wait, a polling backend's next pass. On every platform two
 * calls cover all of it, in the manner of libuv's uv_backend_fd and
 * uv_backend_timeout, or libcurl's curl_multi_waitfds and
 * curl_multi_timeout: vigil_wait_fds lists the descriptors to wait on,
 * and vigil_timeout says how long such a wait may last at most. A program
 * that waits on those, for no longer, and then calls vigil_read(v, &ev, 0)
 * until it returns 0, misses nothing.
 *
 * Where the system has a descriptor that gathers others and can hold a
 * timer (Linux: epoll, eventfd and timerfd), vigil_fd is that descriptor,
 * the list holds it alone, and the timeout is always -1: vigil_fd alone is
 * enough there, as it always was. A kqueue descriptor nests the same way,
 * so a kqueue layer for macOS and the BSDs would answer alike. The POSIX
 * layer (poll and a pipe, for the other systems, or -DVIGIL_PLATFORM=posix)
 * has no such descriptor: there vigil_fd is a pipe, readable only after
 * vigil_wake and while events wait, and the list adds each backend's
 * descriptor and the mount table's, and the timeout carries the
 * deadlines. Windows has no handle that gathers others either
 * (WaitForMultipleObjects takes a list): its layer is built as the POSIX
 * one, vigil_fd an event set after vigil_wake and while events wait, and
 * the list adds each backend's event. A backend that polls has no
 * descriptor at all, only deadlines: it fits the timeout. vigil does not
 * make vigil_fd cover everything everywhere because on those systems only
 * a thread could (on Windows, one of the system's pool, through
 * RegisterWaitForSingleObject): one per instance, which the library
 * promises not to run behind the caller's back (it would also be one more
 * thing that a fork() leaves behind). Programs that wait in vigil_read,
 * or use vigil_start, need none of this: those wait on everything.
 */
#ifdef _WIN32
typedef void *vigil_os_fd_t;
#else
typedef int vigil_os_fd_t;
#endif

typedef struct vigil vigil_t;

/* The kinds of event. The values are part of the ABI and never change. */
typedef enum {
  VIGIL_CREATED = 1, /* path appeared */
  VIGIL_REMOVED,     /* path disappeared */
  VIGIL_MODIFIED,    /* content of path changed */
  VIGIL_ATTRIB,      /* metadata of path changed (mode, owner, times, xattrs) */
  VIGIL_MOVED,       /* from was renamed to path, within the watched tree,
                        replacing what was at path. An exchange of a and b
                        (RENAME_EXCHANGE) is "moved a -> b" and then
                        VIGIL_CREATED for a and all below it. */
  VIGIL_CLOSED,      /* path was closed after being opened for writing */
  VIGIL_OVERFLOW,    /* events were lost; a rescan follows (see docs/events.md) */
  VIGIL_ERROR,       /* path could not be watched or read; error says why */
  /*
   * The next two are reported only when vigil_options.events asks for them
   * by name: every read of every file in the tree makes them, so the
   * kernel is asked for them only then. They are about files only (vigil
   * lists directories itself, and would hear its own listing).
   */
  VIGIL_OPENED,        /* the file path was opened */
  VIGIL_CLOSED_NOWRITE /* path was closed after being opened without writing */
} vigil_kind;

#define VIGIL_KIND_MAX VIGIL_CLOSED_NOWRITE

/* The kinds delivered when vigil_options.events is 0: all but the costly two. */
#define VIGIL_KINDS_DEFAULT (((1u << (VIGIL_ERROR + 1)) - 1) & ~1u)

/* The bit of a kind in vigil_options.events: VIGIL_MASK(VIGIL_CREATED) | ... */
#define VIGIL_MASK(kind) (1u << (kind))

/* Bits of vigil_event.flags. */
enum {
  VIGIL_ISDIR = 1u << 0,     /* the entry is a directory */
  VIGIL_SYNTHETIC = 1u << 1, /* found by a scan, not reported by the kernel */
  /*
   * On VIGIL_CREATED: the entry was renamed into the root from outside it
   * (or from a place the root leaves out). On VIGIL_REMOVED: it was renamed
   * out. Both ends of a rename within the root carry it when VIGIL_MOVED
   * is left out of vigil_options.events. Only the top of a moved tree
   * carries it: what is below a tree moved in comes with VIGIL_SYNTHETIC,
   * and what is below a tree moved out is removed, children first,
   * without it.
   */
  VIGIL_BY_MOVE = 1u << 2
};

/*
 * One event. The strings are owned by the instance and stay valid until the
 * next call of vigil_read (or vigil_close) on the same instance.
 */
typedef struct {
  vigil_kind kind;
  unsigned flags;   /* VIGIL_ISDIR | VIGIL_SYNTHETIC */
  const char *path; /* the root as given to vigil_add, joined with the
                       relative path; NULL for VIGIL_OVERFLOW */
  const char *from; /* VIGIL_MOVED only: the old path; NULL otherwise */
  int error;        /* VIGIL_ERROR only: a negative errno or VIGIL_E* code */
} vigil_event;

/* Turns a vigil_kind into its lower-case name ("created", ...), or NULL. */
VIGIL_API const char *vigil_kind_name(vigil_kind kind);

/* Parses a kind name; returns the kind, or 0 if the name is unknown. */
VIGIL_API vigil_kind vigil_kind_parse(const char *name);

/*
 * Error codes that are not errno values. They are negative, below every
 * errno, append-only, and each has a text in vigil_strerror().
 */
enum {
  VIGIL_EWATCHLIMIT = -10001, /* inotify watch limit reached (see vigil_strerror) */
  VIGIL_EINSTLIMIT = -10002,  /* inotify instance limit reached (see vigil_strerror) */
  VIGIL_EFORKED = -10003,     /* the instance was created in another process */
  VIGIL_EBUSY = -10004,       /* the instance is started; use vigil_stop first */
  VIGIL_EPATTERN = -10005,    /* an exclude pattern is malformed */
  VIGIL_ENOTROOT = -10006,    /* vigil_remove: the path is not a root */
  VIGIL_EEXIST = -10007,      /* vigil_add: the path is already a root (same directory or file) */
  VIGIL_EOPTIONS = -10008,    /* vigil_options.size is not one this library knows */
  VIGIL_ENOBACKEND = -10009,  /* a backend named in the options is not built in */
  VIGIL_ENOPROC = -10010,     /* /proc is not mounted (watches are placed through it) */
  VIGIL_EROOTMOVED = -10011,  /* error event: a directory above the root was renamed */
  VIGIL_EOVERLAP = -10012     /* vigil_add: the root overlaps one of another backend */
};

/*
 * A message for err (a negative errno or VIGIL_E* code). For the limits it
 * names the sysctl to raise: fs.inotify.max_user_watches (or _instances),
 * or inside a user namespace whose own user.max_inotify_watches (or
 * _instances) is lower, that one; the two are read from /proc/sys at the
 * call. The string is static; safe from any thread.
 */
VIGIL_API const char *vigil_strerror(int err);

/*
 * Checks one exclude pattern (gitignore syntax) without opening anything:
 * 0 if it is well formed (blank lines and comments are), VIGIL_EPATTERN if
 * not, -ENOMEM. Safe from any thread.
 */
VIGIL_API int vigil_pattern_check(const char *pattern);

/*
 * Called during vigil_add every 256 directories watched. Returning non-zero
 * abandons the vigil_add, which then fails with -ECANCELED and leaves
 * nothing of the root behind: a long setup can be interrupted.
 */
typedef int (*vigil_progress_cb)(void *userdata, size_t dirs_watched);

/*
 * Options for vigil_open. Set them up with vigil_options_init, then set
 * the fields wanted: every field left at zero (or NULL) has its default.
 *
 *   vigil_options o;
 *   vigil_options_init(&o);
 *   o.events = VIGIL_MASK(VIGIL_CREATED) | VIGIL_MASK(VIGIL_REMOVED);
 *   vigil_open(&v, &o);
 */
typedef struct {
  /*
   * sizeof the struct the program was built with, which vigil_options_init
   * sets. A newer library gives the fields an older struct lacks their
   * defaults; an older library accepts a newer, larger struct as long as
   * the fields it does not know are zero, and fails with VIGIL_EOPTIONS
   * otherwise.
   */
  size_t size;
  /*
   * Exclude patterns in gitignore syntax, an array of exclude_count strings.
   * A pattern is matched against the path relative to each root. An
   * excluded directory is never listed and never gets a kernel watch. The
   * patterns are compiled by vigil_open; the caller keeps ownership. A
   * root added with vigil_add_opts can have patterns of its own instead.
   */
  const char *const *exclude;
  size_t exclude_count;
  /*
   * Which kinds to deliver: a mask of VIGIL_MASK(kind), 0 for VIGIL_KINDS_DEFAULT
   * (every kind but VIGIL_OPENED and VIGIL_CLOSED_NOWRITE, which must be
   * named). The tree is kept whatever the mask. Without VIGIL_MOVED in the
   * mask, a rename within a root is delivered as what it does to paths:
   * VIGIL_REMOVED for the entry it replaced (children first), then for the
   * old path and everything below it (children first), then VIGIL_CREATED
   * for the new path and everything below it (parents first); the old and
   * new top entries carry VIGIL_BY_MOVE, the created ones below it
   * VIGIL_SYNTHETIC. What is delivered is that stream filtered to the
   * mask, so with VIGIL_CREATED and VIGIL_REMOVED in it replay holds.
   */
  unsigned events;
  /* How long an unpaired rename source waits for its pair; 0 means 10 ms. */
  int move_wait_ms;
  /*
   * Batching in a storm, in microseconds; 0 means 250, negative turns it
   * off. When a blocking vigil_read (or the thread of vigil_start) follows
   * a busy spell and is woken within a millisecond by new records, it
   * waits this much longer before reading them, so that a storm is read
   * in large batches with far fewer wakeups, which is most of a watcher's
   * CPU in a storm. A change after a quiet spell, or a trickle of single
   * changes, is read at once; records that arrive back to back are
   * delivered up to this much later. vigil_wake and signals still end the
   * wait at once.
   */
  int batch_us;
  /*
   * The name of per-directory ignore files in gitignore syntax, such as
   * ".gitignore", or NULL. When a directory is listed, its file of that
   * name is read, and its patterns apply below that directory, as git
   * applies nested .gitignore files; exclude has the last word over them,
   * as git's command line does. A file created, changed, renamed or
   * removed later is read again at once, and what lies below its
   * directory is judged again: entries it now excludes are reported
   * VIGIL_REMOVED and no longer watched, entries it no longer excludes
   * are listed, watched and reported VIGIL_CREATED (VIGIL_SYNTHETIC), so
   * replay gives the watched tree (docs/events.md, "Exclusions"). A root
   * added with vigil_add_opts can name another, or none.
   */
  const char *ignore_file;
  /* Optional progress report during vigil_add, called on the adding thread. */
  vigil_progress_cb progress;
  void *progress_userdata;
  /*
   * The backend, the kernel interface that watches the roots: NULL or
   * "auto" for the best one built in, or a name from vigil_backend_name.
   * The string is read only during vigil_open.
   */
  const char *backend;
  /*
   * The polling backend ("poll"): the time from the start of one pass to
   * the start of the next, in milliseconds; 0 means 1000. A pass lists
   * every directory and stats every file, so on a large tree it may take
   * longer than this: the next pass then waits at least nine times the
   * CPU time the last one took, so that polling never takes more than a
   * tenth of one core. See docs/backends.md.
   */
  int poll_interval_ms;
} vigil_options;

/*
 * Sets every field of *opt to its default (zero) and opt->size to size.
 * Call it through vigil_options_init, which passes the size of the struct
 * the program was built with; the library writes exactly size bytes.
 * Returns 0, -EINVAL if opt is NULL, or VIGIL_EOPTIONS if size is not
 * the size of some version of vigil_options (a prefix of this one that
 * ends at a field, or a larger, newer one). Safe from any thread.
 */
VIGIL_API int vigil_options_init_sized(vigil_options *opt, size_t size);

static inline int vigil_options_init(vigil_options *opt) {
  return vigil_options_init_sized(opt, sizeof *opt);
}

/*
 * The name of built-in backend i, counting from 0 in order of preference,
 * or NULL past the last: the names vigil_options.backend accepts. Today
 * that is "inotify" (Linux), then "poll" (lists and compares, for file
 * systems whose changes the kernel cannot see; its events all carry
 * VIGIL_SYNTHETIC, see docs/backends.md). The strings are static; safe
 * from any thread.
 */
VIGIL_API const char *vigil_backend_name(size_t i);

/*
 * Creates an instance. opt may be NULL for the defaults; it is read only
 * during the call. On success *out owns an instance that vigil_close frees.
 * Errors: VIGIL_EOPTIONS (opt->size is not a size of vigil_options: the
 * options were not set up with vigil_options_init, or ask for options this
 * older library lacks), VIGIL_ENOBACKEND (opt->backend is not built in),
 * -ENOMEM, VIGIL_EINSTLIMIT (only with the backend "inotify": "auto" polls
 * instead, see vigil_root_fallback), VIGIL_EPATTERN, VIGIL_ENOPROC (watches
 * are placed through /proc/self/fd), other -errno.
 */
VIGIL_API int vigil_open(vigil_t **out, const vigil_options *opt);

/* Bits for vigil_add's flags. */
enum {
  VIGIL_NORECURSE = 1u << 0 /* watch only the directory itself, not below */
};

/*
 * Adds a root. A directory is watched recursively (unless VIGIL_NORECURSE),
 * file systems mounted below it later included;
 * a file is watched through its parent directory, and by its name: a save
 * that replaces the file (renamed onto it, or renamed away or deleted and
 * written again) is one VIGIL_MODIFIED, a file gone for longer than 50 ms
 * is VIGIL_REMOVED and one that comes back later VIGIL_CREATED, and the
 * root ends only when its directory goes away. A symbolic link given as
 * a root is followed; links inside the tree are reported, never followed.
 * The string is copied, and events carry it as given; a relative path is
 * resolved once, here, so a later chdir() changes nothing. Depth does not
 * matter (a directory deeper than PATH_MAX is watched). Each watch covers
 * the directory that is listed: the two are never told apart by name.
 * A path that is an existing root's directory (or file) under another
 * spelling ("d/", "./d", a link, a bind mount) fails with VIGIL_EEXIST.
 * A root inside another one ("d/sub" with "d") reports nothing while the
 * outer root holds it: each change is reported once, by the outer root,
 * under its path; the inner one keeps its watches and goes on by itself
 * if the outer one is removed (see docs/events.md, "Overlapping roots").
 * That takes one backend for both (VIGIL_EOVERLAP, vigil_root_options).
 * When vigil_add returns 0 every watch is in place
 * and later changes will be reported. Problems below the root (an
 * unreadable directory, say) do not fail the call: they are queued as
 * VIGIL_ERROR events. On failure nothing of the root is left behind.
 * With the backend "auto" the root gets the backend that can see its file
 * system, and so does each file system mounted below it: network, FUSE
 * and 9p file systems are polled (docs/backends.md).
 * Errors: -ENOENT, -EACCES, -ENAMETOOLONG, -ENOTDIR, VIGIL_EWATCHLIMIT
 * (with the backend "inotify"; "auto" polls the root instead, unless it
 * overlaps a root watched with inotify), -ENOSYS (with the backend
 * "windows": the root's file system refuses ReadDirectoryChangesW;
 * "auto" polls the root instead, with the same proviso), VIGIL_EEXIST, VIGIL_EOVERLAP (see
 * vigil_root_options.backend), VIGIL_EFORKED, -ENOMEM, -ECANCELED (see
 * vigil_progress_cb).
 */
VIGIL_API int vigil_add(vigil_t *v, const char *path, unsigned flags);

/*
 * Options of one root, for vigil_add_opts. Set them up with
 * vigil_root_options_init, then set the fields wanted; every field left at
 * zero (or NULL) has its default, which for the patterns and the ignore
 * file is the instance's (vigil_options). One instance can thus watch
 * roots that each leave out something else, rather than one instance per
 * set of patterns (each instance costs one of the kernel's
 * fs.inotify.max_user_instances, 128 by default).
 *
 *   vigil_root_options ro;
 *   vigil_root_options_init(&ro);
 *   ro.exclude = (const char *[]){"/build", "*.o"};
 *   ro.exclude_count = 2;
 *   vigil_add_opts(v, "src", 0, &ro);
 */
typedef struct {
  /* sizeof the struct, which vigil_root_options_init sets (see vigil_options.size). */
  size_t size;
  /*
   * The root's exclude patterns in gitignore syntax, an array of
   * exclude_count strings, matched against the path relative to this root.
   * NULL: the instance's patterns (vigil_options.exclude). Not NULL: these
   * instead of the instance's, even when exclude_count is 0 (then nothing
   * is excluded). They are compiled by vigil_add_opts; the caller keeps
   * ownership.
   */
  const char *const *exclude;
  size_t exclude_count;
  /*
   * The name of the root's per-directory ignore files, as
   * vigil_options.ignore_file. NULL: the instance's; "": none for this
   * root. The string is copied.
   */
  const char *ignore_file;
  /*
   * The backend that watches this root, as vigil_options.backend: NULL
   * for the instance's, or a name from vigil_backend_name ("auto" for the
   * best one built in). One instance can use several backends; the roots
   * that use the same one share it. Overlapping roots report each change
   * once, through the outer root, which is told by the watch they share;
   * roots of different backends share none, so a root that holds, or is
   * inside, a root of another backend is refused (VIGIL_EOVERLAP), rather
   * than each reporting the same change: a directory root holds the roots
   * below it (only those of its own directory with VIGIL_NORECURSE), a
   * file root none, compared by device and inode. Errors of
   * vigil_add_opts: VIGIL_ENOBACKEND when the name is not built in,
   * VIGIL_EOVERLAP, and that backend's errors when it must be opened for
   * this root.
   */
  const char *backend;
  /*
   * Base patterns: gitignore patterns, an array of base_exclude_count
   * strings matched against the path relative to this root, that rank
   * below every ignore file, where exclude ranks above them all. An
   * entry is judged by exclude first, then by the ignore files from the
   * deepest up, then by these: the first of them with a matching
   * pattern decides, and within one the last matching pattern does.
   * That is git's order from its command line down to .git/info/exclude
   * and core.excludesFile: a "!" line of an ignore file brings back what
   * these leave out, and a "!" pattern of exclude what an ignore file
   * leaves out. As everywhere, nothing below an excluded directory comes
   * back. They take part when an ignore file changes (see
   * vigil_options.ignore_file). The instance has none: NULL (or
   * base_exclude_count 0) is none. They are compiled by vigil_add_opts;
   * the caller keeps ownership.
   */
  const char *const *base_exclude;
  size_t base_exclude_count;
} vigil_root_options;

/*
 * Sets every field of *ro to its default (zero) and ro->size to size, as
 * vigil_options_init_sized does for vigil_options. Returns 0, -EINVAL if
 * ro is NULL, or VIGIL_EOPTIONS. Safe from any thread.
 */
VIGIL_API int vigil_root_options_init_sized(vigil_root_options *ro, size_t size);

static inline int vigil_root_options_init(vigil_root_options *ro) {
  return vigil_root_options_init_sized(ro, sizeof *ro);
}

/*
 * vigil_add with options of the root's own; flags are vigil_add's, and ro
 * NULL is vigil_add(v, path, flags). ro is read only during the call, and
 * the root keeps what it needs of it. Safe from any thread after
 * vigil_start, like vigil_add. Errors: those of vigil_add, and
 * VIGIL_EOPTIONS (ro->size is not a size of vigil_root_options),
 * VIGIL_EPATTERN (a malformed exclude or base pattern), -EINVAL
 * (exclude_count without exclude, base_exclude_count without
 * base_exclude, or a NULL pattern).
 */
VIGIL_API int vigil_add_opts(vigil_t *v, const char *path, unsigned flags,
                             const vigil_root_options *ro);

/*
 * Sets *name to the name of the backend that watches the root path (the
 * string given to vigil_add), such as "inotify". The string is static.
 * Safe from any thread after vigil_start, like vigil_add.
 * Errors: -EINVAL, VIGIL_ENOTROOT, VIGIL_EFORKED.
 */
VIGIL_API int vigil_root_backend(vigil_t *v, const char *path, const char **name);

/*
 * Sets *why to the reason the root path is polled although its file
 * system is local, or to 0 when it is not: with the backend "auto", a
 * root whose preferred backend cannot be had is polled instead, and
 * this is how a program learns it, to tell its user what would avoid
 * it. The reasons: VIGIL_EWATCHLIMIT (the inotify watch limit was
 * reached while the root was added: raise fs.inotify.max_user_watches),
 * VIGIL_EINSTLIMIT (no inotify instance could be had: raise
 * fs.inotify.max_user_instances), -ENOSYS (the kernel has no inotify;
 * on Windows, the root's file system refuses ReadDirectoryChangesW, as
 * some network shares do).
 * A root polled because its file system needs it (NFS, SMB, FUSE, 9p,
 * ...) has no such reason: vigil_root_backend says "poll".
 * Safe from any thread after vigil_start, like vigil_add.
 * Errors: -EINVAL, VIGIL_ENOTROOT, VIGIL_EFORKED.
 */
VIGIL_API int vigil_root_fallback(vigil_t *v, const char *path, int *why);

/*
 * Whether the root path (the string given to vigil_add) is still watched:
 * 1 if so, 0 if it ended (its directory was deleted, moved away or
 * unmounted: docs/events.md, "Roots that go away") and vigil_remove has
 * not forgotten it yet. A program with several roots learns this way
 * which one ended when vigil_get_stats counts fewer. Safe from any thread
 * after vigil_start, like vigil_add.
 * Errors: -EINVAL, VIGIL_ENOTROOT, VIGIL_EFORKED.
 */
VIGIL_API int vigil_root_watched(vigil_t *v, const char *path);

/*
 * Stops watching a root given to vigil_add (the same string), or forgets
 * one that went away. Nothing new is reported for it afterwards; events
 * already queued are still delivered.
 * Errors: VIGIL_ENOTROOT, VIGIL_EFORKED.
 */
VIGIL_API int vigil_remove(vigil_t *v, const char *path);

/*
 * A descriptor that polls readable whenever vigil_read would return without
 * blocking: an event is ready, or vigil_wake was called. On Linux it is also
 * readable, with vigil_read then returning 0, when a rename waits for its
 * pair past its deadline, once 10 ms after a spell of changes (one more
 * look at the kernel's queue, see docs/events.md on overflow), and when
 * the process's mount table changed (see docs/events.md, "Mounts"). Use it
 * with poll/epoll, libuv, libevent or asyncio's add_reader. It is owned by
 * the instance; do not read it or close it. Safe from any thread. On the
 * POSIX platform layer only vigil_wake and waiting events make it
 * readable: wait on vigil_wait_fds, with vigil_timeout, there (see
 * "Waiting", at vigil_os_fd_t).
 */
VIGIL_API vigil_os_fd_t vigil_fd(const vigil_t *v);

/* What to wait for on a descriptor of vigil_wait_fds. */
enum {
  VIGIL_WAIT_IN = 1u << 0, /* readable (POLLIN); on Windows, signalled */
  VIGIL_WAIT_PRI = 1u << 1 /* an exceptional condition only (POLLPRI), as Linux's
                              /proc/self/mountinfo raises: it always polls readable */
};

/* One descriptor to wait on, and for what (VIGIL_WAIT_*). */
typedef struct {
  vigil_os_fd_t fd;
  unsigned events;
} vigil_wait_fd;

/*
 * Every descriptor to wait on so that no reason to call vigil_read goes
 * unseen (see "Waiting", at vigil_os_fd_t): writes up to size of them
 * into fds, vigil_fd first, and returns how many there are in all, which
 * may be more than size (call again with room for that many). On Linux
 * that is vigil_fd alone. The descriptors are the instance's: do not read
 * or close them. The list changes only when a root is added with a
 * backend no root used before (vigil_add_opts): ask again after that.
 * Safe from any thread, like vigil_get_stats.
 * Errors: -EINVAL (v NULL, or fds NULL with size > 0), VIGIL_EFORKED.
 */
VIGIL_API int vigil_wait_fds(const vigil_t *v, vigil_wait_fd *fds, size_t size);

/*
 * Sets *timeout_ms to how long a caller waiting on vigil_wait_fds may wait
 * at most before it calls vigil_read even if nothing became readable: 0
 * for at once, -1 for no limit. It is the time left until the next
 * deadline that vigil_read has to meet (a held-back rename, say), and -1
 * where the descriptors cover the deadlines themselves (always on Linux).
 * Ask again after each vigil_read: a read sets the deadlines. Safe from
 * any thread, like vigil_get_stats.
 * Errors: -EINVAL, VIGIL_EFORKED.
 */
VIGIL_API int vigil_timeout(const vigil_t *v, int *timeout_ms);

/*
 * Delivers the next event into *ev. Blocks up to timeout_ms (-1: for ever,
 * 0: not at all). Returns 1 with an event, 0 on timeout, when woken by
 * vigil_wake or a signal, or when a root ended without an event the mask
 * lets through (see vigil_get_stats), or a negative error. The previous event's strings are
 * invalid from this call on.
 */
VIGIL_API int vigil_read(vigil_t *v, vigil_event *ev, int timeout_ms);

/*
 * Makes a blocked vigil_read return 0 (or the next one, if none is
 * blocked). Safe from any thread and async-signal-safe: it is a single
 * write (to an eventfd on Linux, to a pipe on the POSIX layer), and it
 * saves and restores errno.
 */
VIGIL_API int vigil_wake(vigil_t *v);

/*
 * The background thread. vigil_start makes one thread that reads events
 * and calls cb for each, with every signal blocked so that signals reach
 * the application's own threads. ev and its strings are valid until cb
 * returns. While the thread runs, vigil_read returns VIGIL_EBUSY;
 * vigil_add, vigil_remove and vigil_get_stats may be called from any
 * thread, including from inside cb. Errors: VIGIL_EBUSY if already
 * started, VIGIL_EFORKED, or -errno from pthread_create.
 */
typedef void (*vigil_cb)(vigil_t *v, const vigil_event *ev, void *userdata);
VIGIL_API int vigil_start(vigil_t *v, vigil_cb cb, void *userdata);

/*
 * The drain for a program that reads with vigil_read and is about to stop
 * (on SIGINT, say): delivers to cb every event already read and every
 * record already queued in the kernel when it is called (and what a
 * change of the mount table made before it did), and nothing that
 * arrives later, so it ends even while a storm goes on. A rename still
 * waiting for its pair is settled first. It never blocks; timeout_ms
 * bounds the time it spends (-1: no bound), and what it has not delivered
 * by then stays queued for a later vigil_read. ev and its strings are
 * valid until cb returns; cb must not call vigil_read or vigil_drain.
 * Returns the number of events delivered, or a negative error:
 * VIGIL_EBUSY while the thread of vigil_start runs (vigil_stop drains
 * there), VIGIL_EFORKED.
 */
VIGIL_API int vigil_drain(vigil_t *v, vigil_cb cb, void *userdata, int timeout_ms);

/*
 * Stops the thread of vigil_start. Safe from any thread, including from
 * inside cb.
 *
 * From another thread: every event already read, or already queued in the
 * kernel, when vigil_stop was called is delivered to cb before the thread
 * ends. If grace_ms runs out first, the rest are dropped and counted; the
 * next read or start then reports VIGIL_OVERFLOW and rescans, so nothing
 * is lost silently. Returns the number dropped (>= 0) within grace_ms +
 * 10 ms under any event load; -ETIMEDOUT if cb itself did not return in
 * that time (the thread then ends when it does, and vigil_close waits for
 * it); 0 if the instance was not started.
 *
 * From inside cb: returns 0 at once; the thread ends when cb returns, and
 * events not yet delivered stay queued for a later read or start.
 */
VIGIL_API int vigil_stop(vigil_t *v, int grace_ms);

/*
 * Counters of what an instance holds. Every field is a size_t, and new
 * counters are appended.
 */
typedef struct {
  size_t roots;       /* roots still being watched */
  size_t dirs;        /* directories in the tree */
  size_t entries;     /* all entries in the tree, directories included */
  size_t watches;     /* kernel watches held: each directory watched counts
                         once, however many roots share it */
  size_t add_watches; /* watches placed by the last vigil_add, even one that failed */
  size_t polled;      /* of watches, the directories watched by polling (backend "poll") */
} vigil_stats;

/*
 * Fills the first size bytes of *st; pass sizeof *st. An older program's
 * smaller struct gets only the counters it has, and a newer program's
 * larger one gets zero for the counters this library does not keep.
 * Errors: -EINVAL (size is 0 or not a multiple of sizeof(size_t)),
 * VIGIL_EFORKED.
 */
VIGIL_API int vigil_get_stats(const vigil_t *v, vigil_stats *st, size_t size);

/*
 * Frees the instance and closes every descriptor it holds. A started
 * instance is stopped first, with a grace of 0. In a forked child it frees
 * the child's copy and closes the child's descriptors, and leaves the
 * parent's watches alone. NULL is a no-op.
 */
VIGIL_API void vigil_close(vigil_t *v);

#ifdef __cplusplus
}
#endif

#endif /* VIGIL_H */
