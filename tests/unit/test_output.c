/*
 * Unit tests of the output writers of `vigil watch` (cli/output.c).
 *
 * The expected strings are spelled out in full, because the output formats
 * are an interface that scripts depend on. Error messages come from
 * vigil_strerror, so they are looked up rather than written out, and the
 * test stays right whatever the wording of src/error.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "output.h"

/* Compares the whole buffer with n expected bytes, which may include NUL. */
static void expect_bytes(const vg_buf *b, const char *want, size_t n) {
  if (b->len != n || (n > 0 && memcmp(b->data, want, n) != 0)) {
    print_error("want [%.*s] (%zu bytes)\n got [%.*s] (%zu bytes)\n", (int)n, want, n, (int)b->len,
                b->data ? b->data : "", b->len);
    fail();
  }
}

/* The expected text as a string literal, so that embedded NUL bytes count. */
#define EXPECT(b, lit) expect_bytes((b), (lit), sizeof(lit) - 1)

static vigil_event ev_make(vigil_kind kind, const char *path, unsigned flags) {
  vigil_event ev = {.kind = kind, .flags = flags, .path = path};
  return ev;
}

static vigil_event ev_moved(const char *from, const char *path, unsigned flags) {
  vigil_event ev = {.kind = VIGIL_MOVED, .flags = flags, .path = path, .from = from};
  return ev;
}

static vigil_event ev_error(const char *path, int err) {
  vigil_event ev = {.kind = VIGIL_ERROR, .path = path, .error = err};
  return ev;
}

static void text_is(const vigil_event *ev, int color, const char *want) {
  vg_buf b = {0};
  assert_int_equal(out_text(&b, ev, color), 0);
  expect_bytes(&b, want, strlen(want));
  vg_buf_free(&b);
}

static void json_is(const vigil_event *ev, const char *want) {
  vg_buf b = {0};
  assert_int_equal(out_json(&b, ev), 0);
  expect_bytes(&b, want, strlen(want));
  vg_buf_free(&b);
}

/* The JSON line of a created file with this path. */
static void json_path_is(const char *path, const char *want_path_json) {
  char want[512];
  snprintf(want, sizeof want, "{\"type\":\"created\",\"path\":%s,\"dir\":false}\n", want_path_json);
  vigil_event ev = ev_make(VIGIL_CREATED, path, 0);
  json_is(&ev, want);
}

/* The text line of a created file with this path. */
static void text_path_is(const char *path, const char *want_path) {
  char want[512];
  snprintf(want, sizeof want, "created  %s\n", want_path);
  vigil_event ev = ev_make(VIGIL_CREATED, path, 0);
  text_is(&ev, 0, want);
}

/* ---- Buffer ----------------------------------------------------------- */

static void test_buf_append_grows(void **state) {
  (void)state;
  vg_buf b = {0};
  assert_int_equal(vg_buf_append(&b, "", 0), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(vg_buf_append(&b, "abc", 3), 0);
  EXPECT(&b, "abc");
  /* Many appends force several reallocations; the contents must survive. */
  char chunk[1000];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 100; i++)
    assert_int_equal(vg_buf_append(&b, chunk, sizeof chunk), 0);
  assert_int_equal(b.len, 3 + 100 * sizeof chunk);
  assert_true(b.cap >= b.len);
  assert_memory_equal(b.data, "abcxxx", 6);
  assert_int_equal(b.data[b.len - 1], 'x');
  vg_buf_free(&b);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  assert_int_equal(b.cap, 0);
  /* A freed buffer can be used again. */
  assert_int_equal(vg_buf_append(&b, "z", 1), 0);
  EXPECT(&b, "z");
  vg_buf_free(&b);
}

static void test_buf_reserve(void **state) {
  (void)state;
  vg_buf b = {0};
  assert_int_equal(vg_buf_reserve(&b, 10), 0);
  assert_true(b.cap >= 10);
  size_t cap = b.cap;
  char *data = b.data;
  /* Room that is already there needs no reallocation. */
  assert_int_equal(vg_buf_reserve(&b, cap), 0);
  assert_ptr_equal(b.data, data);
  assert_int_equal(vg_buf_append(&b, "ab", 2), 0);
  /* A size that cannot exist fails cleanly instead of wrapping around. */
  assert_int_equal(vg_buf_reserve(&b, SIZE_MAX), -ENOMEM);
  assert_int_equal(vg_buf_reserve(&b, SIZE_MAX - 1), -ENOMEM);
  EXPECT(&b, "ab");
  vg_buf_free(&b);
}

/* ---- Text ------------------------------------------------------------- */

static void test_text_kinds(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_CREATED, "./a/b.txt", 0);
  text_is(&ev, 0, "created  ./a/b.txt\n");
  ev = ev_make(VIGIL_REMOVED, "./a/b.txt", 0);
  text_is(&ev, 0, "removed  ./a/b.txt\n");
  ev = ev_make(VIGIL_MODIFIED, "./a/b.txt", 0);
  text_is(&ev, 0, "modified ./a/b.txt\n");
  ev = ev_make(VIGIL_ATTRIB, "./a/b.txt", VIGIL_SYNTHETIC);
  text_is(&ev, 0, "attrib   ./a/b.txt\n");
  ev = ev_make(VIGIL_CLOSED, "./a/b.txt", 0);
  text_is(&ev, 0, "closed   ./a/b.txt\n");
  ev = ev_moved("./a/old", "./a/new", 0);
  text_is(&ev, 0, "moved    ./a/old -> ./a/new\n");
  /* The path of an overflow is NULL; a stray one must not be printed. */
  ev = ev_make(VIGIL_OVERFLOW, NULL, 0);
  text_is(&ev, 0, "overflow (events were lost; rescanning)\n");
  ev = ev_make(VIGIL_OVERFLOW, "./junk", 0);
  text_is(&ev, 0, "overflow (events were lost; rescanning)\n");
}

static void test_text_dirs(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_CREATED, "./a/dir", VIGIL_ISDIR);
  text_is(&ev, 0, "created  ./a/dir/\n");
  ev = ev_make(VIGIL_REMOVED, "./a/dir", VIGIL_ISDIR | VIGIL_SYNTHETIC);
  text_is(&ev, 0, "removed  ./a/dir/\n");
  /* A root given with a slash must not get a second one. */
  ev = ev_make(VIGIL_ATTRIB, "root/", VIGIL_ISDIR);
  text_is(&ev, 0, "attrib   root/\n");
  ev = ev_moved("./old", "./new", VIGIL_ISDIR);
  text_is(&ev, 0, "moved    ./old/ -> ./new/\n");
}

static void test_text_error(void **state) {
  (void)state;
  char want[512];
  vigil_event ev = ev_error("./a/secret", -EACCES);
  snprintf(want, sizeof want, "error    ./a/secret: %s\n", vigil_strerror(-EACCES));
  text_is(&ev, 0, want);
  ev = ev_error("./a", VIGIL_EWATCHLIMIT);
  snprintf(want, sizeof want, "error    ./a: %s\n", vigil_strerror(VIGIL_EWATCHLIMIT));
  text_is(&ev, 0, want);
  /* An error that belongs to no path still prints its message. */
  ev = ev_error(NULL, -ENOMEM);
  snprintf(want, sizeof want, "error    %s\n", vigil_strerror(-ENOMEM));
  text_is(&ev, 0, want);
  snprintf(want, sizeof want, "\033[1;31merror\033[0m    ./x: %s\n", vigil_strerror(-EIO));
  ev = ev_error("./x", -EIO);
  text_is(&ev, 1, want);
}

static void test_text_color(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_CREATED, "a", 0);
  text_is(&ev, 1, "\033[32mcreated\033[0m  a\n");
  ev = ev_make(VIGIL_REMOVED, "a", 0);
  text_is(&ev, 1, "\033[31mremoved\033[0m  a\n");
  ev = ev_make(VIGIL_MODIFIED, "a", 0);
  text_is(&ev, 1, "\033[33mmodified\033[0m a\n");
  ev = ev_make(VIGIL_ATTRIB, "a", 0);
  text_is(&ev, 1, "\033[2mattrib\033[0m   a\n");
  ev = ev_make(VIGIL_CLOSED, "a", 0);
  text_is(&ev, 1, "\033[2mclosed\033[0m   a\n");
  ev = ev_moved("a", "b", VIGIL_ISDIR);
  text_is(&ev, 1, "\033[36mmoved\033[0m    a/ -> b/\n");
  ev = ev_make(VIGIL_OVERFLOW, NULL, 0);
  text_is(&ev, 1, "\033[1;31moverflow\033[0m (events were lost; rescanning)\n");
}

static void test_text_escapes(void **state) {
  (void)state;
  /* A newline in a name must not start a fake event line. */
  text_path_is("a\nremoved  /etc/passwd", "a\\nremoved  /etc/passwd");
  text_path_is("t\tr\r", "t\\tr\\r");
  /* Terminal escapes are disarmed, in both the path and the source of a move. */
  text_path_is("\033[2J\033]0;title\007", "\\x1b[2J\\x1b]0;title\\x07");
  text_path_is("\001\037\177", "\\x01\\x1f\\x7f");
  vigil_event ev = ev_moved("x\033y", "p\nq", 0);
  text_is(&ev, 0, "moved    x\\x1by -> p\\nq\n");
  /* Backslash and other printable ASCII pass as they are. */
  text_path_is("a\\nb ~!\"'", "a\\nb ~!\"'");
  /* Valid UTF-8 passes; C1 controls and stray bytes are escaped. */
  text_path_is("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
               "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
  text_path_is("\xc2\x9b[31m \xc2\x80 \xc2\x9f \xc2\xa0", "\\u009b[31m \\u0080 \\u009f \xc2\xa0");
  text_path_is("\x9b[2J \xff\xc3", "\\x9b[2J \\xff\\xc3");
  text_path_is("\xed\xa0\x80", "\\xed\\xa0\\x80");
}

static void test_text_appends(void **state) {
  (void)state;
  vg_buf b = {0};
  vigil_event a = ev_make(VIGIL_CREATED, "a", 0);
  vigil_event c = ev_make(VIGIL_REMOVED, "c", VIGIL_ISDIR);
  assert_int_equal(out_text(&b, &a, 0), 0);
  assert_int_equal(out_text(&b, &c, 0), 0);
  assert_int_equal(out_json(&b, &a), 0);
  EXPECT(&b, "created  a\nremoved  c/\n{\"type\":\"created\",\"path\":\"a\",\"dir\":false}\n");
  vg_buf_free(&b);
}

static void test_bad_kind(void **state) {
  (void)state;
  vg_buf b = {0};
  assert_int_equal(vg_buf_append(&b, "keep", 4), 0);
  vigil_event ev = ev_make((vigil_kind)0, "a", 0);
  assert_int_equal(out_text(&b, &ev, 0), -EINVAL);
  assert_int_equal(out_json(&b, &ev), -EINVAL);
  assert_int_equal(out_format(&b, "%p", &ev, NULL), -EINVAL);
  ev.kind = (vigil_kind)(VIGIL_KIND_MAX + 1);
  assert_int_equal(out_text(&b, &ev, 1), -EINVAL);
  assert_int_equal(out_json(&b, &ev), -EINVAL);
  assert_int_equal(out_format(&b, "%e", &ev, NULL), -EINVAL);
  EXPECT(&b, "keep");
  vg_buf_free(&b);
}

/* ---- JSON ------------------------------------------------------------- */

static void test_json_kinds(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_CREATED, "./a/b.txt", 0);
  json_is(&ev, "{\"type\":\"created\",\"path\":\"./a/b.txt\",\"dir\":false}\n");
  ev = ev_make(VIGIL_REMOVED, "./a", VIGIL_ISDIR);
  json_is(&ev, "{\"type\":\"removed\",\"path\":\"./a\",\"dir\":true}\n");
  ev = ev_make(VIGIL_MODIFIED, "m", VIGIL_SYNTHETIC);
  json_is(&ev, "{\"type\":\"modified\",\"path\":\"m\",\"dir\":false}\n");
  ev = ev_make(VIGIL_ATTRIB, "m", 0);
  json_is(&ev, "{\"type\":\"attrib\",\"path\":\"m\",\"dir\":false}\n");
  ev = ev_make(VIGIL_CLOSED, "m", 0);
  json_is(&ev, "{\"type\":\"closed\",\"path\":\"m\",\"dir\":false}\n");
  ev = ev_moved("./old", "./new", VIGIL_ISDIR);
  json_is(&ev, "{\"type\":\"moved\",\"path\":\"./new\",\"from\":\"./old\",\"dir\":true}\n");
  ev = ev_moved(NULL, "./new", 0);
  json_is(&ev, "{\"type\":\"moved\",\"path\":\"./new\",\"from\":null,\"dir\":false}\n");
  ev = ev_make(VIGIL_OVERFLOW, NULL, 0);
  json_is(&ev, "{\"type\":\"overflow\",\"path\":null,\"dir\":false}\n");
  /* "from" belongs to moves only. */
  ev = ev_make(VIGIL_CREATED, "c", 0);
  ev.from = "stray";
  json_is(&ev, "{\"type\":\"created\",\"path\":\"c\",\"dir\":false}\n");
}

static void test_json_error(void **state) {
  (void)state;
  char want[512];
  /* The messages are pasted into the expected lines unescaped. */
  assert_null(strpbrk(vigil_strerror(-EACCES), "\"\\"));
  assert_null(strpbrk(vigil_strerror(VIGIL_EWATCHLIMIT), "\"\\"));
  vigil_event ev = ev_error("./a/secret", -EACCES);
  snprintf(want, sizeof want,
           "{\"type\":\"error\",\"path\":\"./a/secret\",\"error\":\"%s\",\"dir\":false}\n",
           vigil_strerror(-EACCES));
  json_is(&ev, want);
  ev = ev_error(NULL, VIGIL_EWATCHLIMIT);
  snprintf(want, sizeof want, "{\"type\":\"error\",\"path\":null,\"error\":\"%s\",\"dir\":false}\n",
           vigil_strerror(VIGIL_EWATCHLIMIT));
  json_is(&ev, want);
}

static void test_json_escapes(void **state) {
  (void)state;
  json_path_is("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
  json_path_is("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
  json_path_is("\001\033\037\177 ~", "\"\\u0001\\u001b\\u001f\\u007f ~\"");
  json_path_is("", "\"\"");
}

static void test_json_utf8_valid(void **state) {
  (void)state;
  /* The edges of each range of Table 3-7 pass unchanged, as does C1. */
  const char *valid[] = {
      "caf\xc3\xa9",
      "\xc2\x80\xc2\x9b\xdf\xbf",         /* U+0080, U+009B, U+07FF */
      "\xe0\xa0\x80\xe1\x80\x80",         /* U+0800, U+1000 */
      "\xed\x9f\xbf\xee\x80\x80",         /* U+D7FF, U+E000 */
      "\xef\xbf\xbf\xef\xbb\xbf",         /* U+FFFF, BOM */
      "\xf0\x90\x80\x80\xf0\x9f\x98\x80", /* U+10000, U+1F600 */
      "\xf3\xbf\xbf\xbf\xf4\x8f\xbf\xbf", /* U+FFFFF, U+10FFFF */
  };
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", valid[i]);
    json_path_is(valid[i], quoted);
  }
}

static void test_json_utf8_invalid(void **state) {
  (void)state;
  /* Lone continuation bytes and bytes that never start a sequence. */
  json_path_is("a\x80z", "\"a\\udc80z\"");
  json_path_is("\xbf\xc0\xc1\xf5\xff", "\"\\udcbf\\udcc0\\udcc1\\udcf5\\udcff\"");
  /* Overlong forms: the lead byte and what follows are all escaped. */
  json_path_is("\xc0\xaf", "\"\\udcc0\\udcaf\"");
  json_path_is("\xe0\x80\xaf", "\"\\udce0\\udc80\\udcaf\"");
  json_path_is("\xf0\x8f\xbf\xbf", "\"\\udcf0\\udc8f\\udcbf\\udcbf\"");
  /* UTF-16 surrogates encoded in UTF-8. */
  json_path_is("\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"");
  json_path_is("\xed\xbf\xbf", "\"\\udced\\udcbf\\udcbf\"");
  /* Above U+10FFFF. */
  json_path_is("\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"");
  /* Truncated sequences, in the middle and at the end; the valid character
     after a broken one is kept. */
  json_path_is("\xe2\x82z", "\"\\udce2\\udc82z\"");
  json_path_is("\xe2\xc3\xa9", "\"\\udce2\xc3\xa9\"");
  json_path_is("x\xf0\x9f\x98", "\"x\\udcf0\\udc9f\\udc98\"");
  json_path_is("\xc3", "\"\\udcc3\"");
}

static void test_json_long_path(void **state) {
  (void)state;
  /* A path of nothing but control bytes expands the most: 6 bytes each. */
  size_t n = 70000;
  char *path = malloc(n + 1);
  assert_non_null(path);
  memset(path, '\001', n);
  path[n] = '\0';
  vg_buf b = {0};
  vigil_event ev = ev_make(VIGIL_CREATED, path, 0);
  assert_int_equal(out_json(&b, &ev), 0);
  assert_int_equal(b.len, strlen("{\"type\":\"created\",\"path\":\"\",\"dir\":false}\n") + 6 * n);
  memset(path, '\xff', n);
  b.len = 0;
  assert_int_equal(out_text(&b, &ev, 1), 0);
  assert_int_equal(b.len, strlen("\033[32mcreated\033[0m  \n") + 4 * n);
  vg_buf_free(&b);
  free(path);
}

/* ---- Format ----------------------------------------------------------- */

static void check_bad(const char *fmt, size_t want_bad) {
  size_t bad = 12345;
  assert_int_equal(out_format_check(fmt, &bad), -EINVAL);
  assert_int_equal(bad, want_bad);
  assert_int_equal(out_format_check(fmt, NULL), -EINVAL);
}

static void test_format_check(void **state) {
  (void)state;
  size_t bad = 12345;
  assert_int_equal(out_format_check("", &bad), 0);
  assert_int_equal(out_format_check("%p %f %e %T %d %% \\n\\t\\0\\\\ plain", &bad), 0);
  assert_int_equal(out_format_check("%%%%", NULL), 0);
  assert_int_equal(bad, 12345);
  check_bad("%x", 0);
  check_bad("ok %p %P", 6);
  check_bad("%", 0);
  check_bad("abc%", 3);
  check_bad("%%%", 2);
  check_bad("\\q", 0);
  check_bad("%p\\", 2);
  check_bad("\\\\\\", 2);
  check_bad("%p\\x41", 2);
  check_bad("%pg\\1", 3);
  check_bad(NULL, 0);
}

static void format_is(const char *fmt, const vigil_event *ev, const char *want, size_t n) {
  vg_buf b = {0};
  struct timespec when = {.tv_sec = 1795369201, .tv_nsec = 123456789};
  assert_int_equal(out_format(&b, fmt, ev, &when), 0);
  expect_bytes(&b, want, n);
  vg_buf_free(&b);
}

#define FORMAT_IS(fmt, ev, lit) format_is((fmt), (ev), (lit), sizeof(lit) - 1)

static void test_format_directives(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_CREATED, "./a b", 0);
  FORMAT_IS("%p", &ev, "./a b\n");
  FORMAT_IS("", &ev, "\n");
  FORMAT_IS("[%e|%d|%f|%p] 100%%", &ev, "[created|file||./a b] 100%\n");
  ev = ev_moved("./old", "./new", VIGIL_ISDIR);
  FORMAT_IS("%e %d %f -> %p", &ev, "moved dir ./old -> ./new\n");
  ev = ev_make(VIGIL_OVERFLOW, NULL, 0);
  FORMAT_IS("%e:%p:%f", &ev, "overflow::\n");
  ev = ev_error("./x", -EACCES);
  FORMAT_IS("%e %p", &ev, "error ./x\n");
  /* "from" belongs to moves only. */
  ev = ev_make(VIGIL_REMOVED, "r", 0);
  ev.from = "stray";
  FORMAT_IS("%e %f%p", &ev, "removed r\n");
}

static void test_format_escapes(void **state) {
  (void)state;
  vigil_event ev = ev_make(VIGIL_MODIFIED, "f", 0);
  FORMAT_IS("%e\\t%p\\n", &ev, "modified\tf\n\n");
  FORMAT_IS("a\\\\b", &ev, "a\\b\n");
  /* A record ending in NUL gets no newline, for xargs -0. */
  FORMAT_IS("%p\\0", &ev, "f\0");
  FORMAT_IS("\\0%p", &ev, "\0f\n");
  FORMAT_IS("%p\\0x", &ev, "f\0x\n");
  /* Here the escape is a backslash and the 0 is plain text. */
  FORMAT_IS("%p\\\\0", &ev, "f\\0\n");
  /* Paths are written byte for byte, control characters and all. */
  ev = ev_make(VIGIL_CREATED, "a\nb\033\xff", 0);
  FORMAT_IS("%p\\0", &ev, "a\nb\033\xff\0");
}

static void test_format_time(void **state) {
  (void)state;
  /* POSIX TZ strings need no time-zone database on the machine. */
  const char *old = getenv("TZ");
  char *saved = old ? strdup(old) : NULL;
  vigil_event ev = ev_make(VIGIL_CREATED, "p", 0);
  setenv("TZ", "UTC0", 1);
  tzset();
  FORMAT_IS("%T %p", &ev, "2026-11-22T17:40:01.123 p\n");
  setenv("TZ", "JST-9", 1);
  tzset();
  FORMAT_IS("%T", &ev, "2026-11-23T02:40:01.123\n");

  vg_buf b = {0};
  struct timespec when = {.tv_sec = 0, .tv_nsec = 999999999};
  setenv("TZ", "UTC0", 1);
  tzset();
  assert_int_equal(out_format(&b, "%T", &ev, &when), 0);
  EXPECT(&b, "1970-01-01T00:00:00.999\n");
  /* Without a time, now is used: only the shape can be checked. */
  b.len = 0;
  assert_int_equal(out_format(&b, "%T", &ev, NULL), 0);
  assert_int_equal(b.len, strlen("2026-11-22T17:40:01.123\n"));
  assert_int_equal(b.data[10], 'T');
  assert_int_equal(b.data[19], '.');
  vg_buf_free(&b);

  if (saved) {
    setenv("TZ", saved, 1);
    free(saved);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

static void test_format_rejects(void **state) {
  (void)state;
  vg_buf b = {0};
  assert_int_equal(vg_buf_append(&b, "keep", 4), 0);
  vigil_event ev = ev_make(VIGIL_CREATED, "p", 0);
  assert_int_equal(out_format(&b, "%p %q", &ev, NULL), -EINVAL);
  assert_int_equal(out_format(&b, "%p\\", &ev, NULL), -EINVAL);
  assert_int_equal(out_format(&b, NULL, &ev, NULL), -EINVAL);
  EXPECT(&b, "keep");
  vg_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buf_append_grows),  cmocka_unit_test(test_buf_reserve),
      cmocka_unit_test(test_text_kinds),        cmocka_unit_test(test_text_dirs),
      cmocka_unit_test(test_text_error),        cmocka_unit_test(test_text_color),
      cmocka_unit_test(test_text_escapes),      cmocka_unit_test(test_text_appends),
      cmocka_unit_test(test_bad_kind),          cmocka_unit_test(test_json_kinds),
      cmocka_unit_test(test_json_error),        cmocka_unit_test(test_json_escapes),
      cmocka_unit_test(test_json_utf8_valid),   cmocka_unit_test(test_json_utf8_invalid),
      cmocka_unit_test(test_json_long_path),    cmocka_unit_test(test_format_check),
      cmocka_unit_test(test_format_directives), cmocka_unit_test(test_format_escapes),
      cmocka_unit_test(test_format_time),       cmocka_unit_test(test_format_rejects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
