/*
 * Fault injection. In a build with -DVIGIL_FAULT_INJECTION=ON every
 * allocation and every system call that vigil makes goes through a counter,
 * and a test can make the Nth of them fail with a chosen errno (see
 * fault.c). In a normal build these are plain calls with no cost.
 */
#ifndef VIGIL_FAULT_H
#define VIGIL_FAULT_H

#include <stdlib.h>

#ifdef VIGIL_FAULT_INJECTION
/* Counts one call; returns -1 with errno set when this call must fail. */
int vigil__fault_hit(void);
void *vigil__malloc(size_t n);
void *vigil__calloc(size_t n, size_t size);
void *vigil__realloc(void *p, size_t n);
char *vigil__strdup(const char *s);
#define VIGIL__SYS(expr) (vigil__fault_hit() ? -1 : (expr))
#else
#define vigil__malloc malloc
#define vigil__calloc calloc
#define vigil__realloc realloc
#define vigil__strdup strdup
#define VIGIL__SYS(expr) (expr)
#endif

#endif /* VIGIL_FAULT_H */
