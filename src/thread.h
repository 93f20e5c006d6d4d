/*
 * thread.c: the background thread of vigil_start, and the lock that
 * guards the instance while it runs.
 */
#ifndef VIGIL_THREAD_H
#define VIGIL_THREAD_H

#include "vigil.h"

enum vigil__stop_state { VIGIL__RUN, VIGIL__STOP_DRAIN, VIGIL__STOP_NOW };

int vigil__started(const vigil_t *v);
/* Started and still running (a thread that has ended is joined first). */
int vigil__busy(vigil_t *v);
void vigil__lock(const vigil_t *v);
void vigil__unlock(const vigil_t *v);
/* Stops and joins the thread, if any, for vigil_close. */
void vigil__thread_end(vigil_t *v);

#endif /* VIGIL_THREAD_H */
