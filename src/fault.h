/*
 * Fault injection, and the one way vigil makes system calls.
 *
 * Every system call goes through VIGIL__SYS, which retries a call that a
 * signal interrupted (EINTR): a signal must never fail a scan or a read.
 * The platform layer's waits (src/platform/) are the exception, made with
 * VIGIL__SYS_ONCE, because there an interruption is news for the caller.
 *
 * In a build with -DVIGIL_FAULT_INJECTION=ON every allocation and every
 * system call also goes through a counter, and a test can make the Nth of
 * them fail with a chosen errno (vigil__fault_set). In a normal build the
 * counter is not there at all.
 */
#ifndef VIGIL_FAULT_H
#define VIGIL_FAULT_H

#include <errno.h>
#include <stdlib.h>

#ifdef VIGIL_FAULT_INJECTION
/* Counts one call; returns 1 with errno set when this call must fail. */
int vigil__fault_hit(void);
/* Makes call number nth (from 1, counted from now) fail with err; 0 disarms. */
void vigil__fault_set(unsigned long nth, int err);
/* Calls counted since the last vigil__fault_set. */
unsigned long vigil__fault_calls(void);
/* Counts one allocation; returns 1 when it must fail (never for EINTR). */
int vigil__fault_alloc(void);
void *vigil__malloc(size_t n);
void *vigil__calloc(size_t n, size_t size);
void *vigil__realloc(void *p, size_t n);
char *vigil__strdup(const char *s);
#define VIGIL__FAULT() vigil__fault_hit()
#define VIGIL__ALLOC_FAULT() vigil__fault_alloc()
#else
#define vigil__malloc malloc
#define vigil__calloc calloc
#define vigil__realloc realloc
#define vigil__strdup strdup
#define VIGIL__FAULT() 0
#define VIGIL__ALLOC_FAULT() 0
#endif

#define VIGIL__SYS(expr)                                                                           \
  __extension__({                                                                                  \
    __typeof__(expr) vigil__r;                                                                     \
    do                                                                                             \
      vigil__r = VIGIL__FAULT() ? -1 : (expr);                                                     \
    while (vigil__r == -1 && errno == EINTR);                                                      \
    vigil__r;                                                                                      \
  })

#define VIGIL__SYS_ONCE(expr) (VIGIL__FAULT() ? -1 : (expr))

#endif /* VIGIL_FAULT_H */
