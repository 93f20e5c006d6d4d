#include "vigil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {
    [VIGIL_CREATED] = "created",   [VIGIL_REMOVED] = "removed",
    [VIGIL_MODIFIED] = "modified", [VIGIL_ATTRIB] = "attrib",
    [VIGIL_MOVED] = "moved",       [VIGIL_CLOSED] = "closed",
    [VIGIL_OVERFLOW] = "overflow", [VIGIL_ERROR] = "error",
    [VIGIL_OPENED] = "opened",     [VIGIL_CLOSED_NOWRITE] = "closed_nowrite"};

const char *vigil_kind_name(vigil_kind kind) {
  if (kind < VIGIL_CREATED || kind > VIGIL_KIND_MAX)
    return NULL;
  return kind_names[kind];
}

vigil_kind vigil_kind_parse(const char *name) {
  if (!name)
    return 0;
  for (int k = VIGIL_CREATED; k <= VIGIL_KIND_MAX; k++)
    if (strcmp(kind_names[k], name) == 0)
      return (vigil_kind)k;
  return 0;
}

/* A number from a /proc/sys file, or -1. */
static long sysctl_value(const char *file) {
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char buf[32];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char *end;
  long val = strtol(buf, &end, 10);
  return end == buf ? -1 : val;
}

/*
 * Which limit bit. fs.inotify.max_user_* is the initial user namespace's
 * limit; inside a user namespace (a rootless container, say) that
 * namespace's own user.max_inotify_* counts too, and raising the first
 * does not help when the second is lower. In the initial namespace the
 * two are one value, and the first is named.
 */
static int namespace_limit_lower(const char *user, const char *fs) {
  int saved = errno;
  long u = sysctl_value(user), f = sysctl_value(fs);
  errno = saved;
  return u >= 0 && f >= 0 && u < f;
}

const char *vigil_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
  case VIGIL_EWATCHLIMIT:
    if (namespace_limit_lower("/proc/sys/user/max_inotify_watches",
                              "/proc/sys/fs/inotify/max_user_watches"))
      return "inotify watch limit reached: raise user.max_inotify_watches (this user "
             "namespace's limit)";
    return "inotify watch limit reached: raise fs.inotify.max_user_watches";
  case VIGIL_EINSTLIMIT:
    if (namespace_limit_lower("/proc/sys/user/max_inotify_instances",
                              "/proc/sys/fs/inotify/max_user_instances"))
      return "inotify instance limit reached: raise user.max_inotify_instances (this user "
             "namespace's limit)";
    return "inotify instance limit reached: raise fs.inotify.max_user_instances";
  case VIGIL_EFORKED:
    return "instance used after fork(): it belongs to the parent process; open a new one";
  case VIGIL_EBUSY:
    return "instance is started: call vigil_stop first";
  case VIGIL_EPATTERN:
    return "malformed exclude pattern";
  case VIGIL_ENOTROOT:
    return "not a watched root";
  case VIGIL_EEXIST:
    return "already watched as a root";
  case VIGIL_EOPTIONS:
    return "vigil_options has a size this library does not know, or sets options it lacks: "
           "set it up with vigil_options_init, and build with the vigil.h of this library";
  case VIGIL_ENOBACKEND:
    return "no backend of that name is built in (vigil_backend_name lists those that are)";
  case VIGIL_ENOPROC:
    return "/proc is not mounted: vigil places its watches through /proc/self/fd";
  case VIGIL_EOVERLAP:
    return "the path holds, or is inside, a root that another backend watches: watch both with "
           "the same backend";
  case VIGIL_EROOTMOVED:
    return "the root's path no longer leads to it: a directory above the root was renamed; "
           "watch a path whose parents stay put, or add the root again";
  }
  if (err < 0 && err > -4096) {
    /* The common causes get texts that say what to do; the rest come from
       strerrordesc_np, which, unlike strerror, is thread-safe. */
    switch (-err) {
    case ENOENT:
      return "No such file or directory";
    case EACCES:
      return "Permission denied";
    case ENOTDIR:
      return "Not a directory";
    case ENAMETOOLONG:
      return "File name too long";
    case ENOMEM:
      return "Out of memory";
    case ELOOP:
      return "Too many levels of symbolic links";
    case EMFILE:
      return "Too many open files: raise the open-file limit (ulimit -n)";
    case ENFILE:
      return "Too many open files in the system: raise fs.file-max";
    case ENOSPC:
      return "No space left on device";
    case EINVAL:
      return "Invalid argument";
    case EIO:
      return "Input/output error";
    case EINTR:
      return "Interrupted system call";
    case EPERM:
      return "Operation not permitted";
    case ENODEV:
      return "No such device";
    default: {
#ifdef __GLIBC__
      const char *d = strerrordesc_np(-err);
      return d ? d : "unknown system error";
#else
      /* The others' strerror returns a text that is never changed. */
      return strerror(-err);
#endif
    }
    }
  }
  return "unknown error";
}
