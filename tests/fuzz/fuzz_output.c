/*
 * Fuzz target: the output writers of `vigil watch` (cli/output.h), with
 * random bytes as paths.
 *
 * The input is: byte 0 the kind (low 4 bits; 0 and 9..15 are invalid
 * kinds, which every writer must refuse), the directory flag (bit 4) and
 * colour (bit 5); byte 1 picks the error code of an error event; the rest
 * is "path\0from\0format", each part possibly empty or missing.
 *
 * Checked, besides the absence of crashes and sanitizer reports:
 *  - out_json writes one line that a strict JSON parser (below) accepts,
 *    with the keys in the documented order, and whose strings decode, with
 *    \udcXX taken back to the byte XX as Python's surrogateescape does, to
 *    exactly the bytes of the kind name, path, from and error message;
 *  - out_text without colour writes one line with no control character,
 *    no C1 control and only valid UTF-8, whatever the path;
 *  - out_format with "%p" gives back the path byte for byte; with a
 *    random format it either refuses it (-EINVAL, as out_format_check
 *    does) or writes exactly what a plain reading of the directives gives;
 *  - every writer leaves what was already in the buffer alone, and an
 *    invalid kind adds nothing.
 */
#include "output.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct timespec when = {.tv_sec = 1700000000, .tv_nsec = 123456789};
static char when_text[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setenv("TZ", "UTC", 1);
  tzset();
  struct tm tm;
  gmtime_r(&when.tv_sec, &tm);
  size_t n = strftime(when_text, sizeof when_text, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(when_text + n, sizeof when_text - n, ".123");
  return 0;
}

static const int errors[] = {
    VIGIL_EWATCHLIMIT, VIGIL_EINSTLIMIT, VIGIL_EFORKED, -EACCES, -ENOENT, -EIO, -99999, -1, -4095,
    VIGIL_EEXIST,      -ENOSPC,          -EMFILE};

/* ---- a strict JSON reader, just enough for one event line -------------- */

typedef struct {
  const unsigned char *s;
  size_t n, i;
} rd;

#define FAIL() abort()

static void expect_lit(rd *r, const char *lit) {
  size_t k = strlen(lit);
  if (r->n - r->i < k || memcmp(r->s + r->i, lit, k) != 0)
    FAIL();
  r->i += k;
}

static unsigned hex4(rd *r) {
  if (r->n - r->i < 4)
    FAIL();
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char c = r->s[r->i++];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      FAIL();
  }
  return v;
}

/* Length of the well-formed UTF-8 sequence at s (Unicode Table 3-7), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0], lo = 0x80, hi = 0xbf;
  size_t len;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return len;
}

static void put_utf8(unsigned cp, unsigned char *o, size_t *len) {
  if (cp < 0x80) {
    o[(*len)++] = (unsigned char)cp;
  } else if (cp < 0x800) {
    o[(*len)++] = (unsigned char)(0xc0 | cp >> 6);
    o[(*len)++] = (unsigned char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    o[(*len)++] = (unsigned char)(0xe0 | cp >> 12);
    o[(*len)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[(*len)++] = (unsigned char)(0x80 | (cp & 0x3f));
  } else {
    o[(*len)++] = (unsigned char)(0xf0 | cp >> 18);
    o[(*len)++] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[(*len)++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[(*len)++] = (unsigned char)(0x80 | (cp & 0x3f));
  }
}

/*
 * Reads a JSON string into out (malloc'd) as bytes: UTF-8 for characters,
 * and the byte XX for a lone \udcXX with XX >= 0x80 (surrogateescape). A
 * lone surrogate of any other kind cannot become bytes, and fails.
 */
static unsigned char *json_string(rd *r, size_t *outlen) {
  expect_lit(r, "\"");
  unsigned char *o = malloc(r->n * 4 + 4);
  if (!o)
    abort();
  size_t len = 0;
  for (;;) {
    if (r->i >= r->n)
      FAIL();
    unsigned char c = r->s[r->i];
    if (c == '"') {
      r->i++;
      break;
    }
    if (c < 0x20)
      FAIL(); /* control characters must be escaped */
    if (c != '\\') {
      size_t k = utf8_len(r->s + r->i, r->n - r->i);
      if (!k)
        FAIL(); /* JSON text is UTF-8 */
      memcpy(o + len, r->s + r->i, k);
      len += k;
      r->i += k;
      continue;
    }
    r->i++;
    if (r->i >= r->n)
      FAIL();
    unsigned char e = r->s[r->i++];
    switch (e) {
    case '"':
    case '\\':
    case '/':
      o[len++] = e;
      break;
    case 'b':
      o[len++] = '\b';
      break;
    case 'f':
      o[len++] = '\f';
      break;
    case 'n':
      o[len++] = '\n';
      break;
    case 'r':
      o[len++] = '\r';
      break;
    case 't':
      o[len++] = '\t';
      break;
    case 'u': {
      unsigned cp = hex4(r);
      if (cp >= 0xd800 && cp <= 0xdbff) {
        expect_lit(r, "\\u");
        unsigned lo = hex4(r);
        if (lo < 0xdc00 || lo > 0xdfff)
          FAIL();
        put_utf8(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00), o, &len);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        if (cp < 0xdc80 || cp > 0xdcff)
          FAIL();
        o[len++] = (unsigned char)(cp - 0xdc00);
      } else {
        put_utf8(cp, o, &len);
      }
      break;
    }
    default:
      FAIL();
    }
  }
  *outlen = len;
  return o;
}

static void expect_string(rd *r, const char *want) {
  size_t len;
  unsigned char *got = json_string(r, &len);
  if (len != strlen(want) || memcmp(got, want, len) != 0)
    FAIL();
  free(got);
}

static void check_json(const char *line, size_t n, const vigil_event *ev) {
  rd r = {(const unsigned char *)line, n, 0};
  if (n == 0 || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
    FAIL();
  r.n--; /* the newline */
  expect_lit(&r, "{\"type\":");
  expect_string(&r, vigil_kind_name(ev->kind));
  expect_lit(&r, ",\"path\":");
  if (ev->kind == VIGIL_OVERFLOW)
    expect_lit(&r, "null");
  else
    expect_string(&r, ev->path);
  if (ev->kind == VIGIL_MOVED) {
    expect_lit(&r, ",\"from\":");
    expect_string(&r, ev->from);
  }
  if (ev->kind == VIGIL_ERROR) {
    expect_lit(&r, ",\"error\":");
    expect_string(&r, vigil_strerror(ev->error));
  }
  expect_lit(&r, (ev->flags & VIGIL_ISDIR) ? ",\"dir\":true}" : ",\"dir\":false}");
  if (r.i != r.n)
    FAIL();
}

/* ---- text --------------------------------------------------------------- */

static void check_text(const char *line, size_t n) {
  const unsigned char *s = (const unsigned char *)line;
  if (n == 0 || s[n - 1] != '\n')
    FAIL();
  for (size_t i = 0; i < n - 1;) {
    if (s[i] < 0x20 || s[i] == 0x7f)
      FAIL();
    size_t k = utf8_len(s + i, n - 1 - i);
    if (!k)
      FAIL();
    if (k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
      FAIL(); /* U+0080..U+009F: C1 controls */
    i += k;
  }
}

/* ---- format ------------------------------------------------------------- */

/* What out_format should write, read plainly from the directives; -1 if bad. */
static long expand(const char *fmt, const vigil_event *ev, char *out) {
  const char *path = ev->kind == VIGIL_OVERFLOW ? NULL : ev->path;
  const char *from = ev->kind == VIGIL_MOVED ? ev->from : NULL;
  size_t len = 0;
  int nul_last = 0;
  for (const char *p = fmt; *p; p++) {
    const char *add = NULL;
    size_t addn = 0;
    nul_last = 0;
    if (*p == '%' || *p == '\\') {
      char d = p[1];
      if (*p == '%' && d == 'p')
        add = path ? path : "";
      else if (*p == '%' && d == 'f')
        add = from ? from : "";
      else if (*p == '%' && d == 'e')
        add = vigil_kind_name(ev->kind) ? vigil_kind_name(ev->kind) : "";
      else if (*p == '%' && d == 'T')
        add = when_text;
      else if (*p == '%' && d == 'd')
        add = (ev->flags & VIGIL_ISDIR) ? "dir" : "file";
      else if (*p == '%' && d == '%')
        add = "%";
      else if (*p == '\\' && d == 'n')
        add = "\n";
      else if (*p == '\\' && d == 't')
        add = "\t";
      else if (*p == '\\' && d == '\\')
        add = "\\";
      else if (*p == '\\' && d == '0')
        add = "", addn = 1, nul_last = 1;
      else
        return -1;
      if (!addn)
        addn = strlen(add);
      p++;
    } else {
      add = p;
      addn = 1;
    }
    memcpy(out + len, add, addn);
    len += addn;
  }
  if (!nul_last)
    out[len++] = '\n';
  return (long)len;
}

static const char prefix[] = "already here\n";

static void fresh(vg_buf *b) {
  b->len = 0;
  if (vg_buf_append(b, prefix, sizeof prefix - 1) != 0)
    abort();
}

static void check_prefix(const vg_buf *b) {
  if (b->len < sizeof prefix - 1 || memcmp(b->data, prefix, sizeof prefix - 1) != 0)
    FAIL();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > 16384)
    return 0;
  unsigned kind = data[0] & 15;
  vigil_event ev = {.kind = (vigil_kind)kind,
                    .flags = (data[0] & 0x10) ? VIGIL_ISDIR : 0,
                    .error = errors[data[1] % (sizeof errors / sizeof *errors)]};
  int color = (data[0] >> 5) & 1;
  /* path, from and format: NUL-separated, each NUL-terminated here. */
  char *text = malloc(size - 2 + 3);
  if (!text)
    abort();
  memcpy(text, data + 2, size - 2);
  memset(text + size - 2, 0, 3);
  /* The three NULs added at the end keep every part inside the block. */
  char *path = text;
  char *from = path + strlen(path) + 1;
  char *fmt = from + strlen(from) + 1;
  /* A long format says nothing a short one does not, and would be slow to check. */
  if (strlen(fmt) > 64)
    fmt[64] = '\0';
  ev.path = kind == VIGIL_OVERFLOW ? NULL : path;
  ev.from = kind == VIGIL_MOVED ? from : NULL;
  int valid = kind >= VIGIL_CREATED && kind <= VIGIL_KIND_MAX;

  vg_buf b = {0};
  size_t p0 = sizeof prefix - 1;

  fresh(&b);
  int rc = out_json(&b, &ev);
  check_prefix(&b);
  if (!valid) {
    if (rc != -EINVAL || b.len != p0)
      FAIL();
  } else {
    if (rc != 0)
      FAIL();
    check_json(b.data + p0, b.len - p0, &ev);
  }

  fresh(&b);
  rc = out_text(&b, &ev, color);
  check_prefix(&b);
  if (!valid) {
    if (rc != -EINVAL || b.len != p0)
      FAIL();
  } else {
    if (rc != 0)
      FAIL();
    if (!color)
      check_text(b.data + p0, b.len - p0);
  }

  if (valid && kind != VIGIL_OVERFLOW) {
    fresh(&b);
    if (out_format(&b, "%p", &ev, &when) != 0 || b.len != p0 + strlen(path) + 1 ||
        memcmp(b.data + p0, path, strlen(path)) != 0 || b.data[b.len - 1] != '\n')
      FAIL();
    fresh(&b);
    if (out_format(&b, "%p\\0", &ev, &when) != 0 || b.len != p0 + strlen(path) + 1 ||
        memcmp(b.data + p0, path, strlen(path) + 1) != 0)
      FAIL();
  }

  fresh(&b);
  rc = out_format(&b, fmt, &ev, &when);
  check_prefix(&b);
  size_t bad = 0;
  int checked = out_format_check(fmt, &bad);
  char *want = malloc(strlen(fmt) * (size + sizeof when_text) + 2);
  if (!want)
    abort();
  long wn = expand(fmt, &ev, want);
  if (checked != (wn < 0 ? -EINVAL : 0))
    FAIL(); /* out_format_check and the plain reading disagree */
  if (wn < 0 || !valid) {
    if (rc != -EINVAL || b.len != p0)
      FAIL();
    if (wn < 0 && (bad >= strlen(fmt) || (fmt[bad] != '%' && fmt[bad] != '\\')))
      FAIL(); /* the offset of the bad directive points at one */
  } else {
    if (rc != 0 || b.len - p0 != (size_t)wn || memcmp(b.data + p0, want, (size_t)wn) != 0)
      FAIL();
  }
  free(want);
  vg_buf_free(&b);
  free(text);
  return 0;
}
