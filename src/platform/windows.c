/*
 * The platform layer on Windows: WaitForMultipleObjects over event
 * objects.
 *
 * The sources are events: a backend's is the manual-reset event of its
 * pending read's OVERLAPPED, signalled from the read's completion until
 * the backend takes it. vigil_fd is an event of this layer's own
 * (manual-reset), set as posix.c's pipe is readable: after a wake, and
 * while events wait in the queue. Windows has no object that stands for
 * several others, and vigil runs no thread to watch them, so, as on the
 * POSIX layer, a source's completion or the timer does not set it while
 * no call of vigil waits. A program that waits by itself is given every
 * handle and the time left on the timer instead (vigil__plat_fds,
 * vigil__plat_timeout; include/vigil.h, "Waiting").
 *
 * The wake is two steps that any thread may take, and a console control
 * handler (which Windows runs on a thread of its own): a flag, then
 * SetEvent. A wait that finds the event set resets it first and takes
 * the flag after, so a wake that comes in between sets the event again
 * and is not lost; the queue's level is written back after the reset.
 *
 * At most MAXIMUM_WAIT_OBJECTS (64) handles can be waited on at once: the
 * layer's event and 63 sources.
 */
#include "platform/platform.h"

#include <windows.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

const char vigil__plat_name[] = "windows";

#define MAX_SOURCES (MAXIMUM_WAIT_OBJECTS - 1)

struct vigil__plat {
  HANDLE h[MAXIMUM_WAIT_OBJECTS]; /* h[0]: vigil_fd; then the sources */
  unsigned tags[MAXIMUM_WAIT_OBJECTS];
  DWORD n;
  volatile LONG woken; /* a wake not yet taken by a wait */
  unsigned ready : 1;
  unsigned timer_armed : 1;
  int64_t timer_due; /* monotonic ms */
};

static int64_t now_ms(void) {
  static LARGE_INTEGER freq;
  LARGE_INTEGER t;
  if (!freq.QuadPart)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&t);
  return (int64_t)(t.QuadPart / freq.QuadPart * 1000 +
                   t.QuadPart % freq.QuadPart * 1000 / freq.QuadPart);
}

void vigil__plat_close(vigil__plat *p) {
  if (!p)
    return;
  if (p->h[0])
    CloseHandle(p->h[0]);
  free(p);
}

int vigil__plat_open(vigil__plat **out) {
  *out = NULL;
  vigil__plat *p = calloc(1, sizeof *p);
  if (!p)
    return -ENOMEM;
  /* Not inheritable (a NULL security descriptor): the close-on-exec of Windows. */
  p->h[0] = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!p->h[0]) {
    free(p);
    return -ENOMEM;
  }
  p->n = 1;
  *out = p;
  return 0;
}

vigil_os_fd_t vigil__plat_fd(const vigil__plat *p) {
  return p->h[0];
}

size_t vigil__plat_fds(const vigil__plat *p, vigil_wait_fd *fds, size_t size) {
  for (DWORD i = 0; i < p->n && i < size; i++)
    fds[i] = (vigil_wait_fd){.fd = p->h[i], .events = VIGIL_WAIT_IN};
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

int vigil__plat_add(vigil__plat *p, vigil_os_fd_t fd, unsigned events, unsigned tag) {
  (void)events; /* an event is signalled or not: there is no other readiness */
  if (p->n > MAX_SOURCES)
    return -EMFILE;
  p->h[p->n] = fd;
  p->tags[p->n] = tag;
  p->n++;
  return 0;
}

int vigil__plat_wake(vigil__plat *p) {
  InterlockedExchange(&p->woken, 1);
  return SetEvent(p->h[0]) ? 0 : -EIO;
}

/*
 * Takes the layer's event: resets it, then takes the wake flag (in this
 * order, see the top of this file), and sets it again while the queue
 * holds events. Returns whether a wake was taken.
 */
static int take(vigil__plat *p) {
  ResetEvent(p->h[0]);
  int woken = InterlockedExchange(&p->woken, 0) != 0;
  if (p->ready)
    SetEvent(p->h[0]);
  return woken;
}

void vigil__plat_ready(vigil__plat *p, int on) {
  if (on && !p->ready) {
    p->ready = 1;
    SetEvent(p->h[0]);
  } else if (!on && p->ready) {
    p->ready = 0;
    ResetEvent(p->h[0]);
    /* A wake that came before the reset is still pending: the event says so again. */
    if (InterlockedCompareExchange(&p->woken, 0, 0))
      SetEvent(p->h[0]);
  }
}

void vigil__plat_timer(vigil__plat *p, int wait_ms) {
  p->timer_armed = wait_ms >= 0;
  if (wait_ms >= 0)
    p->timer_due = now_ms() + wait_ms;
}

int vigil__plat_wait(vigil__plat *p, int timeout_ms, unsigned *ready) {
  *ready = 0;
  int64_t t = timeout_ms;
  if (p->timer_armed) {
    int64_t left = p->timer_due - now_ms();
    if (left < 0)
      left = 0;
    if (t < 0 || left < t)
      t = left;
  }
  DWORD r = WaitForMultipleObjects(p->n, p->h, FALSE, t < 0 ? INFINITE : (DWORD)t);
  if (r == WAIT_TIMEOUT)
    return 0;
  if (r == WAIT_FAILED)
    return -EIO;
  if (r == WAIT_OBJECT_0 && take(p))
    return 1;
  /* Every source that is signalled, not only the first one the wait names. */
  for (DWORD i = 1; i < p->n; i++)
    if (WaitForSingleObject(p->h[i], 0) == WAIT_OBJECT_0)
      *ready |= p->tags[i];
  return 0;
}

int vigil__plat_gather(vigil__plat *p, int64_t us) {
  DWORD ms = (DWORD)((us + 999) / 1000);
  DWORD r = WaitForSingleObject(p->h[0], ms);
  if (r == WAIT_FAILED)
    return -EIO;
  /* The queue's level ends the gathering too: something waits to be delivered. */
  return r == WAIT_OBJECT_0 ? take(p) : 0;
}
