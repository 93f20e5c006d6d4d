/*
 * What the Windows backend makes of ReadDirectoryChangesW's records: the
 * observations of backend.h, on one root's tree. It knows no Windows
 * call (the reader, rdcw.c, does), so that the same code is tested with
 * the core on every system: the unit test test_rdcw_obs feeds it the
 * record sequences wine produces, over real directories.
 *
 * A record names an entry by its path relative to the root, with '\'
 * between the names, and says one of added, removed, modified, or one
 * end of a rename. The translator finds the entry's directory in the tree
 * (a record under a directory the tree does not hold, such as an
 * excluded one, is dropped: that is how exclusions apply to a watch of
 * the whole subtree), and:
 *   - added: the entry appeared. RDCW does not say whether it is a
 *     directory, so the translator asks (kind_of, a stat of the path
 *     now); an entry already gone again is skipped, and its removal,
 *     which follows, changes nothing. The core lists a new directory
 *     after placing its watch, so a directory created and filled at once
 *     gets its entries;
 *   - removed: the entry went; the core removes a directory's children
 *     first. Windows reports a tree moved out of the root as removed,
 *     and a tree moved in as added (then listed: created for all);
 *   - modified: a file's content or metadata changed. A directory's
 *     modified (its times change with every entry made in it) is left
 *     out, as on Linux;
 *   - renamed: the old name is held until the new one, which Windows and
 *     wine put right after it in the same batch: one vigil__obs_moved,
 *     so a directory moved within the root is one moved event. An old
 *     name still held when the batch ends was moved out of the root; a
 *     new name with no old one was moved in.
 */
#ifndef VIGIL_RDCW_OBS_H
#define VIGIL_RDCW_OBS_H

#include "backend/backend.h"

#include <stddef.h>

/*
 * The type of the entry at path (relative to the root, '\' between the
 * names) now: 1 a directory, 0 anything else, or -errno (-ENOENT: gone).
 */
typedef int (*vigil__rdcw_kind_fn)(void *ctx, const char *path, size_t len);

typedef struct {
  vigil__node *top; /* the root's top directory */
  vigil__rdcw_kind_fn kind_of;
  void *kind_ctx;
  char *held; /* the old name of a rename, until its new name comes */
  size_t held_len, held_cap;
  unsigned holding : 1;
} vigil__rdcw_obs;

/*
 * One record (action: enum vigil__rdcw_action). Returns 0 or -ENOMEM
 * (then the record is lost, and the caller reports it as lost).
 */
int vigil__rdcw_obs_record(vigil__rdcw_obs *o, vigil_t *v, unsigned action, const char *path,
                           size_t len);
/* The end of a batch: an old name still held was moved out of the root. */
void vigil__rdcw_obs_end(vigil__rdcw_obs *o, vigil_t *v);
/*
 * What a read said besides its records (a vigil__rdcw_result's flags):
 * overflow, lost records (the reader's ERROR_NOTIFY_ENUM_DIR or 0 bytes,
 * or a record the translator could not keep) are reported and repaired;
 * gone, the root's watch has ended, which ends the root when its
 * directory is gone.
 */
void vigil__rdcw_obs_result(vigil__rdcw_obs *o, vigil_t *v, int overflow, int gone);
/* Frees what it holds. */
void vigil__rdcw_obs_free(vigil__rdcw_obs *o);

#endif /* VIGIL_RDCW_OBS_H */
