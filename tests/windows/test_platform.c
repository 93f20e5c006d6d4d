/*
 * The Windows platform layer (src/platform/windows.c) under wine: the
 * wake (before a wait, from another thread, from a console control
 * handler, and kept across a change of the queue's level), the sources
 * and their tags, the timer, the queue's level on vigil_fd, batching's
 * gathering wait, the limit of 63 sources, and what a program that
 * waits by itself is given: every handle, and the time left on the timer
 * (vigil_wait_fds and vigil_timeout).
 */
#include "harness.h"

#include "platform/platform.h"

#include <windows.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TAG_A 1u
#define TAG_B 4u

static int signalled(HANDLE h) {
  return WaitForSingleObject(h, 0) == WAIT_OBJECT_0;
}

static vigil__plat *open_plat(void) {
  vigil__plat *p;
  WT_EQ(vigil__plat_open(&p), 0);
  WT_STREQ(vigil__plat_name, "windows");
  return p;
}

static void wake_before_a_wait_ends_it_once(void) {
  vigil__plat *p = open_plat();
  unsigned ready = 99;
  WT_EQ(vigil__plat_wake(p), 0);
  WT_EQ(vigil__plat_wake(p), 0);
  WT_ASSERT(signalled(vigil__plat_fd(p)));
  int64_t t0 = wt_now_us();
  WT_EQ(vigil__plat_wait(p, 5000, &ready), 1);
  WT_CMP(wt_now_us() - t0, <, 1000000);
  WT_EQ(ready, 0);
  /* Two wakes before one wait are one. */
  WT_EQ(vigil__plat_wait(p, 0, &ready), 0);
  WT_ASSERT(!signalled(vigil__plat_fd(p)));
  vigil__plat_close(p);
}

typedef struct {
  vigil__plat *p;
  DWORD delay_ms;
} waker_arg;

static DWORD WINAPI waker(LPVOID arg) {
  waker_arg *a = arg;
  Sleep(a->delay_ms);
  vigil__plat_wake(a->p);
  return 0;
}

static void wake_from_another_thread_ends_a_blocked_wait(void) {
  vigil__plat *p = open_plat();
  waker_arg a = {p, 100};
  HANDLE t = CreateThread(NULL, 0, waker, &a, 0, NULL);
  WT_ASSERT(t);
  unsigned ready;
  int64_t t0 = wt_now_us();
  WT_EQ(vigil__plat_wait(p, -1, &ready), 1);
  int64_t us = wt_now_us() - t0;
  printf("    woken after %.1f ms (the wake came at 100 ms)\n", us / 1000.0);
  WT_CMP(us, <, 5000000);
  WT_EQ(WaitForSingleObject(t, 5000), WAIT_OBJECT_0);
  CloseHandle(t);
  vigil__plat_close(p);
}

static vigil__plat *ctrl_plat;
static volatile LONG ctrl_calls;

static BOOL WINAPI on_ctrl(DWORD type) {
  if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT)
    return FALSE;
  InterlockedIncrement(&ctrl_calls);
  vigil__plat_wake(ctrl_plat);
  return TRUE;
}

/*
 * Windows runs a console control handler on a thread of its own; the
 * wake from there ends the wait. wine delivers Ctrl-C to a console
 * process group as Windows does when the program has a console.
 */
static void wake_from_a_console_control_handler(void) {
  vigil__plat *p = open_plat();
  ctrl_plat = p;
  WT_ASSERT(SetConsoleCtrlHandler(on_ctrl, TRUE));
  if (!GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)) {
    DWORD err = GetLastError();
    SetConsoleCtrlHandler(on_ctrl, FALSE);
    vigil__plat_close(p);
    char why[128];
    snprintf(why, sizeof why, "no console to send Ctrl-C to (GenerateConsoleCtrlEvent: error %lu)",
             (unsigned long)err);
    wt_skip(why);
  }
  unsigned ready;
  WT_EQ(vigil__plat_wait(p, 5000, &ready), 1);
  WT_EQ(ctrl_calls, 1);
  SetConsoleCtrlHandler(on_ctrl, FALSE);
  vigil__plat_close(p);
}

static void sources_are_reported_by_their_tags(void) {
  vigil__plat *p = open_plat();
  HANDLE a = CreateEventW(NULL, TRUE, FALSE, NULL), b = CreateEventW(NULL, TRUE, FALSE, NULL);
  WT_EQ(vigil__plat_add(p, a, VIGIL__PLAT_IN, TAG_A), 0);
  WT_EQ(vigil__plat_add(p, b, VIGIL__PLAT_IN, TAG_B), 0);
  unsigned ready = 99;
  WT_EQ(vigil__plat_wait(p, 0, &ready), 0);
  WT_EQ(ready, 0);
  SetEvent(b);
  WT_EQ(vigil__plat_wait(p, 5000, &ready), 0);
  WT_EQ(ready, TAG_B);
  SetEvent(a);
  WT_EQ(vigil__plat_wait(p, 5000, &ready), 0);
  WT_EQ(ready, TAG_A | TAG_B);
  /* A source stays ready until its owner resets it. */
  ResetEvent(a), ResetEvent(b);
  WT_EQ(vigil__plat_wait(p, 0, &ready), 0);
  WT_EQ(ready, 0);
  /* Neither a source nor the queue's level sets vigil_fd: only a wake and waiting events do. */
  SetEvent(a);
  WT_ASSERT(!signalled(vigil__plat_fd(p)));
  CloseHandle(a), CloseHandle(b);
  vigil__plat_close(p);
}

static void at_most_63_sources(void) {
  vigil__plat *p = open_plat();
  HANDLE e = CreateEventW(NULL, TRUE, FALSE, NULL);
  for (int i = 0; i < 63; i++)
    WT_EQ(vigil__plat_add(p, e, VIGIL__PLAT_IN, 1u << (i % 16)), 0);
  WT_EQ(vigil__plat_add(p, e, VIGIL__PLAT_IN, 1), -EMFILE);
  CloseHandle(e);
  vigil__plat_close(p);
}

static void the_timer_ends_a_wait(void) {
  vigil__plat *p = open_plat();
  unsigned ready = 99;
  vigil__plat_timer(p, 100);
  int64_t t0 = wt_now_us();
  WT_EQ(vigil__plat_wait(p, -1, &ready), 0);
  int64_t us = wt_now_us() - t0;
  WT_EQ(ready, 0);
  WT_CMP(us, >=, 90000);
  WT_CMP(us, <, 5000000);
  /* Disarmed, it does not. */
  vigil__plat_timer(p, -1);
  t0 = wt_now_us();
  WT_EQ(vigil__plat_wait(p, 150, &ready), 0);
  WT_CMP(wt_now_us() - t0, >=, 140000);
  vigil__plat_close(p);
}

static void the_queue_level_keeps_vigil_fd_set(void) {
  vigil__plat *p = open_plat();
  HANDLE fd = vigil__plat_fd(p);
  unsigned ready;
  vigil__plat_ready(p, 1);
  WT_ASSERT(signalled(fd));
  /* A wait with events queued is not a wake, and leaves the level as it was. */
  WT_EQ(vigil__plat_wait(p, 0, &ready), 0);
  WT_ASSERT(signalled(fd));
  vigil__plat_ready(p, 0);
  WT_ASSERT(!signalled(fd));
  /* A wake is kept across the level's changes, and taken once. */
  vigil__plat_ready(p, 1);
  WT_EQ(vigil__plat_wake(p), 0);
  vigil__plat_ready(p, 0);
  WT_ASSERT(signalled(fd));
  WT_EQ(vigil__plat_wait(p, 0, &ready), 1);
  WT_ASSERT(!signalled(fd));
  WT_EQ(vigil__plat_wait(p, 0, &ready), 0);
  vigil__plat_close(p);
}

static void gathering_wait(void) {
  vigil__plat *p = open_plat();
  int64_t t0 = wt_now_us();
  WT_EQ(vigil__plat_gather(p, 100000), 0);
  WT_CMP(wt_now_us() - t0, >=, 90000);
  WT_EQ(vigil__plat_wake(p), 0);
  WT_EQ(vigil__plat_gather(p, 5000000), 1);
  /* The queue's level ends it too, and is not taken. */
  vigil__plat_ready(p, 1);
  t0 = wt_now_us();
  WT_EQ(vigil__plat_gather(p, 5000000), 0);
  WT_CMP(wt_now_us() - t0, <, 1000000);
  WT_ASSERT(signalled(vigil__plat_fd(p)));
  vigil__plat_close(p);
}

/*
 * A program that waits by itself gets every handle, vigil_fd first, and
 * the timer's time left: a wait on those alone, no longer than that,
 * ends when a source is signalled or the timer falls due.
 */
static void what_a_program_waits_on(void) {
  vigil__plat *p = open_plat();
  HANDLE a = CreateEventW(NULL, TRUE, FALSE, NULL);
  WT_EQ(vigil__plat_add(p, a, VIGIL__PLAT_IN, TAG_A), 0);
  vigil_wait_fd fds[4];
  WT_EQ(vigil__plat_fds(p, fds, 4), 2);
  WT_EQ(vigil__plat_fds(p, fds, 1), 2);
  WT_ASSERT(fds[0].fd == vigil__plat_fd(p));
  WT_EQ(vigil__plat_fds(p, fds, 4), 2);
  WT_ASSERT(fds[1].fd == a);
  WT_EQ(fds[0].events, VIGIL_WAIT_IN);
  WT_EQ(fds[1].events, VIGIL_WAIT_IN);
  HANDLE h[2] = {fds[0].fd, fds[1].fd};
  SetEvent(a);
  WT_EQ(WaitForMultipleObjects(2, h, FALSE, 5000), WAIT_OBJECT_0 + 1);
  ResetEvent(a);
  WT_EQ(vigil__plat_timeout(p), -1);
  vigil__plat_timer(p, 100);
  int t = vigil__plat_timeout(p);
  WT_CMP(t, >, 0);
  WT_CMP(t, <=, 100);
  int64_t t0 = wt_now_us();
  WT_EQ(WaitForMultipleObjects(2, h, FALSE, (DWORD)t), WAIT_TIMEOUT);
  WT_CMP(wt_now_us() - t0, >=, 80000);
  WT_EQ(vigil__plat_timeout(p), 0);
  vigil__plat_timer(p, -1);
  WT_EQ(vigil__plat_timeout(p), -1);
  CloseHandle(a);
  vigil__plat_close(p);
}

int main(int argc, char **argv) {
  static const wt_test tests[] = {
      WT_TEST(wake_before_a_wait_ends_it_once),
      WT_TEST(wake_from_another_thread_ends_a_blocked_wait),
      WT_TEST(wake_from_a_console_control_handler),
      WT_TEST(sources_are_reported_by_their_tags),
      WT_TEST(at_most_63_sources),
      WT_TEST(the_timer_ends_a_wait),
      WT_TEST(the_queue_level_keeps_vigil_fd_set),
      WT_TEST(gathering_wait),
      WT_TEST(what_a_program_waits_on),
  };
  return wt_run(tests, sizeof tests / sizeof tests[0], argc, argv);
}
