/*
 * Emit: the one way into the event queue.
 *
 * Every event goes through here, for a node (whose path is built from the
 * tree) or for a path. An event whose kind is not in the instance's mask
 * costs nothing, and an entry that an outer root also holds is reported
 * by that root alone (vigil__covered). Out of memory, the event cannot be
 * queued; a repair is asked for instead, so nothing is lost silently.
 */
#include "instance.h"
#include "admit.h"
#include "apply.h"
#include "emit.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/*
 * Out of memory while queuing: the tree has changed but the event is gone.
 * Rather than lose it silently, ask for a repair, which reports an
 * overflow and rescans once memory allows.
 */
static int event_lost(vigil_t *v, size_t mark) {
  vigil__queue_abort(&v->queue, mark);
  v->need_repair = 1;
  return -ENOMEM;
}

int vigil__emit_path(vigil_t *v, vigil_kind kind, unsigned flags, const char *path, int error) {
  if (!(v->events & (1u << kind)))
    return 0;
  vigil__queue *q = &v->queue;
  size_t mark = vigil__queue_mark(q);
  size_t off = SIZE_MAX;
  if (path) {
    size_t n = strlen(path) + 1;
    if (vigil__buf_grow(&q->str, &q->scap, q->len + n) < 0)
      goto lost;
    memcpy(q->str + q->len, path, n);
    off = q->len;
    q->len += n;
  }
  if (vigil__queue_commit(q, kind, flags, error, off, SIZE_MAX) < 0)
    goto lost;
  return 0;
lost:
  return event_lost(v, mark);
}

static unsigned node_flags(const vigil__node *n) {
  return n->type == VIGIL__T_DIR ? VIGIL_ISDIR : 0;
}

/*
 * Roots may overlap: "d" and "d/sub", or a file of d given as a root too.
 * Then each entry is reported once, by the outer root: a root whose top
 * (or, for a file root, whose file) another root holds reports nothing
 * while that root holds it. It keeps its tree all the same, so that it
 * goes on fully when the outer root is removed, and what it would report
 * is what the outer root reports, with the outer root's exclusions.
 * Whether the outer root holds the top is told by the watch the two share
 * (nodes sharing a watch are the same directory), not by the outer root's
 * tree, so the answer does not depend on which root a kernel record is
 * applied to first.
 */
int vigil__covered(vigil_t *v, const vigil__node *n) {
  const vigil__node *top = n;
  while (vigil__node_parent(top))
    top = vigil__node_parent(top);
  if (!vigil__watched(top))
    return 0;
  const vigil__source *src = vigil__src_of(v, top);
  const vigil__node *first = src->be->sharing(src->state, top, NULL);
  if (!first || (first == top && !src->be->sharing(src->state, top, top)))
    return 0;
  const vigil__root *r = vigil__node_dir(top)->root;
  for (const vigil__node *m = first; m; m = src->be->sharing(src->state, top, m)) {
    const vigil__root *s = vigil__node_root(m);
    if (m == top || s->dead || s->is_file)
      continue;
    /* A directory root holds another's top as a directory below its own. */
    if (!r->is_file && vigil__node_parent(m))
      return 1;
    /*
     * It holds a file root's file if it holds its directory (its own top
     * included) and admits the name; with exclusions, what it admits is
     * what its tree holds.
     */
    if (r->is_file &&
        (!vigil__root_filtered(s) || vigil__tree_find(&v->tree, m, r->base, strlen(r->base))))
      return 1;
  }
  return 0;
}

int vigil__emit_node(vigil_t *v, vigil_kind kind, unsigned flags, const vigil__node *n, int error) {
  if (!(v->events & (1u << kind)))
    return 0;
  vigil__queue *q = &v->queue;
  size_t mark = vigil__queue_mark(q);
  if (vigil__node_path(n, &q->str, &q->len, &q->scap) < 0)
    goto lost;
  q->len++; /* keep the terminating NUL that vigil__node_path wrote */
  if (vigil__queue_commit(q, kind, flags | node_flags(n) | v->emit_flags, error, mark, SIZE_MAX) <
      0)
    goto lost;
  return 0;
lost:
  return event_lost(v, mark);
}

int vigil__emit(vigil_t *v, vigil_kind kind, unsigned flags, const vigil__node *n, int error) {
  if (!(v->events & (1u << kind)) || vigil__covered(v, n))
    return 0;
  return vigil__emit_node(v, kind, flags, n, error);
}

/* Reports n and everything below it removed, children first; the tree is left as it is. */
void vigil__emit_removed_tree(vigil_t *v, const vigil__node *n, unsigned flags) {
  if (vigil__node_dir(n))
    for (const vigil__node *k = vigil__node_first(n); k; k = vigil__node_next(k))
      vigil__emit_removed_tree(v, k, 0);
  vigil__emit(v, VIGIL_REMOVED, flags, n, 0);
}

/* Reports n and everything below it created, parents first, as a listing would. */
void vigil__emit_created_tree(vigil_t *v, const vigil__node *n, unsigned flags) {
  vigil__emit(v, VIGIL_CREATED, flags, n, 0);
  if (vigil__node_dir(n))
    for (const vigil__node *k = vigil__node_first(n); k; k = vigil__node_next(k))
      vigil__emit_created_tree(v, k, VIGIL_SYNTHETIC);
}

int vigil__moved_asked(const vigil_t *v) {
  return (v->events & (1u << VIGIL_MOVED)) != 0;
}

static int paths_asked(const vigil_t *v) {
  return (v->events & ((1u << VIGIL_CREATED) | (1u << VIGIL_REMOVED))) != 0;
}

/*
 * Moves n to tdir/tname and reports it. When the mask leaves out moved,
 * the move is reported as what it does to paths, so that replay of the
 * kinds delivered still holds: removed for the old path and everything
 * below it, then created for the new ones.
 */
int vigil__emit_move(vigil_t *v, vigil__node *n, vigil__node *tdir, const char *tname,
                     size_t tlen) {
  vigil__queue *q = &v->queue;
  if (vigil__covered(v, n))
    return vigil__tree_move(&v->tree, n, tdir, tname, tlen);
  if (!vigil__moved_asked(v)) {
    if (!paths_asked(v))
      return vigil__tree_move(&v->tree, n, tdir, tname, tlen);
    vigil__emit_removed_tree(v, n, VIGIL_BY_MOVE);
    int rc = vigil__tree_move(&v->tree, n, tdir, tname, tlen);
    if (rc < 0) {
      /* The removal is out; only a rescan can tell the reader the rest. */
      v->need_repair = 1;
      return rc;
    }
    vigil__emit_created_tree(v, n, VIGIL_BY_MOVE);
    return 0;
  }
  size_t mark = vigil__queue_mark(q);
  int rc = vigil__node_path(n, &q->str, &q->len, &q->scap);
  if (rc == 0) {
    q->len++;
    rc = vigil__tree_move(&v->tree, n, tdir, tname, tlen);
  }
  size_t to = q->len;
  if (rc == 0)
    rc = vigil__node_path(n, &q->str, &q->len, &q->scap);
  if (rc == 0) {
    q->len++;
    rc = vigil__queue_commit(q, VIGIL_MOVED, node_flags(n) | v->emit_flags, 0, to, mark);
  }
  if (rc < 0)
    event_lost(v, mark);
  return rc;
}
