/*
 * One root watched with ReadDirectoryChangesW (RDCW), overlapped: the
 * Windows backend's reader, and its record decoder.
 *
 * A watch holds the root's directory handle (opened with backup
 * semantics, for overlapped I/O, sharing read, write and delete so that
 * no other program is ever kept from renaming or deleting anything), an
 * OVERLAPPED with a manual-reset event, and two buffers: one the kernel
 * fills while the other is decoded, so a read is issued again before the
 * last one's records are handed on.
 *
 * Stopping never depends on CancelIoEx. A pending read may only be
 * cancelled by the thread that issued it (CancelIo), or by any thread
 * where CancelIoEx exists, and the buffer and the OVERLAPPED are freed
 * only once the read has completed, since the kernel writes into them
 * until then. So a thread that stops reading parks the watch first
 * (vigil__rdcw_park: cancel its own read and wait for it), and the close
 * cancels what another thread issued only if CancelIoEx was found at run
 * time (GetProcAddress); without it, the close closes the handle, which
 * completes the read, and waits for that, bounded. A read that still has
 * not completed then keeps its memory for ever (leaked, never freed under
 * the kernel). vigil__rdcw_no_cancelioex lets tests take the path a
 * system without CancelIoEx takes, on every run.
 *
 * Lost records are never silent: a completion with ERROR_NOTIFY_ENUM_DIR
 * (the records did not fit the buffer) and a completion with success and
 * 0 bytes (what Windows itself may also say) both come back as overflow.
 *
 * Names are UTF-16 in the kernel and UTF-8 here, converted exactly: a
 * lone surrogate, which Windows allows in a name, becomes its 3-byte
 * (WTF-8) form and converts back to itself.
 */
#ifndef VIGIL_RDCW_H
#define VIGIL_RDCW_H

#include <stddef.h>
#include <stdint.h>

typedef struct vigil__rdcw vigil__rdcw;

/* What a record says; the values are RDCW's FILE_ACTION_*. */
enum vigil__rdcw_action {
  VIGIL__RDCW_ADDED = 1,
  VIGIL__RDCW_REMOVED = 2,
  VIGIL__RDCW_MODIFIED = 3,
  VIGIL__RDCW_RENAMED_OLD = 4,
  VIGIL__RDCW_RENAMED_NEW = 5
};

/*
 * One record: path is relative to the root, UTF-8, with '\' between its
 * components as the kernel gives it, and not NUL-terminated. It is valid
 * during the callback only. The callback returns 0 to go on, anything
 * else to stop the decoding there (the rest of the batch is dropped and
 * the read reports it as lost).
 */
typedef int (*vigil__rdcw_cb)(void *ctx, unsigned action, const char *path, size_t len);

/* What one read found. */
typedef struct {
  size_t records;   /* records handed to the callback */
  int overflow;     /* records were lost: repair the root */
  int gone;         /* the root cannot be watched any more (deleted, or its handle failed) */
  int more;         /* records of this batch are left for the next calls (max) */
  unsigned long os; /* gone: the system's error code (GetLastError) */
} vigil__rdcw_result;

/*
 * Decodes one completed buffer of bytes bytes (FILE_NOTIFY_INFORMATION
 * records) and calls cb for each. 0 bytes is the kernel's other word for
 * overflow: out->overflow is set. Returns 0, -EINVAL for a malformed
 * buffer (after the records before the fault), or -ENOMEM.
 */
int vigil__rdcw_decode(const void *buf, size_t bytes, vigil__rdcw_cb cb, void *ctx,
                       vigil__rdcw_result *out);

/*
 * UTF-16 (n units) to UTF-8, exactly (lone surrogates as WTF-8): writes
 * at most cap bytes into out and returns the length the whole needs, so
 * a return above cap means "again, with that much room".
 */
size_t vigil__utf16_to_utf8(const uint16_t *s, size_t n, char *out, size_t cap);
/*
 * UTF-8 (or WTF-8) to UTF-16, NUL-terminated, in a malloc'd buffer;
 * NULL with errno EILSEQ for bytes that are not UTF-8, ENOMEM.
 */
uint16_t *vigil__utf8_to_utf16(const char *s, size_t len, size_t *units);

/*
 * The absolute form of a UTF-8 path for CreateFileW, with the \\?\
 * prefix (\\?\UNC\ for a share) so that no length limit applies: a
 * malloc'd NUL-terminated UTF-16 string, or NULL with -errno in *err.
 */
uint16_t *vigil__win_long_path(const char *path, int *err);

/* A Windows error code (GetLastError) as -errno: the closest errno, or -EIO. */
int vigil__win_errno(unsigned long code);

/*
 * Opens a watch on the directory path (UTF-8) and issues its first read;
 * buffer_size bytes per buffer (0: 64 KiB, the most a network share
 * accepts). recursive: the whole subtree (bWatchSubtree). event: a
 * manual-reset event the caller owns and may share between watches, set
 * by every completion; NULL: the watch makes its own. Returns 0 or
 * -errno: -ENOENT, -EACCES, -ENOTDIR (the path is a file), -ENOSYS (the
 * file system does not support RDCW: poll it instead), -ENOMEM.
 */
int vigil__rdcw_open(vigil__rdcw **out, const char *path, size_t buffer_size, int recursive,
                     void *event);
/*
 * Whether the pending read has completed and waits to be taken, or a
 * batch is still being read in parts. Every
 * read issued resets the event, so the owner of an event shared between
 * watches sets it again when, after its reads, one of them is done.
 */
int vigil__rdcw_done(const vigil__rdcw *w);

/*
 * The event that is signalled when the pending read has completed (the
 * OVERLAPPED's): wait on it with others. It stays signalled until
 * vigil__rdcw_read takes the completion and issues the next read.
 */
void *vigil__rdcw_event(const vigil__rdcw *w);

/*
 * Takes a completed read, if there is one, without blocking: issues the
 * next read, then hands the records to cb, at most max of them (0: all);
 * the rest of the batch comes with the next calls, before any later
 * completion is taken (vigil__rdcw_done stays true meanwhile), so that
 * one call never runs long. A parked watch is issued again here, by the
 * calling thread. Returns 0 (with *out filled: 0 records when nothing had
 * completed) or -errno when the next read cannot be issued for a reason
 * other than the root being gone.
 */
int vigil__rdcw_read(vigil__rdcw *w, vigil__rdcw_cb cb, void *ctx, size_t max,
                     vigil__rdcw_result *out);

/*
 * Cancels the pending read, if the calling thread issued it, and waits
 * for it to complete; what had already completed stays to be read. A
 * thread that stops reading calls it for every watch it read, so that a
 * later close from another thread has nothing to cancel. Returns whether
 * the watch now has no read pending.
 */
int vigil__rdcw_park(vigil__rdcw *w);

/*
 * Stops and frees the watch, from any thread; never frees memory the
 * kernel may still write (see the top of this file). When called from
 * inside the callback of a read of this watch, it takes effect when that
 * read returns.
 */
void vigil__rdcw_close(vigil__rdcw *w);

/*
 * Tests only: on (1), behave as if the system had no CancelIoEx; returns
 * the previous setting. Whether the system has it at all is
 * vigil__rdcw_have_cancelioex().
 */
int vigil__rdcw_no_cancelioex(int on);
int vigil__rdcw_have_cancelioex(void);

/*
 * Tests only: from now on, every ReadDirectoryChangesW issued with a
 * buffer of more than above bytes fails with the Windows error err, as
 * on a file system that refuses it (a network share or a redirector
 * without change notification, or SMB with a buffer over 64 KiB); err 0
 * ends it. Returns the previous err. Wine refuses nothing of this.
 */
unsigned long vigil__rdcw_refuse(unsigned long err, size_t above);

/*
 * Tests only: how the last close of a read issued by another thread
 * ended: 0 nothing was pending, 1 cancelled by its own thread or by
 * CancelIoEx, 2 completed by closing the handle, 3 never completed
 * (memory kept).
 */
int vigil__rdcw_last_close(void);

#endif /* VIGIL_RDCW_H */
