/*
 * File systems the kernel cannot see change, and what "auto" makes of
 * them.
 *
 * inotify (and every kernel interface like it) reports what is done
 * through this machine's kernel. On a network file system another machine
 * changes files; on a FUSE file system the daemon answers from wherever
 * it likes (sshfs from a server, bindfs from a directory whose changes
 * reach no watch on the mount). No record comes for those, so such a
 * file system is polled: listed again and compared. statfs tells the
 * type by its magic number, which is cheap and needs no mount table; the
 * types below are those whose contents are known to change elsewhere.
 * Anything else counts as local, which is what the kernel interfaces
 * were made for.
 */
#include "fstype.h"
#include "instance.h"
#include "mounts.h"

#include <errno.h>
#include <stdint.h>

#ifdef __linux__
#include <sys/vfs.h>

static const struct {
  uint32_t magic;
  const char *name;
} remote_types[] = {
    {0x6969, "nfs"},        {0x517B, "smb"},          {0xFF534D42, "cifs"},   {0xFE534D42, "smb2"},
    {0x65735546, "fuse"}, /* every FUSE file system, fuseblk and virtiofs too */
    {0x01021997, "9p"},   /* WSL 2's drives, QEMU's shares */
    {0x6B414653, "afs"},    {0x5346414F, "openafs"},  {0x00C36400, "ceph"},   {0x73757245, "coda"},
    {0x564C, "ncp"},        {0x0BD00BD0, "lustre"},   {0x47504653, "gpfs"},   {0x7461636F, "ocfs2"},
    {0x01161970, "gfs2"},   {0x20030528, "orangefs"}, {0x786F4256, "vboxsf"}, /* VirtualBox's shared
                                                                                 folders */
    {0x7C7C6673, "prl_fs"}, /* Parallels' shared folders */
};

static int remote_type(const struct statfs *sf, const char **name) {
  uint32_t magic = (uint32_t)sf->f_type;
  for (size_t i = 0; i < sizeof remote_types / sizeof remote_types[0]; i++)
    if (remote_types[i].magic == magic) {
      if (name)
        *name = remote_types[i].name;
      return 1;
    }
  if (name)
    *name = "local";
  return 0;
}

int vigil__fs_remote(int fd, const char **name) {
  struct statfs sf;
  if (VIGIL__SYS(fstatfs(fd, &sf)) < 0)
    return -errno;
  return remote_type(&sf, name);
}

int vigil__fs_remote_path(const char *path, const char **name) {
  struct statfs sf;
  if (VIGIL__SYS(statfs(path, &sf)) < 0)
    return -errno;
  return remote_type(&sf, name);
}
#else
/* Elsewhere there is one backend for every file system: nothing to tell apart. */
int vigil__fs_remote(int fd, const char **name) {
  (void)fd;
  if (name)
    *name = "local";
  return 0;
}

int vigil__fs_remote_path(const char *path, const char **name) {
  return vigil__fs_remote(path ? 0 : -1, name);
}
#endif

/*
 * On Windows no file system is told apart by its type (a share's changes
 * reach ReadDirectoryChangesW through the server), but polling is still
 * what "auto" falls back to for a root whose file system refuses
 * ReadDirectoryChangesW (vigil.c, add_root).
 */
const vigil__backend *vigil__fs_backend(int remote) {
  return remote ? &vigil__backend_poll : vigil__backend_find(NULL);
}

int vigil__fs_mount_source(vigil_t *v, const vigil__node *d, int fd) {
  /* The cheap test first: almost every directory has no mount point's name. */
  if (!vigil__mounts_maybe_point(v, d))
    return -1;
  const vigil__root *r = vigil__node_root(d);
  if (!r || !r->auto_backend || !vigil__mounts_is_point(v, r, d))
    return -1;
  int remote = vigil__fs_remote(fd, NULL);
  unsigned i;
  /* Without the backend it needs (an inotify limit), it keeps its parent's. */
  if (remote < 0 || vigil__source_get(v, vigil__fs_backend(remote), &i) < 0)
    return -1;
  return (int)i;
}
