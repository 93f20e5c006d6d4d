/*
 * Output writers of `vigil watch`.
 *
 * Each writer formats one event and appends it to a growable byte buffer;
 * the caller write()s the buffer when it likes, so that many events can go
 * out in one system call. The library itself never formats anything, which
 * is why this lives in the command-line tool.
 *
 * Every writer appends either one whole record or nothing: when it fails,
 * the buffer is left exactly as it was.
 */
#ifndef VIGIL_CLI_OUTPUT_H
#define VIGIL_CLI_OUTPUT_H

#include <stddef.h>
#include <time.h>

#include "vigil.h"

/*
 * A growable byte buffer. A zeroed struct is a valid empty buffer. The bytes
 * are not NUL-terminated, and they may contain NUL bytes (see out_format).
 */
typedef struct {
  char *data;
  size_t len, cap;
} vg_buf;

/* Makes room for at least extra more bytes. Returns 0 or -ENOMEM. */
int vg_buf_reserve(vg_buf *b, size_t extra);

/* Appends n bytes from s. Returns 0 or -ENOMEM. */
int vg_buf_append(vg_buf *b, const char *s, size_t n);

/* Frees the bytes and leaves b as an empty buffer that can be used again. */
void vg_buf_free(vg_buf *b);

/*
 * Appends one newline-terminated line for a human to read:
 *
 *   created  ./a/b.txt
 *   created  ./a/dir/
 *   moved    ./old -> ./new
 *   overflow (events were lost; rescanning)
 *   error    ./a/secret: Permission denied
 *
 * The kind is padded to 9 columns and, when color is not 0, wrapped in ANSI
 * colours. Directories get a trailing slash. Control characters (bytes
 * below 0x20 and 0x7f), C1 control characters (U+0080 to U+009F) and bytes
 * that are not valid UTF-8 are shown as escapes (\n, \t, \r, \xNN, \u00NN)
 * so that a hostile file name cannot send terminal escapes or fake a line.
 * Returns 0, -EINVAL for an unknown kind, or -ENOMEM.
 */
int out_text(vg_buf *b, const vigil_event *ev, int color);

/*
 * Appends one line of NDJSON, without spaces and with the keys in this order:
 *
 *   {"type":"created","path":"./a","dir":false}
 *   {"type":"moved","path":"./new","from":"./old","dir":true}
 *   {"type":"error","path":"./x","error":"Permission denied","dir":false}
 *   {"type":"overflow","path":null,"dir":false}
 *
 * Bytes of a path that are not part of valid UTF-8 are written as \udcXX,
 * as Python's surrogateescape does, so that os.fsencode() of the decoded
 * string gives back the exact bytes of the path. Returns 0, -EINVAL for an
 * unknown kind, or -ENOMEM.
 */
int out_json(vg_buf *b, const vigil_event *ev);

/*
 * Validates a format for out_format. The directives are %p (path), %f (the
 * old path of a move, empty otherwise), %e (kind name), %T (local time as
 * ISO-8601 with milliseconds), %d ("dir" or "file") and %% (a percent
 * sign); the escapes are \n, \t, \0 (a NUL byte) and \\. Returns 0, or
 * -EINVAL and, when bad is not NULL, sets *bad to the offset of the '%' or
 * '\' that starts the first bad directive or escape.
 */
int out_format_check(const char *fmt, size_t *bad);

/*
 * Appends one event formatted by fmt, followed by a newline. When fmt ends
 * with \0 no newline is appended, so that `--format '%p\0'` gives records
 * that xargs -0 can read. Paths are written as they are, byte for byte. when
 * is the time for %T; NULL means now. %T uses localtime_r, so the caller
 * should call tzset() once at start-up. Returns 0, -EINVAL for a format that
 * out_format_check rejects or an unknown kind, -EOVERFLOW when the time
 * cannot be converted, or -ENOMEM.
 */
int out_format(vg_buf *b, const char *fmt, const vigil_event *ev, const struct timespec *when);

#endif /* VIGIL_CLI_OUTPUT_H */
