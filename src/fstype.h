/*
 * fstype.c: which file systems the kernel cannot see change, and the
 * backend the "auto" choice gives a root or a mount point below one.
 */
#ifndef VIGIL_FSTYPE_H
#define VIGIL_FSTYPE_H

#include "vigil.h"
#include "backend/backend.h"
#include "tree.h"

/*
 * Whether the file system of the open descriptor fd can change without
 * this machine's kernel knowing: 1 for network and FUSE file systems,
 * whose other side (a server, a FUSE daemon) changes files no watch
 * hears of; 0 for local ones and any it does not know; -errno if it
 * cannot be asked. *name, if given, is set to a static name of the type.
 */
int vigil__fs_remote(int fd, const char **name);
/* The same for the file system of the directory at path. */
int vigil__fs_remote_path(const char *path, const char **name);

/*
 * The backend "auto" gives a directory on such a file system (remote
 * non-zero), or on a local one: polling for the first, the preferred
 * backend for the second.
 */
const vigil__backend *vigil__fs_backend(int remote);

/*
 * For a directory about to be watched, d (open as fd): if it is a mount
 * point below a root whose backend "auto" chooses, the index of the
 * source that can see its file system; -1 to keep its parent's.
 */
int vigil__fs_mount_source(vigil_t *v, const vigil__node *d, int fd);

#endif /* VIGIL_FSTYPE_H */
