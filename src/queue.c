#include "queue.h"
#include "fault.h"

#include <errno.h>
#include <string.h>

void vigil__queue_free(vigil__queue *q) {
  free(q->rec);
  free(q->str);
  free(q->cur);
  memset(q, 0, sizeof *q);
}

void vigil__queue_clear(vigil__queue *q) {
  /* Only records and their strings go; the delivered event's copy stays. */
  q->head = q->tail = 0;
  q->len = 0;
}

static int same_path(const vigil__queue *q, const vigil__qrec *r, size_t path) {
  if (r->path == SIZE_MAX || path == SIZE_MAX)
    return 0;
  return strcmp(q->str + r->path, q->str + path) == 0;
}

int vigil__queue_commit(vigil__queue *q, vigil_kind kind, unsigned flags, int error, size_t path,
                        size_t from) {
  /*
   * A modified event identical to the one just queued says nothing new: a
   * burst of writes to one file becomes one event while it waits.
   */
  if (kind == VIGIL_MODIFIED && q->tail > q->head) {
    const vigil__qrec *last = &q->rec[q->tail - 1];
    if (last->kind == VIGIL_MODIFIED && last->flags == flags && same_path(q, last, path)) {
      q->len = path;
      return 0;
    }
  }
  if (q->tail == q->cap) {
    if (q->head > 0) {
      memmove(q->rec, q->rec + q->head, (q->tail - q->head) * sizeof *q->rec);
      q->tail -= q->head;
      q->head = 0;
    }
    if (q->tail == q->cap) {
      size_t ncap = q->cap ? q->cap * 2 : 256;
      vigil__qrec *nr = vigil__realloc(q->rec, ncap * sizeof *nr);
      if (!nr)
        return -ENOMEM;
      q->rec = nr;
      q->cap = ncap;
    }
  }
  vigil__qrec *r = &q->rec[q->tail++];
  r->kind = (uint8_t)kind;
  r->flags = (uint8_t)flags;
  r->error = error;
  r->path = path;
  r->from = from;
  return 0;
}

static size_t str_size(const vigil__queue *q, size_t off) {
  return off == SIZE_MAX ? 0 : strlen(q->str + off) + 1;
}

int vigil__queue_pop(vigil__queue *q, vigil_event *ev) {
  if (q->head == q->tail)
    return 0;
  const vigil__qrec *r = &q->rec[q->head];
  size_t plen = str_size(q, r->path), flen = str_size(q, r->from);
  if (plen + flen > q->ccap) {
    size_t ncap = q->ccap ? q->ccap : 256;
    while (ncap < plen + flen)
      ncap *= 2;
    char *nc = vigil__realloc(q->cur, ncap);
    if (!nc)
      return -ENOMEM; /* the event stays queued for the next try */
    q->cur = nc;
    q->ccap = ncap;
  }
  q->head++;
  ev->kind = (vigil_kind)r->kind;
  ev->flags = r->flags;
  ev->error = r->error;
  ev->path = r->path == SIZE_MAX ? NULL : memcpy(q->cur, q->str + r->path, plen);
  ev->from = r->from == SIZE_MAX ? NULL : memcpy(q->cur + plen, q->str + r->from, flen);
  /* Emptied: the string buffer starts again from the beginning. */
  if (q->head == q->tail)
    vigil__queue_clear(q);
  return 1;
}
