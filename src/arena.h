/*
 * The arena that holds an instance's tree nodes.
 *
 * A tree of a million entries is a million small objects. malloc would add
 * a header and round each one up to 16 bytes; here they are packed at
 * 4-byte granularity in one reserved range of address space, which is only
 * backed by memory as it is touched. Because the range never moves, a
 * node's address is stable for its whole life, and nodes can refer to one
 * another by 32-bit offsets instead of 64-bit pointers.
 *
 * Freed blocks go on a free list per size and are reused first. Under
 * AddressSanitizer a freed block is poisoned, so a use after free is still
 * caught.
 */
#ifndef VIGIL_ARENA_H
#define VIGIL_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* Blocks are made of units of 4 bytes; offsets count units from the base. */
#define VIGIL__ARENA_UNIT 4
/* The largest block: a directory node with a name of 255 bytes, and room. */
#define VIGIL__ARENA_MAX 384

typedef struct {
  char *base;
  size_t used;     /* bytes handed out from the bottom, the first 8 never */
  size_t opened;   /* bytes made accessible so far */
  size_t reserved; /* bytes of address space reserved */
  /* Free blocks by size in units: one set 4-aligned, one set 8-aligned. */
  uint32_t free4[VIGIL__ARENA_MAX / VIGIL__ARENA_UNIT + 1];
  uint32_t free8[VIGIL__ARENA_MAX / VIGIL__ARENA_UNIT + 1];
} vigil__arena;

int vigil__arena_init(vigil__arena *a);
void vigil__arena_destroy(vigil__arena *a);

/*
 * Returns a block of size bytes (at most VIGIL__ARENA_MAX), aligned to 8
 * bytes if align8, else to 4; NULL when the reservation is exhausted.
 */
void *vigil__arena_alloc(vigil__arena *a, size_t size, int align8);
/* Gives back a block; size and align8 must be those it was allocated with. */
void vigil__arena_release(vigil__arena *a, void *p, size_t size, int align8);

/* Offset 0 is never handed out, so it can stand for "none". */
static inline uint32_t vigil__arena_off(const vigil__arena *a, const void *p) {
  return p ? (uint32_t)(((const char *)p - a->base) / VIGIL__ARENA_UNIT) : 0;
}

static inline void *vigil__arena_ptr(const vigil__arena *a, uint32_t off) {
  return off ? a->base + (size_t)off * VIGIL__ARENA_UNIT : NULL;
}

#endif /* VIGIL_ARENA_H */
