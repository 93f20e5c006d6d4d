/*
 * The background thread of vigil_start: a loop over the same two halves as
 * vigil_read (vigil__step, then vigil__wait), with the instance's lock
 * held around the first and released around the second and around the
 * callback. Releasing it during the callback is what lets the callback
 * call vigil_stop, vigil_add or vigil_remove without deadlock; handing it
 * over between two steps to a caller that waits for it is what bounds
 * vigil_stop, and every other call, while reads keep bringing records.
 */
#include "instance.h"
#include "thread.h"
#include "platform/portable.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

int vigil__started(const vigil_t *v) {
  return __atomic_load_n(&v->started_flag, __ATOMIC_ACQUIRE);
}

static void reap(vigil_t *v);

int vigil__busy(vigil_t *v) {
  if (!vigil__started(v))
    return 0;
  /* A thread stopped from its callback has ended; join it and carry on. */
  vigil__lock(v);
  reap(v);
  vigil__unlock(v);
  return vigil__started(v);
}

/*
 * A caller that waits for the lock says so first: the thread lets it in
 * between two steps (let_callers_in). A mutex does not do it alone: a
 * storm keeps every read bringing records, often records that end in no
 * event (a file made and deleted at once), and the thread goes from one
 * read to the next without letting go of the lock; where it does (around
 * a callback), it takes the lock back before a waiting caller has woken.
 * vigil_stop would wait for as long as the storm lasts.
 */
void vigil__lock(const vigil_t *v) {
  vigil_t *w = (vigil_t *)v;
  __atomic_add_fetch(&w->lock_wanted, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&w->lock);
  if (__atomic_sub_fetch(&w->lock_wanted, 1, __ATOMIC_SEQ_CST) == 0)
    pthread_cond_broadcast(&w->cond);
}

/* The thread's own lock: it is the one that lets the others in, it never waits for that. */
static void thread_lock(vigil_t *v) {
  pthread_mutex_lock(&v->lock);
}

void vigil__unlock(const vigil_t *v) {
  pthread_mutex_unlock((pthread_mutex_t *)&v->lock);
}

static void deliver(vigil_t *v, const vigil_event *ev) {
  vigil__unlock(v);
  v->cb(v, ev, v->cb_userdata);
  thread_lock(v);
}

static void deliver_unlocked(vigil_t *v, const vigil_event *ev, void *ctx) {
  (void)ctx;
  deliver(v, ev);
}

/*
 * The stop protocol's drain: what had been read, or was queued in the
 * kernel, when vigil_stop was called goes to the callback until the grace
 * runs out; whatever is left then is counted and dropped. Dropping leaves
 * the tree behind the disk, so the next reader is told with an overflow
 * and a rescan.
 */
static void drain(vigil_t *v) {
  vigil__drain(v, v->stop_deadline, deliver_unlocked, NULL);
  size_t dropped = vigil__queue_size(&v->queue);
  vigil__queue_clear(&v->queue);
  dropped += vigil__drain_discard(v);
  v->dropped = dropped;
  if (dropped)
    v->need_repair = 1;
}

/* The thread, holding the lock: every caller waiting for it has it first. */
static void let_callers_in(vigil_t *v) {
  while (__atomic_load_n(&v->lock_wanted, __ATOMIC_SEQ_CST))
    pthread_cond_wait(&v->cond, &v->lock);
}

static void *thread_main(void *arg) {
  vigil_t *v = arg;
  thread_lock(v);
  for (;;) {
    let_callers_in(v);
    if (v->stop != VIGIL__RUN)
      break;
    vigil_event ev;
    int wait_ms;
    size_t got;
    int r = vigil__step(v, &ev, 0, &wait_ms, &got);
    if (r == 1) {
      deliver(v, &ev);
      continue;
    }
    if (r < 0) {
      /* Tell the callback, then back off so a persistent error cannot spin. */
      vigil_event err = {.kind = VIGIL_ERROR, .error = r};
      deliver(v, &err);
      wait_ms = 100;
    } else if (got) {
      continue;
    }
    vigil__unlock(v);
    vigil__wait(v, wait_ms);
    thread_lock(v);
  }
  if (v->stop == VIGIL__STOP_DRAIN)
    drain(v);
  v->thread_done = 1;
  pthread_cond_broadcast(&v->cond);
  if (v->close_on_exit) {
    /* vigil_close was called from the callback: the thread frees the instance. */
    vigil__unlock(v);
    pthread_detach(pthread_self());
    vigil__free(v);
    return NULL;
  }
  vigil__unlock(v);
  return NULL;
}

/* Joins a thread that has ended; the lock is held on entry and on return. */
static void reap(vigil_t *v) {
  if (!vigil__started(v) || !v->thread_done || v->joining)
    return;
  v->joining = 1;
  vigil__unlock(v);
  pthread_join(v->thread, NULL);
  vigil__lock(v);
  v->joining = 0;
  v->stop = VIGIL__RUN;
  __atomic_store_n(&v->started_flag, 0, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&v->cond);
}

int vigil_start(vigil_t *v, vigil_cb cb, void *userdata) {
  if (!v || !cb)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  reap(v);
  if (vigil__started(v)) {
    vigil__unlock(v);
    return VIGIL_EBUSY;
  }
  v->cb = cb;
  v->cb_userdata = userdata;
  v->stop = VIGIL__RUN;
  v->thread_done = 0;
  v->dropped = 0;
  /* The thread blocks every signal, so signals reach the application's threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&v->thread, NULL, thread_main, v);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc == 0)
    __atomic_store_n(&v->started_flag, 1, __ATOMIC_RELEASE);
  vigil__unlock(v);
  return -rc;
}

int vigil_stop(vigil_t *v, int grace_ms) {
  if (!v)
    return -EINVAL;
  if (vigil__forked(v))
    return VIGIL_EFORKED;
  vigil__lock(v);
  if (!vigil__started(v)) {
    vigil__unlock(v);
    return 0;
  }
  if (pthread_equal(pthread_self(), v->thread)) {
    v->stop = VIGIL__STOP_NOW;
    vigil__unlock(v);
    return 0;
  }
  if (grace_ms < 0)
    grace_ms = 0;
  if (v->stop == VIGIL__RUN) {
    v->stop = VIGIL__STOP_DRAIN;
    v->stop_deadline = vigil__now_ms() + grace_ms;
    vigil__drain_mark(v, 1);
  }
  vigil__unlock(v);
  vigil_wake(v);
  vigil__lock(v);
  /*
   * The bound: the thread checks the deadline between events, so it ends
   * within the grace unless a callback itself takes longer.
   */
  struct timespec until;
  vigil__cond_deadline(&until, v->stop_deadline + 8);
  while (vigil__started(v) && !v->thread_done) {
    if (pthread_cond_timedwait(&v->cond, &v->lock, &until) == ETIMEDOUT)
      break;
  }
  if (vigil__started(v) && !v->thread_done) {
    vigil__unlock(v);
    return -ETIMEDOUT;
  }
  int dropped = v->dropped > (size_t)INT32_MAX ? INT32_MAX : (int)v->dropped;
  reap(v);
  vigil__unlock(v);
  return dropped;
}

void vigil__thread_end(vigil_t *v) {
  vigil__lock(v);
  while (vigil__started(v)) {
    if (!v->thread_done) {
      if (v->stop == VIGIL__RUN) {
        v->stop = VIGIL__STOP_DRAIN;
        v->stop_deadline = vigil__now_ms();
        vigil__drain_mark(v, 0);
      }
      vigil__unlock(v);
      vigil_wake(v);
      vigil__lock(v);
      /* A callback that does not return holds us here: freeing under it would be worse. */
      while (!v->thread_done)
        pthread_cond_wait(&v->cond, &v->lock);
    }
    if (v->joining)
      pthread_cond_wait(&v->cond, &v->lock);
    else
      reap(v);
  }
  vigil__unlock(v);
}
