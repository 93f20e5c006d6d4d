/*
 * The platform layer: what the read loop waits on.
 *
 * The core waits for three things, and only through this interface:
 *   - sources: the backends' descriptors (and the mount table's), each
 *     added with the readiness that matters for it and a tag of one bit;
 *   - a wake: vigil__plat_wake, async-signal-safe, ends a wait at once;
 *   - a timer: one deadline (the held-back rename, the resync look after a
 *     spell of changes, a file root's wait), kept by the layer.
 * It also keeps the caller's descriptor (vigil_fd) readable while events
 * wait in the queue (vigil__plat_ready).
 *
 * One file per platform, and CMake compiles exactly one:
 *   linux.c  epoll + eventfd + timerfd: vigil_fd is the epoll descriptor,
 *            readable whenever vigil_read would not block, for any source.
 *   posix.c  poll + a self-pipe, for systems without an aggregating
 *            descriptor (and, on Linux, to test that the core and the CLI
 *            need nothing more). poll() cannot hand out one descriptor for
 *            several sources, so there vigil_fd is the self-pipe's read
 *            end: readable after a wake and while events wait. A caller
 *            that waits itself is given the sources too, and the time
 *            left until the timer falls due (vigil__plat_fds and
 *            vigil__plat_timeout: vigil_wait_fds and vigil_timeout).
 *   windows.c  WaitForMultipleObjects over event objects: the sources are
 *            events (a backend's OVERLAPPED event), vigil_fd is an event
 *            of the layer's own, set as posix.c's pipe is readable; a
 *            caller that waits itself is given the list and the timeout,
 *            as on the POSIX layer.
 *
 * Every descriptor a layer makes is close-on-exec and non-blocking. A
 * layer knows nothing of the instance: the core passes what it needs.
 */
#ifndef VIGIL_PLATFORM_H
#define VIGIL_PLATFORM_H

#include "vigil.h" /* vigil_os_fd_t: an int on POSIX systems, a HANDLE on Windows */

#include <stddef.h>
#include <stdint.h>

typedef struct vigil__plat vigil__plat;

/* The readiness a source is waited for. */
enum vigil__plat_events {
  VIGIL__PLAT_IN = 1, /* readable */
  VIGIL__PLAT_PRI = 2 /* an exceptional condition only (POLLPRI), as /proc/self/mountinfo raises */
};

/* What a wait returns in *ready, besides the tags of the sources that were ready. */
#define VIGIL__PLAT_WOKEN (1u << 31)

/* The layer's name ("linux", "posix"), for tests and messages. */
extern const char vigil__plat_name[];

/* Makes the layer's descriptors. 0 or -errno; on failure *out is NULL. */
int vigil__plat_open(vigil__plat **out);
/* Closes what the layer made (never the sources, which their owners close). */
void vigil__plat_close(vigil__plat *p);

/* The descriptor vigil_fd returns (see the top of this file). */
vigil_os_fd_t vigil__plat_fd(const vigil__plat *p);

/*
 * What a caller that waits by itself must wait on to see all that a wait
 * of the layer sees (vigil_wait_fds): writes up to size of them into fds
 * and returns how many there are in all. The layer's own descriptor
 * (vigil__plat_fd) comes first.
 */
size_t vigil__plat_fds(const vigil__plat *p, vigil_wait_fd *fds, size_t size);

/*
 * For such a caller: milliseconds until the timer falls due (0 if it is
 * due), or -1 when it is disarmed or the descriptors already cover it
 * (vigil_timeout).
 */
int vigil__plat_timeout(const vigil__plat *p);

/*
 * Adds a source, waited for events (VIGIL__PLAT_IN or VIGIL__PLAT_PRI);
 * tag (one bit, below bit 16) is what a wait reports for it. 0 or -errno.
 */
int vigil__plat_add(vigil__plat *p, vigil_os_fd_t fd, unsigned events, unsigned tag);

/*
 * Ends a wait that is blocked, or the next one. Safe from any thread and
 * async-signal-safe: one write(2). It may change errno; the caller saves
 * it. 0 or -errno; a wake already pending is 0.
 */
int vigil__plat_wake(vigil__plat *p);

/*
 * Keeps vigil_fd readable (on != 0) or not: the core calls it with
 * whether the queue holds events, only when that changes. From the
 * thread that holds the instance.
 */
void vigil__plat_ready(vigil__plat *p, int on);

/*
 * Arms the timer to fall due wait_ms from now, or disarms it (wait_ms < 0).
 * Arming it for the same moment again costs nothing.
 */
void vigil__plat_timer(vigil__plat *p, int wait_ms);

/*
 * Waits up to timeout_ms (-1: without end, 0: not at all) for a source,
 * the wake or the timer. Returns 1 when woken (a wake was consumed), 0
 * otherwise, or -errno; *ready gets the tags of the sources found ready.
 * A signal ends the wait with 1 (-EINTR is never returned), as a wake
 * does: an interruption is news for the caller.
 */
int vigil__plat_wait(vigil__plat *p, int timeout_ms, unsigned *ready);

/*
 * Waits up to us microseconds for the wake alone (batching's gathering
 * wait, see vigil__wait). Returns 1 when woken or interrupted, 0 when the
 * time ran out, or -errno.
 */
int vigil__plat_gather(vigil__plat *p, int64_t us);

#endif /* VIGIL_PLATFORM_H */
