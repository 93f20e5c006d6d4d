/*
 * Admit: is an entry of a directory part of the tree?
 *
 * A listing (reconcile.c) and every observation of a new name (apply.c)
 * ask here before an entry gets a node: "." and ".." never do, a file
 * root admits only its file, and the root's patterns judge the rest, in
 * three tiers, as git ranks its sources: the exclude patterns (git's
 * command line), the ignore files of the directory and of those above
 * it, deepest first (the .gitignore files), and the base patterns
 * (.git/info/exclude and the global excludes file). The first tier with
 * a matching pattern decides. An excluded directory never gets a node or
 * a watch, so nothing below it can be brought back, whichever tier
 * excluded it.
 */
#include "instance.h"
#include "admit.h"
#include "fault.h"
#include "ignore.h"

#include <string.h>

int vigil__root_filtered(const vigil__root *r) {
  return r->filter || r->nignores || r->base_filter;
}

int vigil__should_descend(const vigil__node *dir) {
  const vigil__root *r = vigil__node_root(dir);
  return !r->is_file && !r->norecurse;
}

/*
 * The ignore files that judge dir's entries: those of dir and of each
 * directory above it, deepest first, each with the offset in v->rel at
 * which the path relative to that directory starts.
 */
static void ignore_chain(vigil_t *v, const vigil__node *dir, vigil__admission *a) {
  size_t end = a->prefix; /* relative paths of dir's children start here */
  for (const vigil__node *d = dir; d; d = vigil__node_parent(d)) {
    const vigil__filter *f = vigil__ignore_find(a->root, d);
    if (f) {
      if (a->nchain == v->chain_cap) {
        size_t ncap = v->chain_cap ? v->chain_cap * 2 : 8;
        struct vigil__ignore_use *n = vigil__realloc(v->chain, ncap * sizeof *n);
        if (!n)
          return; /* out of memory: the shallower files are not consulted */
        v->chain = n;
        v->chain_cap = ncap;
      }
      v->chain[a->nchain].filter = f;
      v->chain[a->nchain].off = end;
      a->nchain++;
    }
    /* The parent's children start where d's name does. */
    end = end > (size_t)d->namelen + 1 ? end - d->namelen - 1 : 0;
  }
}

void vigil__admit_begin(vigil_t *v, const vigil__node *dir, vigil__admission *a) {
  a->root = vigil__node_root(dir);
  a->nchain = 0;
  a->filtered = !a->root->is_file && vigil__root_filtered(a->root);
  if (!a->filtered)
    return;
  /* Not v->scratch: a scan holds the directory's own path there. */
  v->rel_len = 0;
  if (vigil__node_relpath(dir, &v->rel, &v->rel_len, &v->rel_cap) < 0 ||
      vigil__buf_grow(&v->rel, &v->rel_cap, v->rel_len + 2) < 0) {
    a->filtered = 0; /* out of memory: admit rather than lose entries */
    return;
  }
  if (v->rel_len)
    v->rel[v->rel_len++] = '/';
  a->prefix = v->rel_len;
  if (a->root->nignores)
    ignore_chain(v, dir, a);
}

int vigil__admit_entry(vigil_t *v, const vigil__admission *a, const char *name, size_t len,
                       int is_dir) {
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return 0;
  const vigil__root *r = a->root;
  if (r->is_file)
    return len == strlen(r->base) && memcmp(r->base, name, len) == 0;
  if (!a->filtered)
    return 1;
  if (vigil__buf_grow(&v->rel, &v->rel_cap, a->prefix + len + 1) < 0)
    return 1;
  memcpy(v->rel + a->prefix, name, len);
  v->rel_len = a->prefix + len;
  v->rel[v->rel_len] = '\0';
  /*
   * The caller's own patterns have the last word, as git's command line
   * does over .gitignore files; then the deepest ignore file with a
   * pattern that matches decides, as in git; then the base patterns, as
   * git's info/exclude and global file come after every .gitignore.
   */
  int m = vigil__filter_match(r->filter, v->rel, v->rel_len, is_dir);
  for (size_t i = 0; m < 0 && i < a->nchain; i++) {
    size_t off = v->chain[i].off;
    m = vigil__filter_match(v->chain[i].filter, v->rel + off, v->rel_len - off, is_dir);
  }
  if (m < 0)
    m = vigil__filter_match(r->base_filter, v->rel, v->rel_len, is_dir);
  return m != 1;
}

int vigil__admit(vigil_t *v, const vigil__node *dir, const char *name, size_t len, int is_dir) {
  vigil__admission a;
  vigil__admit_begin(v, dir, &a);
  return vigil__admit_entry(v, &a, name, len, is_dir);
}
