/*
 * The scripted backend: an in-memory backend the unit tests drive. It
 * watches nothing; a test does something on disk, then tells the backend
 * what a kernel would have said, and the backend makes that observation
 * at its next read, as any backend does. It proves that the core needs
 * nothing of a backend but the interface in backend.h.
 *
 * Directories are named by their path relative to their root ("" for the
 * top), looked up among the directories it watches when the record is
 * read, as a kernel's watch descriptor is. Each call returns 0 or -ENOMEM.
 */
#ifndef VIGIL_BACKEND_SCRIPTED_H
#define VIGIL_BACKEND_SCRIPTED_H

#include "backend/backend.h"

extern const vigil__backend vigil__backend_scripted;
/*
 * The same, as a backend that watches a whole root from its top: the core
 * gives it only the tops, and it finds the directories below in the tree.
 */
extern const vigil__backend vigil__backend_scripted_recursive;

int vigil__scripted_appeared(void *state, const char *dir, const char *name, int is_dir,
                             enum vigil__how how);
int vigil__scripted_gone(void *state, const char *dir, const char *name, enum vigil__how how);
int vigil__scripted_moved(void *state, const char *sdir, const char *sname, const char *tdir,
                          const char *tname, int is_dir);
int vigil__scripted_changed(void *state, const char *dir, const char *name, vigil_kind kind);
int vigil__scripted_dir_changed(void *state, const char *dir);
int vigil__scripted_self_gone(void *state, const char *dir);
int vigil__scripted_overflow(void *state);
/* How many directories it watches. */
size_t vigil__scripted_watching(void *state);

#endif /* VIGIL_BACKEND_SCRIPTED_H */
