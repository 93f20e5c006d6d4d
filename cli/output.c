/*
 * Output writers of `vigil watch`: text for people, NDJSON for programs and
 * a printf-like format for shell scripts. See output.h for the contract.
 *
 * The text and JSON writers sit in the hot path (hundreds of thousands of
 * events per second), so they measure the worst case first, reserve it with
 * one call and then write without further checks. That also makes them
 * all-or-nothing without any rollback.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* localtime_r and clock_gettime */
#endif

#include "output.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The smallest allocation, so that the first few events do not each grow it. */
#define BUF_MIN_CAP 4096

/* The width the kind is padded to in text output. */
#define KIND_WIDTH 9

static const char hex_digits[] = "0123456789abcdef";

/* Copies a string literal and advances o past it. */
#define PUT_LIT(o, lit) ((o) = put_bytes((o), (lit), sizeof(lit) - 1))

int vg_buf_reserve(vg_buf *b, size_t extra) {
  if (extra <= b->cap - b->len)
    return 0;
  if (extra > SIZE_MAX - b->len)
    return -ENOMEM;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
  while (cap < need) {
    /* Doubling keeps appends amortised O(1); past half the address space
       there is nothing left to double into, so ask for exactly what is
       needed. */
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int vg_buf_append(vg_buf *b, const char *s, size_t n) {
  /* memcpy with a NULL pointer is undefined even for zero bytes, and an
     empty buffer has a NULL data pointer, so stop here. */
  if (n == 0)
    return 0;
  int err = vg_buf_reserve(b, n);
  if (err)
    return err;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

void vg_buf_free(vg_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static char *put_bytes(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}

static char *put_hex2(char *o, unsigned char c) {
  *o++ = hex_digits[c >> 4];
  *o++ = hex_digits[c & 0xf];
  return o;
}

/*
 * Adds n * mul to *total. The worst-case sizes are computed from the path
 * lengths, and a multiplication that wrapped around would reserve too little
 * and let the writers run off the end of the buffer.
 */
static int add_size(size_t *total, size_t n, size_t mul) {
  if (n > (SIZE_MAX - *total) / mul)
    return -ENOMEM;
  *total += n * mul;
  return 0;
}

/*
 * Returns the length of the well-formed UTF-8 sequence at s, which holds n
 * bytes and starts with a byte of 0x80 or more, or 0 when there is none.
 * The ranges are those of Table 3-7 of the Unicode standard: they exclude
 * overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF), which is
 * exactly what Python's UTF-8 decoder accepts too.
 */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t len;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

static int kind_valid(vigil_kind kind) {
  return (int)kind >= VIGIL_CREATED && (int)kind <= VIGIL_KIND_MAX;
}

/* ---- Text ------------------------------------------------------------- */

/* The worst case of text_str: \xNN for every byte. */
#define TEXT_EXPANSION 4

/*
 * Writes s for a terminal. Printable ASCII and valid UTF-8 go through as
 * they are. Everything a terminal could act on is escaped: C0 controls and
 * DEL, the C1 controls U+0080..U+009F (some terminals take U+009B as CSI),
 * and stray bytes that are not UTF-8 (a terminal in an 8-bit mode takes
 * 0x9b as CSI too). Backslash is left alone: a terminal does not act on
 * it, and names are easier to read without doubled backslashes.
 */
static char *text_str(char *o, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] >= 0x20 && s[j] < 0x7f)
      j++;
    o = put_bytes(o, str + i, j - i);
    i = j;
    if (i == n)
      break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t k = utf8_len(s + i, n - i);
      if (k == 2 && c == 0xc2 && s[i + 1] < 0xa0) {
        PUT_LIT(o, "\\u00");
        o = put_hex2(o, s[i + 1]);
      } else if (k) {
        o = put_bytes(o, str + i, k);
      } else {
        PUT_LIT(o, "\\x");
        o = put_hex2(o, c);
        k = 1;
      }
      i += k;
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '\n':
      *o++ = 'n';
      break;
    case '\t':
      *o++ = 't';
      break;
    case '\r':
      *o++ = 'r';
      break;
    default:
      *o++ = 'x';
      o = put_hex2(o, c);
      break;
    }
    i++;
  }
  return o;
}

/* Adds the trailing slash of a directory, unless the path has one already. */
static char *dir_slash(char *o, const vigil_event *ev, const char *s, size_t n) {
  if ((ev->flags & VIGIL_ISDIR) && n > 0 && s[n - 1] != '/')
    *o++ = '/';
  return o;
}

/* ANSI SGR sequences per kind; "dim" is SGR 2. */
static const char *const kind_color[VIGIL_KIND_MAX + 1] = {
    [VIGIL_CREATED] = "\033[32m",       [VIGIL_REMOVED] = "\033[31m", [VIGIL_MODIFIED] = "\033[33m",
    [VIGIL_ATTRIB] = "\033[2m",         [VIGIL_MOVED] = "\033[36m",   [VIGIL_CLOSED] = "\033[2m",
    [VIGIL_OVERFLOW] = "\033[1;31m",    [VIGIL_ERROR] = "\033[1;31m", [VIGIL_OPENED] = "\033[2m",
    [VIGIL_CLOSED_NOWRITE] = "\033[2m",
};

/* The strings of an event that a line shows, with their lengths. */
typedef struct {
  const char *name, *path, *from, *msg;
  size_t name_len, path_len, from_len, msg_len;
} event_parts;

static int split_event(const vigil_event *ev, event_parts *p) {
  if (!kind_valid(ev->kind))
    return -EINVAL;
  p->name = vigil_kind_name(ev->kind);
  if (!p->name)
    return -EINVAL;
  p->path = ev->kind == VIGIL_OVERFLOW ? NULL : ev->path;
  p->from = ev->kind == VIGIL_MOVED ? ev->from : NULL;
  p->msg = NULL;
  if (ev->kind == VIGIL_ERROR) {
    p->msg = vigil_strerror(ev->error);
    if (!p->msg)
      p->msg = "unknown error";
  }
  p->name_len = strlen(p->name);
  p->path_len = p->path ? strlen(p->path) : 0;
  p->from_len = p->from ? strlen(p->from) : 0;
  p->msg_len = p->msg ? strlen(p->msg) : 0;
  return 0;
}

static const char color_reset[] = "\033[0m";
static const char overflow_text[] = "(events were lost; rescanning)";

/* Room for everything in a text line but the strings: colour, kind, padding,
   separators, trailing slashes and the newline. */
#define TEXT_FIXED 64

int out_text(vg_buf *b, const vigil_event *ev, int color) {
  event_parts parts;
  if (split_event(ev, &parts) < 0)
    return -EINVAL;
  const char *name = parts.name, *path = parts.path, *from = parts.from, *msg = parts.msg;
  size_t name_len = parts.name_len, path_len = parts.path_len, from_len = parts.from_len,
         msg_len = parts.msg_len;

  size_t need = TEXT_FIXED + sizeof overflow_text;
  if (add_size(&need, name_len, 1) || add_size(&need, msg_len, 1) ||
      add_size(&need, path_len, TEXT_EXPANSION) || add_size(&need, from_len, TEXT_EXPANSION))
    return -ENOMEM;
  int err = vg_buf_reserve(b, need);
  if (err)
    return err;

  char *o = b->data + b->len;
  if (color)
    o = put_bytes(o, kind_color[ev->kind], strlen(kind_color[ev->kind]));
  o = put_bytes(o, name, name_len);
  if (color)
    PUT_LIT(o, color_reset);
  /* Always at least one space, so that a longer name never runs into the path. */
  size_t pad = name_len < KIND_WIDTH ? KIND_WIDTH - name_len : 1;
  memset(o, ' ', pad);
  o += pad;

  if (ev->kind == VIGIL_OVERFLOW) {
    PUT_LIT(o, overflow_text);
  } else {
    if (from) {
      o = text_str(o, from, from_len);
      o = dir_slash(o, ev, from, from_len);
      PUT_LIT(o, " -> ");
    }
    if (path) {
      o = text_str(o, path, path_len);
      o = dir_slash(o, ev, path, path_len);
    }
    if (msg) {
      if (path)
        PUT_LIT(o, ": ");
      o = put_bytes(o, msg, msg_len);
    }
  }
  *o++ = '\n';
  b->len = (size_t)(o - b->data);
  return 0;
}

/* ---- JSON ------------------------------------------------------------- */

/* The worst case of json_str: \u00XX or \udcXX for every byte. */
#define JSON_EXPANSION 6

/*
 * Writes s as a JSON string with its quotes. Valid UTF-8 goes through as it
 * is; every other byte (always 0x80 or more) becomes the lone surrogate
 * \udcXX, which is how Python's surrogateescape represents an undecodable
 * byte, so os.fsencode() turns the string back into the original bytes. No
 * high surrogate is ever written, so a JSON parser cannot pair two escapes
 * into one character.
 */
static char *json_str(char *o, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  *o++ = '"';
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\')
      j++;
    o = put_bytes(o, str + i, j - i);
    i = j;
    if (i == n)
      break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t k = utf8_len(s + i, n - i);
      if (k) {
        o = put_bytes(o, str + i, k);
        i += k;
      } else {
        PUT_LIT(o, "\\udc");
        o = put_hex2(o, c);
        i++;
      }
      continue;
    }
    *o++ = '\\';
    switch (c) {
    case '"':
      *o++ = '"';
      break;
    case '\\':
      *o++ = '\\';
      break;
    case '\b':
      *o++ = 'b';
      break;
    case '\f':
      *o++ = 'f';
      break;
    case '\n':
      *o++ = 'n';
      break;
    case '\r':
      *o++ = 'r';
      break;
    case '\t':
      *o++ = 't';
      break;
    default:
      PUT_LIT(o, "u00");
      o = put_hex2(o, c);
      break;
    }
    i++;
  }
  *o++ = '"';
  return o;
}

/* Room for everything in a JSON line but the escaped strings. */
#define JSON_FIXED 128

int out_json(vg_buf *b, const vigil_event *ev) {
  event_parts parts;
  if (split_event(ev, &parts) < 0)
    return -EINVAL;
  const char *name = parts.name, *path = parts.path, *from = parts.from, *msg = parts.msg;
  size_t name_len = parts.name_len, path_len = parts.path_len, from_len = parts.from_len,
         msg_len = parts.msg_len;

  size_t need = JSON_FIXED;
  if (add_size(&need, name_len, JSON_EXPANSION) || add_size(&need, path_len, JSON_EXPANSION) ||
      add_size(&need, from_len, JSON_EXPANSION) || add_size(&need, msg_len, JSON_EXPANSION))
    return -ENOMEM;
  int err = vg_buf_reserve(b, need);
  if (err)
    return err;

  char *o = b->data + b->len;
  PUT_LIT(o, "{\"type\":");
  o = json_str(o, name, name_len);
  PUT_LIT(o, ",\"path\":");
  if (path)
    o = json_str(o, path, path_len);
  else
    PUT_LIT(o, "null");
  if (ev->kind == VIGIL_MOVED) {
    PUT_LIT(o, ",\"from\":");
    if (from)
      o = json_str(o, from, from_len);
    else
      PUT_LIT(o, "null");
  }
  if (msg) {
    PUT_LIT(o, ",\"error\":");
    o = json_str(o, msg, msg_len);
  }
  /* Only where it is set: a renamed-in or renamed-out top entry. */
  if (ev->flags & VIGIL_BY_MOVE)
    PUT_LIT(o, ",\"by_move\":true");
  if (ev->flags & VIGIL_ISDIR)
    PUT_LIT(o, ",\"dir\":true}\n");
  else
    PUT_LIT(o, ",\"dir\":false}\n");
  b->len = (size_t)(o - b->data);
  return 0;
}

/* ---- Format ----------------------------------------------------------- */

int out_format_check(const char *fmt, size_t *bad) {
  if (!fmt) {
    if (bad)
      *bad = 0;
    return -EINVAL;
  }
  for (size_t i = 0; fmt[i]; i++) {
    if (fmt[i] != '%' && fmt[i] != '\\')
      continue;
    /* A lone '%' or '\' at the end meets the NUL here and is rejected too. */
    const char *ok = fmt[i] == '%' ? "pfeTd%" : "nt0\\";
    if (fmt[i + 1] == '\0' || !strchr(ok, fmt[i + 1])) {
      if (bad)
        *bad = i;
      return -EINVAL;
    }
    i++;
  }
  return 0;
}

static int append_str(vg_buf *b, const char *s) {
  return s ? vg_buf_append(b, s, strlen(s)) : 0;
}

/* Appends when as local time in ISO-8601 with milliseconds. */
static int append_time(vg_buf *b, const struct timespec *when) {
  struct timespec now;
  if (!when) {
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
      return -errno;
    when = &now;
  }
  struct tm tm;
#ifdef _WIN32
  time_t secs = when->tv_sec;
  if (localtime_s(&tm, &secs) != 0)
#else
  if (!localtime_r(&when->tv_sec, &tm))
#endif
    return -EOVERFLOW;
  char s[64];
  /* Leave room for the milliseconds; strftime returns 0 when it runs out. */
  size_t n = strftime(s, sizeof s - 4, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n == 0)
    return -EOVERFLOW;
  long ms = when->tv_nsec / 1000000;
  if (ms < 0 || ms > 999)
    ms = 0;
  s[n++] = '.';
  s[n++] = (char)('0' + ms / 100);
  s[n++] = (char)('0' + ms / 10 % 10);
  s[n++] = (char)('0' + ms % 10);
  return vg_buf_append(b, s, n);
}

int out_format(vg_buf *b, const char *fmt, const vigil_event *ev, const struct timespec *when) {
  int err = out_format_check(fmt, NULL);
  if (err)
    return err;
  if (!kind_valid(ev->kind))
    return -EINVAL;
  const char *name = vigil_kind_name(ev->kind);
  if (!name)
    return -EINVAL;
  const char *path = ev->kind == VIGIL_OVERFLOW ? NULL : ev->path;
  const char *from = ev->kind == VIGIL_MOVED ? ev->from : NULL;

  size_t start = b->len;
  int ends_with_nul = 0;
  const char *p = fmt;
  while (*p && !err) {
    const char *q = p;
    while (*q && *q != '%' && *q != '\\')
      q++;
    if (q > p) {
      err = vg_buf_append(b, p, (size_t)(q - p));
      ends_with_nul = 0;
      p = q;
      continue;
    }
    /* out_format_check has made sure a valid character follows. */
    char d = p[1];
    ends_with_nul = 0;
    if (*p == '%') {
      switch (d) {
      case 'p':
        err = append_str(b, path);
        break;
      case 'f':
        err = append_str(b, from);
        break;
      case 'e':
        err = append_str(b, name);
        break;
      case 'T':
        err = append_time(b, when);
        break;
      case 'd':
        err = append_str(b, (ev->flags & VIGIL_ISDIR) ? "dir" : "file");
        break;
      default:
        err = vg_buf_append(b, "%", 1);
        break;
      }
    } else {
      switch (d) {
      case 'n':
        err = vg_buf_append(b, "\n", 1);
        break;
      case 't':
        err = vg_buf_append(b, "\t", 1);
        break;
      case '0':
        err = vg_buf_append(b, "", 1);
        ends_with_nul = 1;
        break;
      default:
        err = vg_buf_append(b, "\\", 1);
        break;
      }
    }
    p += 2;
  }
  /* A record that ends in NUL is already terminated for xargs -0; a newline
     after it would become the first byte of the next record. */
  if (!err && !ends_with_nul)
    err = vg_buf_append(b, "\n", 1);
  if (err)
    b->len = start;
  return err;
}
