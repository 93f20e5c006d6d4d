/*
 * What the unit tests share: a private directory under /tmp and the files
 * in it, the monotonic clock, waiting for a thread to be gone, counting
 * the process's descriptors and tasks, and checks run in a forked child
 * (in a namespace of its own). The file helpers fail the current test
 * (cmocka) when the file system refuses, since a test that cannot set up
 * its tree proves nothing. Include it after cmocka.h.
 */
#ifndef VIGIL_TEST_HELPERS_H
#define VIGIL_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in microseconds. */
int64_t tu_now_us(void);

/* Makes a fresh directory /tmp/vigil-TAG-XXXXXX and writes its path into dir. */
void tu_tmpdir(char *dir, size_t size, const char *tag);

/* Removes path and everything below it, never following a link; 0 or -1. */
int tu_rm_tree(const char *path);

/* Creates (or truncates) the file at path and writes text into it. */
void tu_write(const char *path, const char *text);

/* The same for dir/rel. */
void tu_write_at(const char *dir, const char *rel, const char *text);

/* Makes the directory dir/rel. */
void tu_mkdir_at(const char *dir, const char *rel);

/*
 * Waits up to timeout_us for the thread with this id to be gone from the
 * process (pthread_join returns a moment before the kernel reaps the
 * task). Returns 1 if it is gone.
 */
int tu_wait_task_gone(int tid, int64_t timeout_us);

/* Entries of the directory at path, "." and ".." aside, or -1 if it cannot be read. */
int tu_count_entries(const char *path);

/* Open descriptors of this process (not the one the count holds), or -1. */
int tu_count_fds(void);

/*
 * Checks in a forked child. cmocka's assertions would jump back into the
 * test runner, which in a child goes on to run the other tests there, so
 * a child checks with TU_CHILD_CHECK, says why on stderr and exits
 * TU_SKIP when it cannot do its part, and the test gives its status to
 * tu_child_verdict.
 */
#define TU_SKIP 77

/* In a child: says which check failed, and ends the child with status 1. */
#define TU_CHILD_CHECK(cond)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      dprintf(2, "in the child, this does not hold: %s\n", #cond);                                 \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

/* Waits for a child; returns its exit status, 1000 + signal if killed, or -1. */
int tu_reap(pid_t pid);

/* A child's status decides the test: TU_SKIP skips it, anything but 0 fails it. */
void tu_child_verdict(int status);

/*
 * Writes text to an existing file (under /proc): 0, or -1 with errno set.
 * Never fails the test, so that a child may use it.
 */
int tu_write_file(const char *path, const char *text);

/*
 * unshare(CLONE_NEWUSER | flags), with this process's user and group
 * mapped to root in the new user namespace: 0, or -errno.
 */
int tu_enter_userns(int flags);

#endif /* VIGIL_TEST_HELPERS_H */
