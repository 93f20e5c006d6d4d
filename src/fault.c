/*
 * The counter behind fault injection (see fault.h). It is process-wide on
 * purpose: a test arms it, runs a whole open/add/read/close sequence, and
 * every allocation and system call of that sequence counts, whichever
 * instance makes it.
 */
#include "fault.h"

#ifdef VIGIL_FAULT_INJECTION

#include <string.h>

static unsigned long calls, fail_at;
static int fail_errno;

void vigil__fault_set(unsigned long nth, int err) {
  calls = 0;
  fail_at = nth;
  fail_errno = err;
}

unsigned long vigil__fault_calls(void) {
  return calls;
}

int vigil__fault_hit(void) {
  if (++calls != fail_at)
    return 0;
  errno = fail_errno;
  return 1;
}

/* An allocation is never interrupted: an EINTR armed for it does nothing. */
int vigil__fault_alloc(void) {
  int saved = errno;
  if (vigil__fault_hit() && fail_errno != EINTR)
    return 1;
  errno = saved;
  return 0;
}

void *vigil__malloc(size_t n) {
  return vigil__fault_alloc() ? NULL : malloc(n);
}

void *vigil__calloc(size_t n, size_t size) {
  return vigil__fault_alloc() ? NULL : calloc(n, size);
}

void *vigil__realloc(void *p, size_t n) {
  return vigil__fault_alloc() ? NULL : realloc(p, n);
}

char *vigil__strdup(const char *s) {
  return vigil__fault_alloc() ? NULL : strdup(s);
}

#else

/* ISO C wants a translation unit to declare something. */
typedef int vigil__fault_disabled;

#endif
