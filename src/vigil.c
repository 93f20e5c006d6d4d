/*
 * The public API: an instance, its roots, and the read loop.
 *
 * The read loop waits through the platform layer (src/platform/), which
 * makes vigil_fd: on Linux one epoll descriptor that is readable for
 * every reason there is to call vigil_read, so one descriptor tells any
 * event loop "call vigil_read".
 */
#include "instance.h"
#include "drop.h"
#include "file_root.h"
#include "fstype.h"
#include "ignore.h"
#include "mounts.h"
#include "reconcile.h"
#include "thread.h"
#include "platform/portable.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Fork detection. getpid() is a system call on every read, so the hot path
 * compares a counter that a fork handler bumps in the child instead. This
 * is the library's only process-wide state, and it only ever counts.
 */
static unsigned long fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
  __atomic_add_fetch(&fork_generation, 1, __ATOMIC_RELAXED);
}

static void register_atfork(void) {
  pthread_atfork(NULL, NULL, on_fork_child);
}

int vigil__forked(const vigil_t *v) {
  return v->fork_gen != __atomic_load_n(&fork_generation, __ATOMIC_RELAXED) || getpid() != v->pid;
}

/*
 * The hot path (vigil_read with events queued) compares the counter only;
 * a child made without fork's handlers (_Fork, a raw clone) is caught by
 * the process id before any call touches the kernel.
 */
static int forked_fast(const vigil_t *v) {
  return v->fork_gen != __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
}

/* A root's nodes live in the tree's arena, which goes as a whole. */
static void root_free(vigil__root *r) {
  free(r->given);
  free(r->dirpath);
  free(r->base);
  free(r->ignore_file);
  vigil__filter_free(r->own_filter);
  vigil__filter_free(r->base_filter);
  vigil__ignore_free(r);
  free(r->abspath);
  free(r);
}

/* The tags of the sources in the platform layer's wait. */
#define SOURCE_BACKEND 1u
#define SOURCE_MOUNTS 2u

/*
 * The backends are multiplexed: each root uses one (vigil_root_options
 * .backend, or the instance's), and the roots that use the same backend
 * share one instance of it, a source. Every source's descriptor is waited
 * on with the one tag SOURCE_BACKEND, and vigil__step reads them all.
 * source_open opens be as the next source, not yet waited on.
 */
/* Does a backend have a descriptor to wait on? (A HANDLE on Windows, NULL for none.) */
static int has_fd(vigil_os_fd_t fd) {
#ifdef _WIN32
  return fd != NULL;
#else
  return fd >= 0;
#endif
}

static int source_open(vigil_t *v, const vigil__backend *be) {
  if (v->nsrc == VIGIL__SOURCES_MAX)
    return -ENOSPC;
  vigil__source *s = &v->src[v->nsrc];
  vigil__backend_config cfg = {
      .kinds = v->events, .move_wait_ms = v->move_wait_ms, .poll_interval_ms = v->poll_interval_ms};
  vigil_os_fd_t fd;
  int rc = be->open(&s->state, &fd, &cfg);
  if (rc < 0)
    return rc;
  s->be = be;
  s->fd = fd;
  s->left = 0;
  clock_gettime(VIGIL__CLOCK_COARSE, &s->synced);
  v->nsrc++;
  return 0;
}

/*
 * Waits on a source's descriptor. A backend with none (one that polls on
 * its own schedule) is heard through the wait_ms of its reads, which
 * set the timer.
 */
static int source_wait(vigil_t *v, const vigil__source *s) {
  return has_fd(s->fd) ? vigil__plat_add(v->plat, s->fd, VIGIL__PLAT_IN, SOURCE_BACKEND) : 0;
}

/* Is name (vigil_options.backend) the choice by file system? */
static int is_auto(const char *name) {
  return !name || strcmp(name, "auto") == 0;
}

/*
 * Does "auto" poll where be failed with err? When the kernel interface is
 * missing or its limits are reached, polling still sees every change, at
 * the cost of listings; other errors are errors.
 */
static int polls_instead(int err, const vigil__backend *be) {
  return be != vigil__fs_backend(1) &&
         (err == VIGIL_EWATCHLIMIT || err == VIGIL_EINSTLIMIT || err == -ENOSYS);
}

int vigil__source_get(vigil_t *v, const vigil__backend *be, unsigned *index) {
  for (unsigned i = 0; i < v->nsrc; i++)
    if (v->src[i].be == be) {
      *index = i;
      return 0;
    }
  int rc = source_open(v, be);
  if (rc < 0)
    return rc;
  vigil__source *s = &v->src[v->nsrc - 1];
  rc = source_wait(v, s);
  if (rc < 0) {
    be->close(s->state);
    memset(s, 0, sizeof *s);
    v->nsrc--;
    return rc;
  }
  *index = v->nsrc - 1;
  return 0;
}

void vigil__free(vigil_t *v) {
  for (vigil__root *r = v->roots, *next; r; r = next) {
    next = r->next;
    root_free(r);
  }
  for (unsigned i = 0; i < v->nsrc; i++)
    v->src[i].be->close(v->src[i].state);
  vigil__plat_close(v->plat);
  vigil__mounts_close(v);
  if (!vigil__forked(v) && v->sync_init) {
    /* In a forked child the lock may have been held by a thread that is gone. */
    pthread_mutex_destroy(&v->lock);
    pthread_cond_destroy(&v->cond);
  }
  vigil__filter_free(v->filter);
  free(v->ignore_file);
  vigil__tree_free(&v->tree);
  vigil__queue_free(&v->queue);
  free(v->scratch);
  free(v->rel);
  free(v->dents);
  free(v->chain);
  free(v->work);
  free(v->xchg);
  free(v->vanished);
  free(v);
}

int vigil_pattern_check(const char *pattern) {
  if (!pattern)
    return VIGIL_EPATTERN;
  vigil__filter *f = vigil__filter_new();
  if (!f)
    return -ENOMEM;
  int rc = vigil__filter_add(f, pattern, "");
  vigil__filter_free(f);
  return rc;
}

unsigned vigil_version(void) {
  return VIGIL_VERSION;
}

const char *vigil_version_string(void) {
  return VIGIL_VERSION_STRING;
}

/*
 * The sizes vigil_options and vigil_root_options can have: each is the
 * end of a field, so each is the size of the struct as it was when that
 * field was the last one (or could be, for a program that wants the
 * defaults of the rest). A field appended to either struct must be
 * appended here too; the static assertions below fail until it is.
 */
#define FIELD_END(type, f) (offsetof(type, f) + sizeof(((type *)0)->f))
#define OPT_END(f) FIELD_END(vigil_options, f)
static const size_t options_sizes[] = {
    OPT_END(size), OPT_END(exclude), OPT_END(exclude_count), OPT_END(events), OPT_END(move_wait_ms),
    OPT_END(batch_us), OPT_END(ignore_file), OPT_END(progress), OPT_END(progress_userdata),
    OPT_END(backend), OPT_END(poll_interval_ms),
    /* With the padding after the last field: what sizeof says a program built with it has. */
    sizeof(vigil_options)};
_Static_assert(sizeof(vigil_options) - OPT_END(poll_interval_ms) < _Alignof(vigil_options),
               "a field was appended to vigil_options: add it to options_sizes");
#define ROOT_END(f) FIELD_END(vigil_root_options, f)
static const size_t root_options_sizes[] = {
    ROOT_END(size),    ROOT_END(exclude),      ROOT_END(exclude_count),     ROOT_END(ignore_file),
    ROOT_END(backend), ROOT_END(base_exclude), ROOT_END(base_exclude_count)};
_Static_assert(ROOT_END(base_exclude_count) == sizeof(vigil_root_options),
               "a field was appended to vigil_root_options: add it to root_options_sizes");

/* The versions one sized struct has had: their sizes, and the latest's. */
typedef struct {
  const size_t *sizes;
  size_t n;
  size_t latest;
} sized_struct;

static const sized_struct options_struct = {
    options_sizes, sizeof options_sizes / sizeof options_sizes[0], sizeof(vigil_options)};
static const sized_struct root_options_struct = {
    root_options_sizes, sizeof root_options_sizes / sizeof root_options_sizes[0],
    sizeof(vigil_root_options)};

/* Is size that of some version of the struct, older or newer? */
static int size_known(const sized_struct *t, size_t size) {
  if (size > t->latest)
    return 1;
  for (size_t i = 0; i < t->n; i++)
    if (t->sizes[i] == size)
      return 1;
  return 0;
}

/* Zeroes size bytes at p and sets the leading size field. */
static int sized_init(const sized_struct *t, void *p, size_t size) {
  if (!p)
    return -EINVAL;
  if (!size_known(t, size))
    return VIGIL_EOPTIONS;
  memset(p, 0, size);
  memcpy(p, &size, sizeof size);
  return 0;
}

/*
 * Copies the caller's struct (src, which starts with its size) into dst,
 * which has this library's layout: what an older, smaller struct lacks
 * stays zero (the default), and a newer, larger struct is accepted only
 * when what this library does not know of it is zero, since a request
 * that would be ignored is an error.
 */
static int sized_read(const sized_struct *t, void *dst, const void *src) {
  memset(dst, 0, t->latest);
  if (!src)
    return 0;
  size_t size;
  memcpy(&size, src, sizeof size);
  if (!size_known(t, size))
    return VIGIL_EOPTIONS;
  if (size > t->latest) {
    const unsigned char *tail = (const unsigned char *)src + t->latest;
    for (size_t i = 0; i < size - t->latest; i++)
      if (tail[i])
        return VIGIL_EOPTIONS;
  }
  memcpy(dst, src, size < t->latest ? size : t->latest);
  return 0;
}

int vigil_options_init_sized(vigil_options *opt, size_t size) {
  return sized_init(&options_struct, opt, size);
}

int vigil_root_options_init_sized(vigil_root_options *ro, size_t size) {
  return sized_init(&root_options_struct, ro, size);
}

/* Compiles patterns into *out, which stays NULL when they exclude nothing. */
static int compile_filter(const char *const *pat, size_t n, vigil__filter **out) {
  *out = NULL;
  if (!n)
    return 0;
  if (!pat)
    return -EINVAL;
  vigil__filter *f = vigil__filter_new();
  if (!f)
    return -ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = pat[i] ? vigil__filter_add(f, pat[i], "") : -EINVAL;
  if (rc < 0 || vigil__filter_count(f) == 0)
    vigil__filter_free(f);
  else
    *out = f;
  return rc;
}

static int init_sync(vigil_t *v) {
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0)
    return -ENOMEM;
  /* vigil_stop's deadline is on the monotonic clock, immune to clock changes. */
  vigil__cond_clock(&ca);
  int rc = pthread_cond_init(&v->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0)
    return -rc;
  rc = pthread_mutex_init(&v->lock, NULL);
  if (rc != 0) {
    pthread_cond_destroy(&v->cond);
    return -rc;
  }
  v->sync_init = 1;
  return 0;
}

int vigil_open(vigil_t **out, const vigil_options *opt) {
  return vigil__open_with(out, opt, NULL);
}

int vigil__open_with(vigil_t **out, const vigil_options *opt, const vigil__backend *be) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  vigil_options o;
  int rc = sized_read(&options_struct, &o, opt);
  if (rc < 0)
    return rc;
  int choose = !be && is_auto(o.backend);
  if (!be)
    be = vigil__backend_find(o.backend);
  if (!be)
    return VIGIL_ENOBACKEND;
  pthread_once(&atfork_once, register_atfork);
  vigil_t *v = vigil__calloc(1, sizeof *v);
  if (!v)
    return -ENOMEM;
  v->auto_backend = choose;
  v->mountfd = -1;
  v->pid = getpid();
  v->fork_gen = __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
  v->events = o.events ? o.events : VIGIL_KINDS_DEFAULT;
  v->move_wait_ms = o.move_wait_ms > 0 ? o.move_wait_ms : 10;
  v->batch_us = VIGIL__BATCH_US;
  v->storm_records = VIGIL__STORM_RECORDS;
  v->storm_wait_us = VIGIL__STORM_WAIT_US;
  if (o.batch_us)
    v->batch_us = o.batch_us > 0 ? o.batch_us : 0;
  if (o.ignore_file && o.ignore_file[0]) {
    v->ignore_file = vigil__strdup(o.ignore_file);
    if (!v->ignore_file) {
      vigil__free(v);
      return -ENOMEM;
    }
  }
  v->progress = o.progress;
  v->progress_userdata = o.progress_userdata;
  v->poll_interval_ms = o.poll_interval_ms > 0 ? o.poll_interval_ms : 0;

  rc = init_sync(v);
  if (rc < 0)
    goto err;
  rc = vigil__tree_init(&v->tree);
  if (rc < 0)
    goto err;
  rc = compile_filter(o.exclude, o.exclude_count, &v->filter);
  if (rc < 0)
    goto err;
  /*
   * The default backend is opened now: its limits are vigil_open's
   * errors, unless "auto" can poll instead (and says why).
   */
  rc = source_open(v, be);
  if (rc < 0 && v->auto_backend && polls_instead(rc, be))
    rc = source_open(v, vigil__fs_backend(1)); /* each root asks again, and learns why */
  if (rc < 0)
    goto err;
  if ((rc = vigil__plat_open(&v->plat)) < 0 || (rc = source_wait(v, &v->src[0])) < 0)
    goto err;
  if ((rc = vigil__mounts_open(v)) < 0)
    goto err;
#ifndef _WIN32 /* no mount table there (mounts.c) */
  /* POLLPRI only: the file always polls readable. */
  if (v->mountfd >= 0 &&
      (rc = vigil__plat_add(v->plat, v->mountfd, VIGIL__PLAT_PRI, SOURCE_MOUNTS)) < 0)
    goto err;
#endif
  *out = v;
  return 0;
err:
  vigil__free(v);
  return rc;
}

void vigil_close(vigil_t *v) {
  if (!v)
    return;
  if (!vigil__forked(v) && vigil__started(v)) {
    vigil__lock(v);
    if (pthread_equal(pthread_self(), v->thread) && !v->thread_done) {
      /* From the callback: the thread frees the instance when cb returns. */
      v->stop = VIGIL__STOP_NOW;
      v->close_on_exit = 1;
      vigil__unlock(v);
      return;
    }
    vigil__unlock(v);
    vigil__thread_end(v);
  }
  vigil__free(v);
}

/* An error from vigil_fd: a negative error on POSIX systems, NULL on Windows. */
#ifdef _WIN32
#define FD_ERROR(err) NULL
#else
#define FD_ERROR(err) (err)
#endif

vigil_os_fd_t vigil_fd(const vigil_t *v) {
  if (!v)
    return FD_ERROR(-EINVAL);
  if (vigil__forked(v))
    return FD_ERROR(VIGIL_EFORKED);
  return vigil__plat_fd(v->plat);
}

int vigil_wait_fds(const vigil_t *v, vigil_wait_fd *fds, size_t size) {
  if (!v || (size && !fds))
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  size_t n = vigil__plat_fds(v->plat, fds, size);
  vigil__unlock(v);
  return n > INT_MAX ? INT_MAX : (int)n;
}

int vigil_timeout(const vigil_t *v, int *timeout_ms) {
  if (!v || !timeout_ms)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  *timeout_ms = vigil__plat_timeout(v->plat);
  vigil__unlock(v);
  return 0;
}

int vigil_wake(vigil_t *v) {
  if (!v)
    return -EINVAL;
  int saved = errno;
  /* getpid and an atomic load are async-signal-safe; a child must not wake the parent. */
  if (vigil__forked(v)) {
    errno = saved;
    return VIGIL_EFORKED;
  }
  int rc = vigil__plat_wake(v->plat);
  errno = saved;
  return rc;
}

/* Keeps vigil_fd readable exactly while vigil_read has something to deliver. */
static void signal_queue(vigil_t *v) {
  vigil__plat_ready(v->plat, !vigil__queue_empty(&v->queue) || v->need_repair);
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t vigil__now_ms(void) {
  return now_us() / 1000;
}

/*
 * Something was lost without the kernel saying so (memory ran out while an
 * event was queued, or a file system inside the tree was unmounted). It is
 * reported like a kernel overflow, and repaired the same way.
 */
static int repair(vigil_t *v) {
  return vigil__obs_overflow(v);
}

/*
 * The moment the stream was last known complete (a source's synced, see
 * check_changed in reconcile.c) is taken when a read finds the kernel's
 * queue empty, from the coarse clock files are stamped with. Right after a
 * change that read comes within the change's clock tick, so after an
 * overflow the change would be reported once more although it was already
 * delivered. One more look at the queue, RESYNC_MS after records were last
 * read (once the tick is over), moves that moment past it: an idle
 * instance wakes once after each spell of changes, and a change older than
 * a tick is never reported twice. The look is due RESYNC_MS after the first
 * records of a spell and put off from there, so a storm re-arms the timer
 * at most once every RESYNC_MS.
 */
#define RESYNC_MS 10

/* Records were read (n > 0) or not: when the look is due, and how long until then. */
static void resync(vigil_t *v, int n, int *wait_ms) {
  if (n <= 0 && !v->resync_due)
    return;
  int64_t now = vigil__now_ms();
  if (n > 0) {
    v->records_ms = now;
    if (!v->resync_due)
      v->resync_due = now + RESYNC_MS;
  } else if (now >= v->resync_due) {
    /* The queue was empty a tick after the last records, or look again. */
    v->resync_due = now - v->records_ms >= RESYNC_MS ? 0 : v->records_ms + RESYNC_MS;
  }
  if (!v->resync_due)
    return;
  int w = v->resync_due > now ? (int)(v->resync_due - now) : 0;
  if (*wait_ms < 0 || w < *wait_ms)
    *wait_ms = w;
}

/*
 * Reads every source once; returns whether any had records. A drain reads
 * each only up to what it had left (see vigil__drain), and a source that
 * has nothing ready has nothing more for the drain.
 */
static int read_sources(vigil_t *v, int draining, int *wait_ms, size_t *got) {
  int any = 0;
  *wait_ms = -1;
  for (unsigned i = 0; i < v->nsrc; i++) {
    vigil__source *s = &v->src[i];
    if (draining && !s->left)
      continue;
    vigil__read_result res = {.wait_ms = -1};
    v->emit_flags = s->be->caps & VIGIL__CAP_SYNTHETIC ? VIGIL_SYNTHETIC : 0;
    int rc = s->be->read(s->state, v, draining ? s->left : 0, &res);
    v->emit_flags = 0;
    if (rc < 0)
      return rc;
    if (res.synced)
      s->synced = res.sync;
    v->records_since_wait += res.records;
    if (res.wait_ms >= 0 && (*wait_ms < 0 || res.wait_ms < *wait_ms))
      *wait_ms = res.wait_ms;
    *got += res.units;
    any |= res.units > 0;
    if (draining)
      s->left = res.units ? s->left - (res.units < s->left ? res.units : s->left) : 0;
  }
  return any;
}

int vigil__step(vigil_t *v, vigil_event *ev, int draining, int *wait_ms, size_t *got) {
  *wait_ms = -1;
  *got = 0;
  for (;;) {
    int popped = vigil__queue_pop(&v->queue, ev);
    if (popped) {
      signal_queue(v);
      return popped;
    }
    if (v->need_repair) {
      int rc = repair(v);
      if (rc < 0)
        return rc;
      continue;
    }
    /* Before the records: a watch the kernel dropped in an unmount is replaced first. */
    int rc = v->roots ? vigil__mounts_check(v) : 0;
    if (rc < 0)
      return rc;
    if (!vigil__queue_empty(&v->queue))
      continue;
    int n = read_sources(v, draining, wait_ms, got);
    if (n < 0)
      return n;
    /*
     * A file root's file is waited for until its time is up and the
     * kernel's queue has been found empty: the file may be back in a
     * record not yet read.
     */
    vigil__files_settle(v, n == 0 ? vigil__now_ms() : 0, wait_ms);
    resync(v, n, wait_ms);
    vigil__plat_timer(v->plat, *wait_ms);
    if (vigil__queue_empty(&v->queue))
      return 0;
  }
}

/*
 * A storm's records are gathered before they are read. When a blocking
 * wait follows a busy spell (at least storm_records records read since
 * the last blocking wait) and the kernel ends it within storm_wait_us,
 * records are arriving back to back: waiting batch_us longer (for
 * vigil_wake or a signal only) lets them pile up, so that one wakeup and
 * one read take many records instead of a few. Each wakeup costs a context
 * switch, which in a storm is most of the CPU a watcher uses. A change
 * after a quiet spell ends a longer wait, and a trickle (one change at a
 * time, each a few records) is not busy enough: both are read at once,
 * where gathering would only add a wakeup. Records that do arrive back to
 * back wait, never more than batch_us.
 */

int vigil__wait(vigil_t *v, int block) {
  int64_t t0 = 0;
  if (block != 0) {
    /* A storm: enough came since the last blocking wait, and more comes at once. */
    if (v->batch_us && v->records_since_wait >= v->storm_records)
      t0 = now_us();
    v->records_since_wait = 0;
  }
  unsigned ready;
  int r = vigil__plat_wait(v->plat, block, &ready);
  if (r != 0)
    return r;
  if ((ready & SOURCE_BACKEND) && t0 && now_us() - t0 < v->storm_wait_us)
    return vigil__plat_gather(v->plat, v->batch_us);
  return 0;
}

void vigil__sources_flush(vigil_t *v) {
  for (unsigned i = 0; i < v->nsrc; i++)
    v->src[i].be->flush(v->src[i].state, v);
}

void vigil__drain_mark(vigil_t *v, int all) {
  for (unsigned i = 0; i < v->nsrc; i++)
    v->src[i].left = all ? v->src[i].be->pending(v->src[i].state) : 0;
}

static int drain_left(const vigil_t *v) {
  for (unsigned i = 0; i < v->nsrc; i++)
    if (v->src[i].left)
      return 1;
  return 0;
}

size_t vigil__drain_discard(vigil_t *v) {
  size_t dropped = 0;
  for (unsigned i = 0; i < v->nsrc; i++) {
    if (v->src[i].left)
      dropped += v->src[i].be->discard(v->src[i].state, v->src[i].left);
    v->src[i].left = 0;
  }
  return dropped;
}

size_t vigil__drain(vigil_t *v, int64_t deadline, vigil_cb deliver, void *ctx) {
  vigil__sources_flush(v);
  /* A change of the mount table made before the drain is delivered too. */
  if (v->roots)
    vigil__mounts_check(v);
  size_t n = 0;
  while (vigil__now_ms() < deadline) {
    if (vigil__queue_empty(&v->queue) && !drain_left(v)) {
      if (!v->files_waiting)
        break;
      /* Every record is in: a file root's file not back by now is removed. */
      vigil__files_settle(v, INT64_MAX, NULL);
      continue;
    }
    vigil_event ev;
    int wait_ms;
    size_t got;
    int r = vigil__step(v, &ev, 1, &wait_ms, &got);
    if (r == 1) {
      deliver(v, &ev, ctx);
      n++;
    } else if (r < 0) {
      vigil__drain_mark(v, 0);
    }
  }
  return n;
}

int vigil_drain(vigil_t *v, vigil_cb cb, void *userdata, int timeout_ms) {
  if (!v || !cb)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  if (vigil__busy(v))
    return VIGIL_EBUSY;
  int64_t deadline = timeout_ms >= 0 ? vigil__now_ms() + timeout_ms : INT64_MAX;
  vigil__drain_mark(v, 1);
  size_t n = vigil__drain(v, deadline, cb, userdata);
  /* The queue is left as it is: what was not delivered comes with the next read. */
  signal_queue(v);
  return n > INT32_MAX ? INT32_MAX : (int)n;
}

int vigil_read(vigil_t *v, vigil_event *ev, int timeout_ms) {
  if (!v || !ev)
    return -EINVAL;
  if (forked_fast(v) || (vigil__queue_empty(&v->queue) && getpid() != v->pid))
    return VIGIL_EFORKED;
  if (vigil__busy(v))
    return VIGIL_EBUSY;
  int64_t deadline = timeout_ms > 0 ? vigil__now_ms() + timeout_ms : 0;
  size_t roots_gone = v->roots_gone;
  for (;;) {
    int wait_ms;
    size_t more;
    int r = vigil__step(v, ev, 0, &wait_ms, &more);
    if (r != 0)
      return r;
    /* A root ended with no event let through (--events): the caller must hear. */
    if (v->roots_gone != roots_gone)
      return 0;
    int left = -1;
    if (timeout_ms == 0)
      left = 0;
    else if (timeout_ms > 0) {
      int64_t l = deadline - vigil__now_ms();
      left = l > 0 ? (int)l : 0;
    }
    /* Records were read but none became an event: look again at once. */
    int block = more ? 0 : left;
    if (wait_ms >= 0 && (block < 0 || wait_ms < block))
      block = wait_ms;
    r = vigil__wait(v, block);
    if (r != 0)
      return r < 0 ? r : 0; /* woken by vigil_wake, or by a signal */
    /*
     * Out of time. A rename still held back is resolved by a later call;
     * meanwhile the timer keeps vigil_fd readable for it.
     */
    if (left == 0)
      return 0;
  }
}

static vigil__root *find_root(vigil_t *v, const char *path) {
  for (vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead && strcmp(r->given, path) == 0)
      return r;
  return NULL;
}

static vigil__root *same_root(vigil_t *v, const vigil__root *n) {
  for (vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead && r->dev == n->dev && r->ino == n->ino && r->is_file == n->is_file &&
        (!r->is_file || strcmp(r->base, n->base) == 0))
      return r;
  return NULL;
}

/*
 * How many levels above the directory at path (absolute, as realpath
 * gives it) the directory dev/ino is: 0 for path itself, 1 for its
 * parent, and so on; -1 if it is none of them. Compared by device and
 * inode, as same_root compares, so no link or bind mount hides it.
 */
static int levels_above(const char *path, unsigned long dev, ino_t ino) {
  char buf[PATH_MAX];
  size_t len = strlen(path);
  if (len >= sizeof buf)
    return -1;
  memcpy(buf, path, len + 1);
  for (int level = 0;; level++) {
    struct stat st;
    if (stat(buf, &st) == 0 && (unsigned long)st.st_dev == dev && st.st_ino == ino)
      return level;
    if (len <= 1)
      return -1;
    while (len > 1 && buf[len - 1] != '/')
      len--;
    if (len > 1)
      len--;
    buf[len] = '\0';
  }
}

/*
 * Does outer report changes of what inner watches? A directory root
 * holds a root in its directory (a file root there), and one below it
 * unless it watches only its top (VIGIL_NORECURSE); a file root holds no
 * other root.
 */
static int root_holds(const vigil__root *outer, const vigil__root *inner) {
  if (outer->is_file)
    return 0;
  int up = levels_above(inner->abspath, outer->dev, outer->ino);
  return up == 0 || (up > 0 && !outer->norecurse);
}

/*
 * Overlapping roots report each change once, through the outer root, and
 * which root holds which is told by the watch two nodes of the same
 * directory share (vigil__covered, in emit.c). Roots watched by different
 * backends share no watch, so neither could tell: each would report the
 * change. Rather than report it twice, vigil_add refuses a root that
 * holds, or is held by, a live root of another backend (VIGIL_EOVERLAP).
 * Only roots of another backend are looked at, so an instance with one
 * backend pays nothing for this.
 */
static int overlaps_other_backend(const vigil_t *v, const vigil__root *n) {
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead && r->src != n->src && (root_holds(r, n) || root_holds(n, r)))
      return 1;
  return 0;
}

/* Is c a separator of a path as given? Windows takes '\\' as well as '/'. */
static int is_sep(char c) {
#ifdef _WIN32
  return c == '/' || c == '\\';
#else
  return c == '/';
#endif
}

/*
 * A file root is watched through its directory. A symbolic link the
 * caller named is followed to the file it points to, whose directory and
 * name are then the ones watched; events still carry the path as given.
 */
static int split_file_root(vigil__root *r) {
  char *real = NULL;
  const char *p = r->given;
  size_t len = r->prefix_len;
  struct stat lst;
  if (VIGIL__SYS(lstat(r->given, &lst)) == 0 && S_ISLNK(lst.st_mode)) {
    real = realpath(r->given, NULL);
    if (!real)
      return -errno;
    p = real;
    len = strlen(real);
  }
  size_t b = len;
  while (b > 0 && !is_sep(p[b - 1]))
    b--;
  r->base = vigil__malloc(len - b + 1);
  size_t d = b;
  while (d > 1 && is_sep(p[d - 1]))
    d--;
  r->dirpath = vigil__malloc(d ? d + 1 : 2);
  if (!r->base || !r->dirpath) {
    free(real);
    return -ENOMEM;
  }
  memcpy(r->base, p + b, len - b);
  r->base[len - b] = '\0';
  if (d == 0)
    strcpy(r->dirpath, ".");
  else {
    memcpy(r->dirpath, p, d);
    r->dirpath[d] = '\0';
  }
  free(real);
  return 0;
}

/*
 * The root's patterns and ignore file: its own where ro names them, the
 * instance's otherwise; its base patterns, only its own. Its backend: the
 * one ro names; for "auto" (or the instance's "auto"), root_choose
 * decides once its directory is known.
 */
static int root_options(vigil_t *v, vigil__root *r, const vigil_root_options *ro) {
  r->filter = v->filter;
  r->auto_backend = ro->backend ? is_auto(ro->backend) : v->auto_backend;
  if (ro->backend && !r->auto_backend) {
    const vigil__backend *be = vigil__backend_find(ro->backend);
    if (!be)
      return VIGIL_ENOBACKEND;
    unsigned i;
    int rc = vigil__source_get(v, be, &i);
    if (rc < 0)
      return rc;
    r->src = i & (VIGIL__SOURCES_MAX - 1);
  }
  if (ro->exclude || ro->exclude_count) {
    int rc = compile_filter(ro->exclude, ro->exclude_count, &r->own_filter);
    if (rc < 0)
      return rc;
    r->filter = r->own_filter;
  }
  int rc = compile_filter(ro->base_exclude, ro->base_exclude_count, &r->base_filter);
  if (rc < 0)
    return rc;
  const char *ign = ro->ignore_file ? ro->ignore_file : v->ignore_file;
  if (ign && ign[0]) {
    r->ignore_file = vigil__strdup(ign);
    if (!r->ignore_file)
      return -ENOMEM;
    r->ignore_len = strlen(ign);
    v->ignore_files = 1;
  }
  return 0;
}

/*
 * "auto"'s choice for a root, by the file system of its directory: a
 * local one gets the preferred backend, one that changes where the kernel
 * cannot see it gets polling (fstype.c). When the preferred backend
 * cannot be had (the inotify instance limit), the root is polled, and
 * r->fallback says why.
 */
static int root_choose(vigil_t *v, vigil__root *r) {
  r->fallback = 0;
  /* A file system that cannot be asked is taken as local: the listing will say more. */
  int remote = vigil__fs_remote_path(r->abspath, NULL) > 0;
  const vigil__backend *be = vigil__fs_backend(remote);
  unsigned i;
  int rc = vigil__source_get(v, be, &i);
  if (rc < 0 && polls_instead(rc, be)) {
    r->fallback = rc;
    rc = vigil__source_get(v, vigil__fs_backend(1), &i);
  }
  if (rc < 0)
    return rc;
  r->src = i & (VIGIL__SOURCES_MAX - 1);
  return 0;
}

/* Watches held by all the backends. */
static size_t count_watches(const vigil_t *v) {
  size_t n = 0;
  for (unsigned i = 0; i < v->nsrc; i++)
    n += v->src[i].be->watches(v->src[i].state);
  return n;
}

/* Makes the root's top node, then lists and watches what lies below. */
static int scan_root(vigil_t *v, vigil__root *r, uint64_t ino) {
  r->top = vigil__node_new(&v->tree, "", 0, VIGIL__T_DIR, ino);
  if (!r->top)
    return -ENOMEM;
  vigil__node_dir(r->top)->root = r;
  /* A change of the mount table before this listing must not be applied to it later. */
  int rc = vigil__mounts_check(v);
  return rc < 0 ? rc : vigil__reconcile(v, r->top, VIGIL__SCAN_SETUP);
}

/* Undoes scan_root: every watch the root placed goes, and no event is reported. */
static void drop_top(vigil_t *v, vigil__root *r) {
  if (!r->top)
    return;
  r->dead = 1;
  vigil__drop(v, r->top, 0);
  r->top = NULL;
  r->dead = 0;
}

static int add_root(vigil_t *v, const char *path, unsigned flags, const vigil_root_options *ro) {
  size_t len = strlen(path);
  if (len == 0)
    return -ENOENT;
  if (len >= PATH_MAX)
    return -ENAMETOOLONG;
  if (find_root(v, path))
    return VIGIL_EEXIST;
  struct stat st;
  if (VIGIL__SYS(stat(path, &st)) < 0)
    return -errno;

  v->add_dirs = 0;
  v->add_told = 0;
  v->add_watches = 0;
  size_t watches_before = count_watches(v);
  vigil__root *r = vigil__calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  int rc = -ENOMEM;
  r->given = vigil__strdup(path);
  if (!r->given)
    goto err;
  r->prefix_len = len;
  while (r->prefix_len > 1 && is_sep(path[r->prefix_len - 1]))
    r->prefix_len--;
  rc = root_options(v, r, ro);
  if (rc < 0)
    goto err;
  rc = -ENOMEM;
  r->norecurse = (flags & VIGIL_NORECURSE) != 0;
  r->is_file = !S_ISDIR(st.st_mode);
  if (r->is_file) {
    rc = split_file_root(r);
    if (rc < 0)
      goto err;
  }
  /*
   * Resolved once, for good: a relative root keeps naming this directory
   * whatever chdir() the program makes later.
   */
  r->abspath = realpath(r->is_file ? r->dirpath : path, NULL);
  /*
   * A directory root's st is already the directory's (realpath names the
   * same one), and a stat is not cheap everywhere (on Windows it asks the
   * volume for its serial number); a file root's is its directory's.
   */
  if (!r->abspath || (r->is_file && VIGIL__SYS(stat(r->abspath, &st)) < 0)) {
    rc = -errno;
    goto err;
  }
  rc = -ENOMEM;
  r->dev = (unsigned long)st.st_dev;
  r->ino = st.st_ino;
  struct stat up;
  if (vigil__stat_above(r->abspath, &up) == 0) {
    r->up_dev = (unsigned long)up.st_dev;
    r->up_ino = up.st_ino;
  }
  /*
   * The same directory (or the same name in it) under another spelling,
   * "d/", "./d", a symbolic link or a bind mount, is the same root.
   */
  rc = VIGIL_EEXIST;
  if (same_root(v, r))
    goto err;
  if (r->auto_backend && (rc = root_choose(v, r)) < 0)
    goto err;
  /* After the choice: the backend it gets is the one that must not overlap another. */
  rc = VIGIL_EOVERLAP;
  if (overlaps_other_backend(v, r))
    goto err;
  rc = scan_root(v, r, st.st_ino);
  if ((rc == VIGIL_EWATCHLIMIT || rc == -ENOSYS) && r->auto_backend &&
      polls_instead(rc, v->src[r->src].be)) {
    /*
     * The watch limit, reached part of the way down, or a backend that
     * cannot watch this root's file system at all (ReadDirectoryChangesW
     * refused by a network share): "auto" polls the whole root instead
     * (mount points below it too), and says why.
     */
    int why = rc;
    v->add_watches = count_watches(v) - watches_before;
    drop_top(v, r);
    unsigned i, was = r->src;
    rc = vigil__source_get(v, vigil__fs_backend(1), &i);
    if (rc == 0) {
      r->src = i & (VIGIL__SOURCES_MAX - 1);
      /* Polled, it would overlap a root of the other backend: the error stands. */
      if (overlaps_other_backend(v, r)) {
        r->src = was & (VIGIL__SOURCES_MAX - 1);
        rc = why;
        goto err; /* add_watches says how many fitted */
      }
      r->fallback = why;
      r->auto_backend = 0;
      v->add_dirs = v->add_told = 0;
      rc = scan_root(v, r, st.st_ino);
    }
  }
  /* Counted before a failure undoes them: the watch-limit message says how many fit. */
  v->add_watches = count_watches(v) - watches_before;
  if (rc == 0 && r->is_file && !vigil__node_first(r->top))
    rc = -ENOENT; /* the file went away between stat and the listing */
  if (rc < 0)
    goto err;
  r->next = v->roots;
  v->roots = r;
  signal_queue(v);
  /*
   * A backend with no descriptor (polling) is read when its time comes,
   * which its read says, and only a read arms the timer for it: the timer
   * falls due at once, so that a program waiting on vigil_fd (or
   * vigil_wait_fds and vigil_timeout) reads, and the first pass is timed.
   */
  if (!has_fd(v->src[r->src].fd))
    vigil__plat_timer(v->plat, 0);
  return 0;
err:
  drop_top(v, r);
  root_free(r);
  return rc;
}

static int remove_root(vigil_t *v, const char *path) {
  vigil__root **pp = &v->roots;
  while (*pp && strcmp((*pp)->given, path) != 0)
    pp = &(*pp)->next;
  if (!*pp)
    return VIGIL_ENOTROOT;
  vigil__root *r = *pp;
  /* A held-back rename may refer to a directory of this root. */
  vigil__sources_flush(v);
  *pp = r->next;
  vigil__file_forget(v, r);
  if (r->top) {
    r->dead = 1;
    vigil__drop(v, r->top, 0);
    r->top = NULL;
  }
  root_free(r);
  signal_queue(v);
  return 0;
}

static void get_stats(const vigil_t *v, vigil_stats *st) {
  memset(st, 0, sizeof *st);
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead)
      st->roots++;
  st->dirs = v->tree.dirs;
  st->entries = v->tree.count;
  st->watches = count_watches(v);
  st->add_watches = v->add_watches;
  for (unsigned i = 0; i < v->nsrc; i++)
    if (v->src[i].be == &vigil__backend_poll)
      st->polled += v->src[i].be->watches(v->src[i].state);
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead && !r->is_file)
      st->dirs++, st->entries++; /* the tops are not in the child index */
}

/* These three take the lock, since the thread of vigil_start may be running. */
int vigil_add_opts(vigil_t *v, const char *path, unsigned flags, const vigil_root_options *ro) {
  if (!v || !path)
    return -EINVAL;
  vigil_root_options o;
  int rc = sized_read(&root_options_struct, &o, ro);
  if (rc < 0)
    return rc;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  rc = add_root(v, path, flags, &o);
  vigil__unlock(v);
  return rc;
}

int vigil_add(vigil_t *v, const char *path, unsigned flags) {
  return vigil_add_opts(v, path, flags, NULL);
}

/*
 * The root added by this path: a live one if there is one, else one that
 * went away, which is still a root until vigil_remove. NULL if none.
 */
static const vigil__root *given_root(const vigil_t *v, const char *path) {
  const vigil__root *found = NULL;
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (strcmp(r->given, path) == 0) {
      found = r;
      if (!r->dead)
        break;
    }
  return found;
}

int vigil_root_backend(vigil_t *v, const char *path, const char **name) {
  if (!v || !path || !name)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  const vigil__root *r = given_root(v, path);
  if (r)
    *name = v->src[r->src].be->name;
  vigil__unlock(v);
  return r ? 0 : VIGIL_ENOTROOT;
}

int vigil_root_fallback(vigil_t *v, const char *path, int *why) {
  if (!v || !path || !why)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  const vigil__root *r = given_root(v, path);
  if (r)
    *why = r->fallback;
  vigil__unlock(v);
  return r ? 0 : VIGIL_ENOTROOT;
}

int vigil_root_watched(vigil_t *v, const char *path) {
  if (!v || !path)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  const vigil__root *r = given_root(v, path);
  int rc = r ? !r->dead : VIGIL_ENOTROOT;
  vigil__unlock(v);
  return rc;
}

int vigil_remove(vigil_t *v, const char *path) {
  if (!v || !path)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  int rc = remove_root(v, path);
  vigil__unlock(v);
  return rc;
}

/*
 * Every counter is a size_t, so a size that is a whole number of them is
 * the size of some version of vigil_stats, older or newer.
 */
int vigil_get_stats(const vigil_t *v, vigil_stats *st, size_t size) {
  if (!v || !st || size == 0 || size % sizeof(size_t) != 0)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil_stats all;
  vigil__lock(v);
  get_stats(v, &all);
  vigil__unlock(v);
  if (size > sizeof all) {
    memset((char *)st + sizeof all, 0, size - sizeof all);
    size = sizeof all;
  }
  memcpy(st, &all, size);
  return 0;
}
