/*
 * The backends built into this library, in order of preference: "auto"
 * (or no choice) takes the first. A new backend is added here and in
 * CMakeLists.txt, and nowhere else outside src/backend/.
 */
#include "vigil.h"
#include "backend/backend.h"

#include <string.h>

#ifdef _WIN32
extern const vigil__backend vigil__backend_windows; /* src/backend/windows.c */
#endif

/*
 * inotify sees every change made through the kernel, at once; polling
 * sees every change, whoever made it, a pass later. Without inotify
 * (macOS, the BSDs until they get a kqueue backend) polling is all there
 * is. "auto" also gives polling to the file systems inotify cannot see
 * (src/fstype.c).
 */
static const vigil__backend *const backends[] = {
#ifdef __linux__
    &vigil__backend_inotify,
#endif
#ifdef _WIN32
    &vigil__backend_windows,
    &vigil__backend_poll, /* what a network share that ReadDirectoryChangesW refuses needs */
#else
    &vigil__backend_poll,
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
