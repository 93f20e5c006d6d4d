#include "arena.h"
#include "fault.h"

#include <errno.h>
#include <string.h>
#ifndef _WIN32
#include <sys/mman.h> /* Windows: platform/winposix.h */
#endif

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

#ifdef ARENA_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/*
 * Address space is reserved without access, so it costs no memory and
 * counts against no commit limit; it is opened for use in steps as the
 * tree grows. 4 GiB holds about a hundred million entries.
 */
#define RESERVE ((size_t)4 << 30)
#define STEP ((size_t)1 << 20)

static size_t round_size(size_t size, int align8) {
  size_t g = align8 ? 8 : VIGIL__ARENA_UNIT;
  return (size + g - 1) & ~(g - 1);
}

int vigil__arena_init(vigil__arena *a) {
  memset(a, 0, sizeof *a);
  if (VIGIL__ALLOC_FAULT())
    return -ENOMEM;
  /*
   * Under an address-space limit (ulimit -v) a smaller reservation still
   * serves a tree of millions of entries.
   */
  size_t size = RESERVE;
  void *p = MAP_FAILED;
  while (p == MAP_FAILED && size >= ((size_t)64 << 20)) {
    p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      size /= 4;
  }
  if (p == MAP_FAILED)
    return -ENOMEM;
  a->base = p;
  a->reserved = size;
  a->used = 8; /* offset 0 stands for "none" */
  return 0;
}

void vigil__arena_destroy(vigil__arena *a) {
  /* The next mapping at these addresses must not inherit the poison. */
  if (a->base) {
    UNPOISON(a->base, a->opened);
    munmap(a->base, a->reserved);
  }
  memset(a, 0, sizeof *a);
}

static void push(vigil__arena *a, uint32_t *list, void *p, size_t size) {
  memcpy(p, list, sizeof *list);
  *list = vigil__arena_off(a, p);
  POISON((char *)p + sizeof *list, size - sizeof *list);
}

void *vigil__arena_alloc(vigil__arena *a, size_t size, int align8) {
  size = round_size(size, align8);
  if (size > VIGIL__ARENA_MAX)
    return NULL;
  uint32_t *list =
      align8 ? &a->free8[size / VIGIL__ARENA_UNIT] : &a->free4[size / VIGIL__ARENA_UNIT];
  if (*list) {
    char *p = vigil__arena_ptr(a, *list);
    UNPOISON(p, size);
    memcpy(list, p, sizeof *list);
    return p;
  }
  size_t start = align8 ? (a->used + 7) & ~(size_t)7 : a->used;
  if (start + size > a->reserved || VIGIL__ALLOC_FAULT())
    return NULL;
  if (start + size > a->opened) {
    size_t to = (start + size + STEP - 1) / STEP * STEP;
    if (to > a->reserved)
      to = a->reserved;
    if (mprotect(a->base + a->opened, to - a->opened, PROT_READ | PROT_WRITE) < 0)
      return NULL;
    a->opened = to;
  }
  /* The 4 bytes skipped to align are a block of their own for later. */
  if (start > a->used)
    push(a, &a->free4[1], a->base + a->used, start - a->used);
  a->used = start + size;
  return a->base + start;
}

void vigil__arena_release(vigil__arena *a, void *p, size_t size, int align8) {
  if (!p)
    return;
  size = round_size(size, align8);
  push(a, align8 ? &a->free8[size / VIGIL__ARENA_UNIT] : &a->free4[size / VIGIL__ARENA_UNIT], p,
       size);
}
