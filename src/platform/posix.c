/*
 * The platform layer with POSIX alone: poll() and a self-pipe.
 *
 * For systems with no descriptor that gathers others (macOS and the BSDs
 * until a kqueue layer exists), and on Linux to prove that the core and
 * the CLI need nothing more. Only POSIX calls are used here (pipe2 where
 * the system has it, see below), so this file builds with
 * -D_POSIX_C_SOURCE=200809L and nothing else.
 *
 * poll() takes a list of descriptors on every call; no descriptor stands
 * for several others. So vigil_fd is the self-pipe's read end, and the
 * pipe carries two kinds of byte:
 *   WAKE_BYTE   written by the wake (one write(2): async-signal-safe);
 *               a wait that reads one returns "woken";
 *   READY_BYTE  one, present exactly while events wait in the queue
 *               (vigil__plat_ready); a wait that reads it puts it back.
 * The sources and the timer are looked at only by a wait of this layer,
 * inside vigil_read or the thread of vigil_start: nothing runs to write
 * the pipe when a source becomes readable or the timer falls due while no
 * such wait is under way, and vigil runs no thread of its own to do it.
 * A program that waits by itself is therefore handed the whole list and
 * the time left on the timer (vigil__plat_fds, vigil__plat_timeout), and
 * polls what this layer's own wait would (include/vigil.h, "Waiting").
 *
 * The byte kinds never get mixed up: the queue's level is changed only by
 * the thread that holds the instance, never while a wait of that instance
 * runs, and a wait or a level change that reads bytes that are not its
 * own writes them back.
 */
#include "platform/platform.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

const char vigil__plat_name[] = "posix";

#define WAKE_BYTE 'w'
#define READY_BYTE 'r'

struct vigil__plat {
  int wr;            /* the self-pipe's write end */
  struct pollfd *pf; /* pf[0]: the self-pipe's read end (vigil_fd); then the sources */
  unsigned *tags;    /* tags[i] is pf[i]'s */
  size_t n, cap;
  unsigned ready : 1;
  unsigned timer_armed : 1;
  int64_t timer_due; /* CLOCK_MONOTONIC ms */
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Both ends close-on-exec and non-blocking. pipe2 sets the flags in the
 * same call; where it is missing (macOS), pipe and fcntl leave a window
 * in which another thread's fork and exec would inherit the pipe.
 */
static int make_pipe(int fds[2]) {
#ifdef VIGIL_HAVE_PIPE2
  return VIGIL__SYS(pipe2(fds, O_CLOEXEC | O_NONBLOCK)) < 0 ? -errno : 0;
#else
  if (VIGIL__SYS(pipe(fds)) < 0)
    return -errno;
  for (int i = 0; i < 2; i++) {
    int fl = VIGIL__SYS(fcntl(fds[i], F_GETFL));
    if (fl < 0 || VIGIL__SYS(fcntl(fds[i], F_SETFL, fl | O_NONBLOCK)) < 0 ||
        VIGIL__SYS(fcntl(fds[i], F_SETFD, FD_CLOEXEC)) < 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      return -err;
    }
  }
  return 0;
#endif
}

void vigil__plat_close(vigil__plat *p) {
  if (!p)
    return;
  if (p->pf && p->pf[0].fd >= 0)
    close(p->pf[0].fd);
  if (p->wr >= 0)
    close(p->wr);
  free(p->pf);
  free(p->tags);
  free(p);
}

/* Room for one more descriptor to poll. */
static int reserve(vigil__plat *p) {
  if (p->n < p->cap)
    return 0;
  size_t cap = p->cap ? p->cap * 2 : 4;
  struct pollfd *pf = vigil__realloc(p->pf, cap * sizeof *pf);
  if (!pf)
    return -ENOMEM;
  p->pf = pf;
  unsigned *tags = vigil__realloc(p->tags, cap * sizeof *tags);
  if (!tags)
    return -ENOMEM;
  p->tags = tags;
  p->cap = cap;
  return 0;
}

int vigil__plat_open(vigil__plat **out) {
  *out = NULL;
  vigil__plat *p = vigil__calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  p->wr = -1;
  int fds[2];
  int rc = reserve(p);
  if (rc == 0)
    rc = make_pipe(fds);
  if (rc < 0) {
    vigil__plat_close(p);
    return rc;
  }
  p->pf[0] = (struct pollfd){.fd = fds[0], .events = POLLIN};
  p->tags[0] = 0;
  p->n = 1;
  p->wr = fds[1];
  *out = p;
  return 0;
}

int vigil__plat_fd(const vigil__plat *p) {
  return p->pf[0].fd;
}

size_t vigil__plat_fds(const vigil__plat *p, vigil_wait_fd *fds, size_t size) {
  for (size_t i = 0; i < p->n && i < size; i++)
    fds[i] = (vigil_wait_fd){.fd = p->pf[i].fd,
                             .events = (p->pf[i].events & POLLIN ? VIGIL_WAIT_IN : 0u) |
                                       (p->pf[i].events & POLLPRI ? VIGIL_WAIT_PRI : 0u)};
  return p->n;
}

int vigil__plat_timeout(const vigil__plat *p) {
  if (!p->timer_armed)
    return -1;
  int64_t left = p->timer_due - now_ms();
  if (left <= 0)
    return 0;
  return left > INT_MAX ? INT_MAX : (int)left;
}

int vigil__plat_add(vigil__plat *p, int fd, unsigned events, unsigned tag) {
  int rc = reserve(p);
  if (rc < 0)
    return rc;
  short ev =
      (short)((events & VIGIL__PLAT_IN ? POLLIN : 0) | (events & VIGIL__PLAT_PRI ? POLLPRI : 0));
  p->pf[p->n] = (struct pollfd){.fd = fd, .events = ev};
  p->tags[p->n] = tag;
  p->n++;
  return 0;
}

/* 1 if the byte is in the pipe, 0 if it is full. */
static int put(vigil__plat *p, char byte) {
  ssize_t w;
  while ((w = write(p->wr, &byte, 1)) < 0 && errno == EINTR)
    ;
  return w == 1;
}

int vigil__plat_wake(vigil__plat *p) {
  char byte = WAKE_BYTE;
  ssize_t w = write(p->wr, &byte, 1);
  /* EAGAIN: the pipe is full of wakes, so one is pending anyway. */
  return (w < 0 && errno != EAGAIN) ? -errno : 0;
}

/*
 * Empties the pipe. Returns whether a wake was among the bytes, and
 * writes back the queue's byte if it was there: only the level change
 * takes that away.
 */
static int take(vigil__plat *p, int keep_ready) {
  char buf[64];
  int woken = 0, ready = 0;
  for (;;) {
    ssize_t r = read(p->pf[0].fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    for (ssize_t i = 0; i < r; i++) {
      woken |= buf[i] == WAKE_BYTE;
      ready |= buf[i] == READY_BYTE;
    }
  }
  if (ready && keep_ready)
    put(p, READY_BYTE);
  return woken;
}

void vigil__plat_ready(vigil__plat *p, int on) {
  if (on && !p->ready) {
    p->ready = put(p, READY_BYTE);
  } else if (!on && p->ready) {
    /* A wake read on the way is not this call's: it stays pending. */
    if (take(p, 0))
      put(p, WAKE_BYTE);
    p->ready = 0;
  }
}

void vigil__plat_timer(vigil__plat *p, int wait_ms) {
  p->timer_armed = wait_ms >= 0;
  if (wait_ms >= 0)
    p->timer_due = now_ms() + wait_ms;
}

int vigil__plat_wait(vigil__plat *p, int timeout_ms, unsigned *ready) {
  *ready = 0;
  int t = timeout_ms;
  if (p->timer_armed) {
    int64_t left = p->timer_due - now_ms();
    if (left < 0)
      left = 0;
    if (t < 0 || left < t)
      t = (int)left;
  }
  for (size_t i = 0; i < p->n; i++)
    p->pf[i].revents = 0;
  int n = VIGIL__SYS_ONCE(poll(p->pf, (nfds_t)p->n, t));
  if (n < 0)
    return errno == EINTR ? 1 : -errno;
  if (n == 0)
    return 0;
  if (p->pf[0].revents && take(p, 1))
    return 1;
  for (size_t i = 1; i < p->n; i++)
    if (p->pf[i].revents)
      *ready |= p->tags[i];
  return 0;
}

int vigil__plat_gather(vigil__plat *p, int64_t us) {
  /* poll counts milliseconds: a gathering wait is rounded up to one. */
  int ms = (int)((us + 999) / 1000);
  struct pollfd pf = {.fd = p->pf[0].fd, .events = POLLIN};
  int n = VIGIL__SYS_ONCE(poll(&pf, 1, ms));
  if (n < 0)
    return errno == EINTR ? 1 : -errno;
  /* The queue's byte ends the gathering too: something waits to be delivered. */
  return n > 0 ? (take(p, 1) ? 1 : 0) : 0;
}
