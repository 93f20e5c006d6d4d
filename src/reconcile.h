/*
 * reconcile.c: list a directory and what lies below it, and make the tree
 * match the disk.
 */
#ifndef VIGIL_RECONCILE_H
#define VIGIL_RECONCILE_H

#include "vigil.h"
#include "tree.h"
#include <sys/stat.h>

/* How a reconcile pass reports what it finds. */
enum vigil__scan_mode {
  VIGIL__SCAN_SETUP,   /* vigil_add: build the tree, report only errors */
  VIGIL__SCAN_NEW,     /* a directory that just appeared: report its entries */
  VIGIL__SCAN_REPAIR,  /* after lost events: report every difference */
  VIGIL__SCAN_REFILTER /* a directory moved: apply the exclude patterns anew */
};

int vigil__reconcile(vigil_t *v, vigil__node *dir, enum vigil__scan_mode mode);
/*
 * Opens a directory node for listing (O_RDONLY, close-on-exec) relative to
 * its root's descriptor, following no symbolic link below the root, at any
 * depth. Returns the descriptor or -errno. Uses v->scratch.
 */
int vigil__open_dir(vigil_t *v, const vigil__node *dir);
/* Stats the directory that holds the absolute path abspath: 0 or -errno (-ENOENT for "/"). */
int vigil__stat_above(const char *abspath, struct stat *st);
/* Forgets a directory that was waiting to be listed again. */
void vigil__vanished_forget(vigil_t *v, vigil__node *dir);
/* Lists again the directories that vanished, under their current paths. */
int vigil__vanished_retry(vigil_t *v);

#endif /* VIGIL_RECONCILE_H */
