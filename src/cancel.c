/*
 * The cancel check of long scans.
 *
 * A scan (reconcile.c) can take seconds on a large tree, and two callers
 * may want it to stop before it ends: vigil_stop, whose grace for the
 * thread to drain has run out, and the progress callback of vigil_add,
 * which may ask to give up. Both are asked here, one check between
 * directories, so a scan knows nothing of the thread's stop protocol or of
 * the callback.
 */
#include "instance.h"
#include "cancel.h"
#include "thread.h"

#include <errno.h>
#include <pthread.h>

static int stop_overdue(const vigil_t *v) {
  /* Only the thread itself, scanning while a stop waits, is ever cut short. */
  return vigil__started(v) && v->stop == VIGIL__STOP_DRAIN && !v->thread_done &&
         pthread_equal(pthread_self(), v->thread) && vigil__now_ms() >= v->stop_deadline;
}

int vigil__cancelled(vigil_t *v) {
  if (stop_overdue(v))
    return 1;
  size_t step = v->add_dirs & ~(size_t)255;
  if (v->progress && step > v->add_told) {
    v->add_told = step;
    if (v->progress(v->progress_userdata, step))
      return -ECANCELED;
  }
  return 0;
}
