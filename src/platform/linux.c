/*
 * The platform layer on Linux: epoll, eventfd and timerfd.
 *
 * vigil_fd is an epoll descriptor holding the sources and three
 * descriptors of the layer's own: an eventfd for the wake, an eventfd
 * kept readable while events wait in the queue (so a caller that reads
 * one event per wakeup is woken again), and a timerfd for the deadline.
 * One descriptor then tells any event loop "call vigil_read", for every
 * reason there is to call it, with no thread behind it.
 */
#include "platform/platform.h"
#include "fault.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

const char vigil__plat_name[] = "linux";

/* The layer's own descriptors' tags, above any source's. */
#define TAG_WAKE VIGIL__PLAT_WOKEN
#define TAG_QUEUE (1u << 30)
#define TAG_TIMER (1u << 29)

struct vigil__plat {
  int epfd;    /* vigil_fd */
  int wakefd;  /* eventfd written by the wake */
  int qfd;     /* eventfd kept readable while the queue holds events */
  int timerfd; /* falls due at the deadline */
  unsigned ready : 1;
  unsigned timer_armed : 1;
  int64_t timer_due; /* CLOCK_MONOTONIC ms the timer is set for */
};

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void drain_fd(int fd) {
  uint64_t n;
  while (read(fd, &n, sizeof n) < 0 && errno == EINTR)
    ;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int epoll_add(int epfd, int fd, uint32_t events, uint32_t tag) {
  struct epoll_event ev = {.events = events, .data.u32 = tag};
  return VIGIL__SYS(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) < 0 ? -errno : 0;
}

void vigil__plat_close(vigil__plat *p) {
  if (!p)
    return;
  close_fd(&p->epfd);
  close_fd(&p->wakefd);
  close_fd(&p->qfd);
  close_fd(&p->timerfd);
  free(p);
}

int vigil__plat_open(vigil__plat **out) {
  *out = NULL;
  vigil__plat *p = vigil__calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  p->epfd = p->wakefd = p->qfd = p->timerfd = -1;
  int rc;
  if ((p->epfd = VIGIL__SYS(epoll_create1(EPOLL_CLOEXEC))) < 0 ||
      (p->wakefd = VIGIL__SYS(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))) < 0 ||
      (p->qfd = VIGIL__SYS(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))) < 0 ||
      (p->timerfd = VIGIL__SYS(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK))) < 0) {
    rc = -errno;
    goto err;
  }
  if ((rc = epoll_add(p->epfd, p->wakefd, EPOLLIN, TAG_WAKE)) < 0 ||
      (rc = epoll_add(p->epfd, p->qfd, EPOLLIN, TAG_QUEUE)) < 0 ||
      (rc = epoll_add(p->epfd, p->timerfd, EPOLLIN, TAG_TIMER)) < 0)
    goto err;
  *out = p;
  return 0;
err:
  vigil__plat_close(p);
  return rc;
}

int vigil__plat_fd(const vigil__plat *p) {
  return p->epfd;
}

/* The epoll descriptor holds the sources and the timer: it is all there is to wait on. */
size_t vigil__plat_fds(const vigil__plat *p, vigil_wait_fd *fds, size_t size) {
  if (size)
    fds[0] = (vigil_wait_fd){.fd = p->epfd, .events = VIGIL_WAIT_IN};
  return 1;
}

int vigil__plat_timeout(const vigil__plat *p) {
  (void)p;
  return -1;
}

int vigil__plat_add(vigil__plat *p, int fd, unsigned events, unsigned tag) {
  uint32_t ev = (events & VIGIL__PLAT_IN ? EPOLLIN : 0) | (events & VIGIL__PLAT_PRI ? EPOLLPRI : 0);
  return epoll_add(p->epfd, fd, ev, tag);
}

int vigil__plat_wake(vigil__plat *p) {
  uint64_t one = 1;
  ssize_t w = write(p->wakefd, &one, sizeof one);
  /* EAGAIN means the counter is already huge, so a wakeup is pending anyway. */
  return (w < 0 && errno != EAGAIN) ? -errno : 0;
}

void vigil__plat_ready(vigil__plat *p, int on) {
  if (on && !p->ready) {
    uint64_t one = 1;
    if (write(p->qfd, &one, sizeof one) == sizeof one)
      p->ready = 1;
  } else if (!on && p->ready) {
    drain_fd(p->qfd);
    p->ready = 0;
  }
}

/*
 * The timer is set again whenever the due time moves, so an expired timer
 * never lingers readable while a later deadline waits.
 */
void vigil__plat_timer(vigil__plat *p, int wait_ms) {
  if (wait_ms < 0) {
    if (p->timer_armed) {
      struct itimerspec off = {0};
      timerfd_settime(p->timerfd, 0, &off, NULL);
      drain_fd(p->timerfd);
      p->timer_armed = 0;
    }
    return;
  }
  int64_t due = now_ms() + wait_ms;
  if (p->timer_armed && due == p->timer_due)
    return;
  struct itimerspec at = {0};
  at.it_value.tv_sec = wait_ms / 1000;
  at.it_value.tv_nsec = (long)(wait_ms % 1000) * 1000000L + 1;
  drain_fd(p->timerfd);
  if (timerfd_settime(p->timerfd, 0, &at, NULL) == 0) {
    p->timer_armed = 1;
    p->timer_due = due;
  }
}

int vigil__plat_wait(vigil__plat *p, int timeout_ms, unsigned *ready) {
  struct epoll_event evs[8];
  *ready = 0;
  int n = VIGIL__SYS_ONCE(epoll_wait(p->epfd, evs, 8, timeout_ms));
  if (n < 0)
    return errno == EINTR ? 1 : -errno;
  for (int i = 0; i < n; i++) {
    if (evs[i].data.u32 == TAG_WAKE) {
      drain_fd(p->wakefd);
      return 1;
    }
    *ready |= evs[i].data.u32 & ~(TAG_QUEUE | TAG_TIMER);
  }
  return 0;
}

int vigil__plat_gather(vigil__plat *p, int64_t us) {
  struct pollfd pfd = {.fd = p->wakefd, .events = POLLIN};
  struct timespec ts = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
  int n = VIGIL__SYS_ONCE(ppoll(&pfd, 1, &ts, NULL));
  if (n < 0)
    return errno == EINTR ? 1 : -errno;
  if (n > 0) {
    drain_fd(p->wakefd);
    return 1;
  }
  return 0;
}
