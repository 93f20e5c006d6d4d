/*
 * The public API: an instance, its roots, and the read loop.
 *
 * vigil_fd is an epoll descriptor holding the backend's descriptor and
 * three of our own: an eventfd for vigil_wake, an eventfd kept readable
 * while events wait in the queue (so a caller that reads one event per
 * wakeup is woken again), and a timerfd for a rename source that waits for
 * its pair. One descriptor then tells any event loop "call vigil_read".
 */
#include "instance.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
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

static int forked(const vigil_t *v) {
  return v->fork_gen != __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void free_tree_nodes(vigil__node *n) {
  if (n->dir) {
    vigil__node *next;
    for (vigil__node *k = n->dir->child; k; k = next) {
      next = k->sib_next;
      free_tree_nodes(k);
    }
  }
  vigil__node_free(n);
}

static void root_free(vigil__root *r) {
  if (r->top)
    free_tree_nodes(r->top);
  free(r->given);
  free(r->dirpath);
  free(r);
}

static int epoll_add(int epfd, int fd) {
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  return VIGIL__SYS(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) < 0 ? -errno : 0;
}

static void instance_free(vigil_t *v) {
  for (vigil__root *r = v->roots, *next; r; r = next) {
    next = r->next;
    root_free(r);
  }
  if (v->be_state)
    v->be->close(v->be_state, forked(v));
  close_fd(&v->epfd);
  close_fd(&v->wakefd);
  close_fd(&v->qfd);
  close_fd(&v->timerfd);
  vigil__filter_free(v->filter);
  vigil__tree_free(&v->tree);
  vigil__queue_free(&v->queue);
  free(v->scratch);
  free(v->rel);
  free(v->dents);
  free(v->work);
  free(v);
}

static int compile_filter(vigil_t *v, const vigil_options *opt) {
  if (!opt || !opt->exclude_count)
    return 0;
  if (!opt->exclude)
    return -EINVAL;
  v->filter = vigil__filter_new();
  if (!v->filter)
    return -ENOMEM;
  for (size_t i = 0; i < opt->exclude_count; i++) {
    if (!opt->exclude[i])
      return -EINVAL;
    int rc = vigil__filter_add(v->filter, opt->exclude[i], "");
    if (rc < 0)
      return rc;
  }
  if (vigil__filter_count(v->filter) == 0) {
    vigil__filter_free(v->filter);
    v->filter = NULL;
  }
  return 0;
}

int vigil_open(vigil_t **out, const vigil_options *opt) {
  if (!out)
    return -EINVAL;
  *out = NULL;
  pthread_once(&atfork_once, register_atfork);
  vigil_t *v = vigil__calloc(1, sizeof *v);
  if (!v)
    return -ENOMEM;
  v->epfd = v->wakefd = v->qfd = v->timerfd = -1;
  v->be = &vigil__backend_inotify;
  v->pid = getpid();
  v->fork_gen = __atomic_load_n(&fork_generation, __ATOMIC_RELAXED);
  v->events = opt && opt->events ? opt->events : ~0u;
  v->move_wait_ms = opt && opt->move_wait_ms > 0 ? opt->move_wait_ms : 10;
  if (opt) {
    v->progress = opt->progress;
    v->progress_userdata = opt->progress_userdata;
  }
  clock_gettime(CLOCK_REALTIME, &v->synced);

  int rc = vigil__tree_init(&v->tree);
  if (rc < 0)
    goto err;
  rc = compile_filter(v, opt);
  if (rc < 0)
    goto err;
  int befd;
  rc = v->be->open(&v->be_state, &befd);
  if (rc < 0)
    goto err;
  v->epfd = VIGIL__SYS(epoll_create1(EPOLL_CLOEXEC));
  v->wakefd = VIGIL__SYS(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  v->qfd = VIGIL__SYS(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  v->timerfd = VIGIL__SYS(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (v->epfd < 0 || v->wakefd < 0 || v->qfd < 0 || v->timerfd < 0) {
    rc = -errno;
    goto err;
  }
  if ((rc = epoll_add(v->epfd, befd)) < 0 || (rc = epoll_add(v->epfd, v->wakefd)) < 0 ||
      (rc = epoll_add(v->epfd, v->qfd)) < 0 || (rc = epoll_add(v->epfd, v->timerfd)) < 0)
    goto err;
  *out = v;
  return 0;
err:
  instance_free(v);
  return rc;
}

void vigil_close(vigil_t *v) {
  if (v)
    instance_free(v);
}

int vigil_fd(const vigil_t *v) {
  if (!v)
    return -EINVAL;
  if (forked(v))
    return VIGIL_EFORKED;
  return v->epfd;
}

int vigil_wake(vigil_t *v) {
  if (!v)
    return -EINVAL;
  int saved = errno;
  uint64_t one = 1;
  ssize_t w = write(v->wakefd, &one, sizeof one);
  /* EAGAIN means the counter is already huge, so a wakeup is pending anyway. */
  int rc = (w < 0 && errno != EAGAIN) ? -errno : 0;
  errno = saved;
  return rc;
}

static void drain_fd(int fd) {
  uint64_t n;
  while (read(fd, &n, sizeof n) < 0 && errno == EINTR)
    ;
}

/* Keeps qfd readable exactly while the queue holds events. */
static void signal_queue(vigil_t *v) {
  int empty = vigil__queue_empty(&v->queue);
  if (!empty && !v->q_signalled) {
    uint64_t one = 1;
    if (write(v->qfd, &one, sizeof one) == sizeof one)
      v->q_signalled = 1;
  } else if (empty && v->q_signalled) {
    drain_fd(v->qfd);
    v->q_signalled = 0;
  }
}

static void set_timer(vigil_t *v, int wait_ms) {
  if (wait_ms < 0 && v->timer_armed) {
    struct itimerspec off = {0};
    timerfd_settime(v->timerfd, 0, &off, NULL);
    drain_fd(v->timerfd);
    v->timer_armed = 0;
  } else if (wait_ms >= 0 && !v->timer_armed) {
    struct itimerspec at = {0};
    at.it_value.tv_sec = wait_ms / 1000;
    at.it_value.tv_nsec = (long)(wait_ms % 1000) * 1000000L + 1;
    if (timerfd_settime(v->timerfd, 0, &at, NULL) == 0)
      v->timer_armed = 1;
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Something was lost without the kernel saying so (memory ran out while an
 * event was queued, or a file system inside the tree was unmounted). It is
 * reported like a kernel overflow, and repaired the same way.
 */
static int repair(vigil_t *v) {
  return vigil__obs_overflow(v);
}

int vigil_read(vigil_t *v, vigil_event *ev, int timeout_ms) {
  if (!v || !ev)
    return -EINVAL;
  if (forked(v))
    return VIGIL_EFORKED;
  if (vigil__queue_empty(&v->queue))
    vigil__queue_clear(&v->queue);
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  for (;;) {
    if (vigil__queue_pop(&v->queue, ev)) {
      signal_queue(v);
      return 1;
    }
    if (v->need_repair) {
      int rc = repair(v);
      if (rc < 0)
        return rc;
      continue;
    }
    int wait_ms = -1;
    int got = v->be->read(v->be_state, v, &wait_ms);
    if (got < 0)
      return got;
    set_timer(v, wait_ms);
    if (!vigil__queue_empty(&v->queue))
      continue;
    int left = -1;
    if (timeout_ms == 0)
      left = 0;
    else if (timeout_ms > 0) {
      int64_t l = deadline - now_ms();
      left = l > 0 ? (int)l : 0;
    }
    /* Records were read but none became an event: look again at once. */
    int block = got > 0 ? 0 : left;
    if (wait_ms >= 0 && (block < 0 || wait_ms < block))
      block = wait_ms;
    struct epoll_event evs[4];
    int n = epoll_wait(v->epfd, evs, 4, block);
    if (n < 0)
      return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == v->wakefd) {
        drain_fd(v->wakefd);
        return 0;
      }
    }
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

static char *dir_of(const char *path, size_t prefix_len) {
  size_t end = prefix_len;
  while (end > 0 && path[end - 1] != '/')
    end--;
  while (end > 1 && path[end - 1] == '/')
    end--;
  if (end == 0)
    return vigil__strdup(".");
  char *d = vigil__malloc(end + 1);
  if (d) {
    memcpy(d, path, end);
    d[end] = '\0';
  }
  return d;
}

int vigil_add(vigil_t *v, const char *path, unsigned flags) {
  if (!v || !path)
    return -EINVAL;
  if (forked(v))
    return VIGIL_EFORKED;
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

  v->add_watches = 0;
  vigil__root *r = vigil__calloc(1, sizeof *r);
  if (!r)
    return -ENOMEM;
  int rc = -ENOMEM;
  r->given = vigil__strdup(path);
  if (!r->given)
    goto err;
  r->prefix_len = len;
  while (r->prefix_len > 1 && path[r->prefix_len - 1] == '/')
    r->prefix_len--;
  r->norecurse = (flags & VIGIL_NORECURSE) != 0;
  r->is_file = !S_ISDIR(st.st_mode);
  if (r->is_file) {
    r->dirpath = dir_of(path, r->prefix_len);
    if (!r->dirpath)
      goto err;
  }
  r->top = vigil__node_new("", 0, VIGIL__T_DIR, r->is_file ? 0 : st.st_ino);
  if (!r->top)
    goto err;
  r->top->dir->root = r;

  rc = vigil__reconcile(v, r->top, VIGIL__SCAN_SETUP);
  if (rc == 0 && r->is_file && !r->top->dir->child)
    rc = -ENOENT; /* the file went away between stat and the listing */
  if (rc < 0)
    goto err;
  r->next = v->roots;
  v->roots = r;
  signal_queue(v);
  return 0;
err:
  if (r->top) {
    /* Undo every watch this root placed; no event is reported for it. */
    r->dead = 1;
    vigil__drop(v, r->top, 0);
    r->top = NULL;
  }
  root_free(r);
  return rc;
}

int vigil_remove(vigil_t *v, const char *path) {
  if (!v || !path)
    return -EINVAL;
  if (forked(v))
    return VIGIL_EFORKED;
  vigil__root **pp = &v->roots;
  while (*pp && strcmp((*pp)->given, path) != 0)
    pp = &(*pp)->next;
  if (!*pp)
    return VIGIL_ENOTROOT;
  vigil__root *r = *pp;
  /* A held-back rename may refer to a directory of this root. */
  v->be->flush(v->be_state, v);
  *pp = r->next;
  if (r->top) {
    r->dead = 1;
    vigil__drop(v, r->top, 0);
    r->top = NULL;
  }
  root_free(r);
  signal_queue(v);
  return 0;
}

int vigil_get_stats(const vigil_t *v, vigil_stats *st) {
  if (!v || !st)
    return -EINVAL;
  if (forked(v))
    return VIGIL_EFORKED;
  memset(st, 0, sizeof *st);
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead)
      st->roots++;
  st->dirs = v->tree.dirs;
  st->entries = v->tree.count;
  st->watches = v->watches;
  st->add_watches = v->add_watches;
  for (const vigil__root *r = v->roots; r; r = r->next)
    if (!r->dead && !r->is_file)
      st->dirs++, st->entries++; /* the tops are not in the child index */
  return 0;
}
