/*
 * File roots: a root that is a single file, watched through its
 * directory and filtered to its name (admit.c).
 *
 * A file root follows its name, not its inode, for as long as its
 * directory exists. Editors save in ways that take the name away for a
 * moment: vim and emacs rename the file to a backup and write a new one,
 * JetBrains renames the file away and a temporary file onto the name, git
 * checkout, install and cp --remove-destination delete it and create it
 * again. So when the file goes away its node stays in the tree, and the
 * root waits VIGIL__FILE_WAIT_MS for a file to come back under the name.
 * If one does, the save is one `modified`: the path existed before and
 * exists after, so replay is unchanged, and a reader sees one change per
 * save whatever the editor does. If none does, the file is reported
 * `removed`, and one that comes later is `created`. The root itself ends
 * only with its directory.
 */
#include "instance.h"
#include "drop.h"
#include "emit.h"
#include "file_root.h"

#include <stdint.h>

void vigil__file_gone(vigil_t *v, vigil__root *r, enum vigil__how how) {
  /* Waits end in the order they began, so removals are reported in that order. */
  vigil__file_forget(v, r);
  r->file_due = vigil__now_ms() + VIGIL__FILE_WAIT_MS;
  r->file_by_move = how == VIGIL__BY_MOVE;
  r->file_next = NULL;
  if (v->files_waiting_last)
    v->files_waiting_last->file_next = r;
  else
    v->files_waiting = r;
  v->files_waiting_last = r;
}

void vigil__file_forget(vigil_t *v, vigil__root *r) {
  if (!r->file_due)
    return;
  r->file_due = 0;
  vigil__root *prev = NULL, **pp = &v->files_waiting;
  while (*pp != r) {
    prev = *pp;
    pp = &(*pp)->file_next;
  }
  *pp = r->file_next;
  if (v->files_waiting_last == r)
    v->files_waiting_last = prev;
  r->file_next = NULL;
}

/* No file came back in time: it is removed, and the root goes on. */
static void file_removed(vigil_t *v, vigil__root *r) {
  unsigned flags = r->file_by_move ? VIGIL_BY_MOVE : 0;
  vigil__file_forget(v, r);
  vigil__node *n = r->top ? vigil__node_first(r->top) : NULL;
  if (!n)
    return;
  vigil__emit(v, VIGIL_REMOVED, flags, n, 0);
  vigil__drop(v, n, 0);
}

void vigil__files_settle(vigil_t *v, int64_t until, int *wait_ms) {
  while (v->files_waiting && v->files_waiting->file_due <= until)
    file_removed(v, v->files_waiting);
  if (!v->files_waiting || !wait_ms)
    return;
  int64_t now = vigil__now_ms(), due = v->files_waiting->file_due;
  int left = due > now ? (int)(due - now) : 0;
  if (*wait_ms < 0 || left < *wait_ms)
    *wait_ms = left;
}

/*
 * A name appeared where a file root holds its file: an editor's save.
 * Returns 1 if the caller must still create the entry.
 */
int vigil__file_back(vigil_t *v, vigil__root *r, vigil__node *old, int is_dir,
                     enum vigil__how how) {
  if (!r->file_due) {
    /* A create for the file we hold: the listing of vigil_add saw it first. */
    if (how == VIGIL__BY_CREATE)
      return 0;
    /* A rename onto it, the other way editors save. */
    old->ino = 0;
    vigil__emit(v, VIGIL_MODIFIED, 0, old, 0);
    return 0;
  }
  if ((old->type == VIGIL__T_DIR) == (is_dir != 0)) {
    vigil__file_forget(v, r);
    old->ino = 0;
    vigil__emit(v, VIGIL_MODIFIED, 0, old, 0);
    return 0;
  }
  /* A directory where the file was, or the other way round: not a save. */
  file_removed(v, r);
  return 1;
}
