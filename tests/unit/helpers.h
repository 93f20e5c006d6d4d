/*
 * What the unit tests share: a private directory under /tmp and the files
 * in it, the monotonic clock, and waiting for a thread to be gone. The
 * file helpers fail the current test (cmocka) when the file system
 * refuses, since a test that cannot set up its tree proves nothing.
 * Include it after cmocka.h.
 */
#ifndef VIGIL_TEST_HELPERS_H
#define VIGIL_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

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

#endif /* VIGIL_TEST_HELPERS_H */
