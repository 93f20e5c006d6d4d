/*
 * Drop: an entry leaves the tree.
 *
 * Whatever takes an entry away (a deletion, a move out of the tree, a
 * listing that no longer finds it, a root that ends) drops it here, with
 * everything below it: children first, each reported removed when asked,
 * with its watch, its ignore file and any wait for it forgotten. Roots
 * that overlap are kept whole: an inner root that the dropped directory
 * covered is reported anew or ends with it.
 */
#include "instance.h"
#include "apply.h"
#include "drop.h"
#include "emit.h"
#include "file_root.h"
#include "ignore.h"
#include "reconcile.h"

/*
 * n, a directory below its root's top, is about to leave the tree, and it
 * may be the top (or a file root's directory) of inner roots, whose
 * entries it covered. An inner root whose path no longer leads to its
 * directory (deleted, or moved with n) ends now, silently, since n's root
 * reports what went. One still in place goes on; if n's removal is
 * reported, its entries are reported again as created once n is gone
 * (announce_roots), so that the stream still replays. Returns whether
 * any root was marked for that.
 */
static int inner_roots_uncovered(vigil_t *v, const vigil__node *n) {
  int announce = 0;
  for (;;) {
    vigil__root *inner = NULL;
    const vigil__source *src = vigil__src_of(v, n);
    for (vigil__node *k = src->be->sharing(src->state, n, NULL); k;
         k = src->be->sharing(src->state, n, k)) {
      vigil__root *r = vigil__node_dir(k)->root;
      if (k != n && !vigil__node_parent(k) && r && !r->dead && !r->announce) {
        inner = r;
        break;
      }
    }
    if (!inner)
      return announce;
    if (!vigil__root_intact(inner)) {
      vigil__root_gone(v, inner);
      continue;
    }
    inner->announce = 1; /* also marks it seen, for this loop */
    announce = 1;
  }
}

/* Reports anew the entries of the roots that inner_roots_uncovered marked. */
static void announce_roots(vigil_t *v, int emit) {
  for (vigil__root *r = v->roots; r; r = r->next) {
    if (!r->announce)
      continue;
    r->announce = 0;
    if (!emit || r->dead)
      continue;
    if (!r->is_file)
      vigil__emit_created_tree(v, r->top, VIGIL_SYNTHETIC);
    else if (vigil__node_first(r->top))
      vigil__emit_created_tree(v, vigil__node_first(r->top), VIGIL_SYNTHETIC);
  }
}

void vigil__drop(vigil_t *v, vigil__node *n, int emit) {
  /* Decided while n is watched: a top's own watch tells whether another root holds it. */
  int report = emit && (v->events & (1u << VIGIL_REMOVED)) && !vigil__covered(v, n);
  int uncovered = vigil__node_dir(n) && vigil__node_parent(n) && vigil__watched(n) &&
                  inner_roots_uncovered(v, n);
  if (vigil__node_dir(n)) {
    while (vigil__node_first(n))
      vigil__drop(v, vigil__node_first(n), emit);
    vigil__unwatch(v, n);
  }
  if (n->flags & VIGIL__N_PARTIAL)
    vigil__vanished_forget(v, n);
  /* Finding the root walks up the tree: not for every directory when no root has ignore files. */
  if (v->ignore_files && vigil__node_dir(n)) {
    vigil__root *r = vigil__node_root(n);
    if (r && r->nignores)
      vigil__ignore_forget(r, n);
  }
  if (report)
    vigil__emit_node(v, VIGIL_REMOVED, 0, n, 0);
  vigil__tree_unlink(&v->tree, n);
  vigil__node_free(&v->tree, n);
  if (uncovered)
    announce_roots(v, emit);
}

/*
 * A root that is gone from disk: everything in it is reported removed,
 * the root last, and the caller hears no more of it.
 */
void vigil__root_gone(vigil_t *v, vigil__root *r) {
  if (r->dead)
    return;
  r->dead = 1;
  v->roots_gone++;
  /* A file still waited for is still in the tree: it is reported removed below. */
  vigil__file_forget(v, r);
  vigil__node *top = r->top;
  if (r->is_file) {
    /* The holder is the parent directory, which the caller never asked about. */
    while (vigil__node_first(top))
      vigil__drop(v, vigil__node_first(top), 1);
    vigil__drop(v, top, 0);
  } else {
    vigil__drop(v, top, 1);
  }
  r->top = NULL;
}
