/*
 * The backends built into this library, in order of preference: "auto"
 * (or no choice) takes the first. A new backend is added here and in
 * CMakeLists.txt, and nowhere else outside src/backend/.
 */
#include "vigil.h"
#include "backend/backend.h"

#include <string.h>

#if !defined(__linux__) && !defined(_WIN32)
/* Until a backend of its own exists, a build without inotify links this one. */
#include "backend/scripted.h"
#endif

#ifdef _WIN32
extern const vigil__backend vigil__backend_windows; /* src/backend/windows.c */
#endif

static const vigil__backend *const backends[] = {
#ifdef __linux__
    &vigil__backend_inotify,
    &vigil__backend_poll,
#elif defined(_WIN32)
    &vigil__backend_windows,
    &vigil__backend_poll, /* what a network share that ReadDirectoryChangesW refuses needs */
#else
    &vigil__backend_scripted,
#endif
};

#define BACKENDS (sizeof backends / sizeof backends[0])

/* One source per backend in use, and one that vigil__open_with may add (tree.h). */
_Static_assert(BACKENDS + 1 <= VIGIL__SOURCES_MAX,
               "more backends than a node's flags can name: widen VIGIL__N_SRC_SHIFT's bits");

const vigil__backend *vigil__backend_find(const char *name) {
  if (!name || strcmp(name, "auto") == 0)
    return backends[0];
  for (size_t i = 0; i < BACKENDS; i++)
    if (strcmp(backends[i]->name, name) == 0)
      return backends[i];
  return NULL;
}

const char *vigil_backend_name(size_t i) {
  return i < BACKENDS ? backends[i]->name : NULL;
}
