/*
 * The event queue: events waiting for vigil_read.
 *
 * Records are kept in one array and their strings in one byte buffer, so
 * queuing an event costs no allocation once the buffers have grown. A
 * delivered event's strings are copied out to a buffer of their own, which
 * only the next delivery touches: vigil_add or vigil_remove may queue
 * events (and grow the string buffer) between two reads without
 * invalidating the event the caller holds.
 */
#ifndef VIGIL_QUEUE_H
#define VIGIL_QUEUE_H

#include "vigil.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t kind;
  uint8_t flags;
  int error;
  size_t path; /* offset into the string buffer, or SIZE_MAX for none */
  size_t from;
} vigil__qrec;

typedef struct {
  vigil__qrec *rec;
  size_t head, tail, cap;
  char *str;
  size_t len, scap;
  char *cur; /* the delivered event's strings */
  size_t ccap;
} vigil__queue;

void vigil__queue_free(vigil__queue *q);

static inline int vigil__queue_empty(const vigil__queue *q) {
  return q->head == q->tail;
}

static inline size_t vigil__queue_size(const vigil__queue *q) {
  return q->tail - q->head;
}

/* Forgets every event, keeping the storage. */
void vigil__queue_clear(vigil__queue *q);

/*
 * Queuing happens in two steps so that paths can be written straight into
 * the string buffer: vigil__queue_mark returns the current end of the
 * strings, the caller appends the path (and for a move the old path,
 * each NUL-terminated) with vigil__node_path, and vigil__queue_commit
 * turns them into a record. vigil__queue_abort drops them again.
 */
static inline size_t vigil__queue_mark(const vigil__queue *q) {
  return q->len;
}
int vigil__queue_commit(vigil__queue *q, vigil_kind kind, unsigned flags, int error, size_t path,
                        size_t from);
static inline void vigil__queue_abort(vigil__queue *q, size_t mark) {
  q->len = mark;
}

/* Takes the oldest event; 0 if the queue is empty, 1 otherwise. */
int vigil__queue_pop(vigil__queue *q, vigil_event *ev);

#endif /* VIGIL_QUEUE_H */
