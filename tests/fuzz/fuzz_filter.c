/*
 * Fuzz target: the gitignore pattern matcher (src/filter.h).
 *
 * The input is lines separated by '\n'. The first byte is a control byte:
 * its low three bits say how many of the following lines are patterns,
 * bits 3-5 pick the base directory each pattern is relative to, and bit 6
 * whether the first path is a directory (the rest alternate). The lines
 * after the patterns are paths.
 *
 * Checked for every input, besides the absence of crashes and sanitizer
 * reports:
 *  - a pattern that vigil__filter_add refuses leaves the filter unchanged
 *    (the rule count stays the same), and one it takes adds at most one;
 *  - vigil__filter_excluded answers 0 or 1, and is deterministic: asked
 *    twice, and asked of a second filter built from the same lines, it
 *    gives the same answer;
 *  - it reads only the len bytes it is given (each path is passed in a
 *    block of exactly that size, with no NUL after it);
 *  - for a well-formed path, a filter holding only its last component as a
 *    literal pattern excludes it, and adding "!" and that name re-includes it.
 * libFuzzer's -timeout catches a pattern that makes matching slow.
 */
#include "filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static const char *const bases[8] = {"", NULL, "sub", "a/b", "/x/", "sub/", "deep/er/base", ""};

/* A NUL-terminated copy of n bytes. */
static char *dupz(const uint8_t *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p)
    abort();
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Components joined by single '/', none empty: what vigil passes. */
static int well_formed(const uint8_t *p, size_t n) {
  if (n == 0 || p[0] == '/' || p[n - 1] == '/')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\0' || (p[i] == '/' && p[i + 1] == '/'))
      return 0;
  return 1;
}

/* A name that gitignore syntax takes literally, with no special meaning. */
static int plain_name(const uint8_t *s, size_t n) {
  if (n == 0 || s[0] == '#' || s[0] == '!' || s[n - 1] == ' ' || s[n - 1] == '\r')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (strchr("*?[\\/", s[i]) || s[i] == '\0' || s[i] == '\n')
      return 0;
  return 1;
}

static void literal_oracle(const uint8_t *path, size_t n, int is_dir) {
  size_t b = n;
  while (b > 0 && path[b - 1] != '/')
    b--;
  if (!plain_name(path + b, n - b))
    return;
  vigil__filter *f = vigil__filter_new();
  if (!f)
    abort();
  char *name = dupz(path + b, n - b);
  char *copy = malloc(n);
  if (!copy)
    abort();
  memcpy(copy, path, n);
  if (vigil__filter_add(f, name, NULL) != 0 || vigil__filter_excluded(f, copy, n, is_dir) != 1)
    abort();
  char *neg = malloc(n - b + 2);
  if (!neg)
    abort();
  neg[0] = '!';
  memcpy(neg + 1, name, n - b + 1);
  if (vigil__filter_add(f, neg, NULL) != 0 || vigil__filter_excluded(f, copy, n, is_dir) != 0)
    abort();
  free(neg);
  free(copy);
  free(name);
  vigil__filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192)
    return 0;
  unsigned ctl = data[0];
  unsigned npat = ctl & 7;
  const char *base = bases[(ctl >> 3) & 7];
  int dir = (ctl >> 6) & 1;

  vigil__filter *f1 = vigil__filter_new(), *f2 = vigil__filter_new();
  if (!f1 || !f2)
    abort();
  if (vigil__filter_excluded(NULL, "x", 1, 0) != 0)
    abort();

  size_t off = 1;
  unsigned line = 0;
  while (off <= size) {
    const uint8_t *s = data + off;
    const uint8_t *nl = memchr(s, '\n', size - off);
    size_t n = nl ? (size_t)(nl - s) : size - off;
    if (line < npat) {
      char *pat = dupz(s, n); /* an embedded NUL just ends the pattern early */
      size_t before = vigil__filter_count(f1);
      int rc = vigil__filter_add(f1, pat, base);
      int rc2 = vigil__filter_add(f2, pat, base);
      size_t after = vigil__filter_count(f1);
      if (rc != rc2 || after < before || after > before + 1 || (rc < 0 && after != before))
        abort();
      free(pat);
    } else {
      /* Exactly n bytes: reading one more is a heap overflow. */
      char *p = malloc(n ? n : 1);
      if (!p)
        abort();
      memcpy(p, s, n);
      int r = vigil__filter_excluded(f1, p, n, dir);
      if ((r != 0 && r != 1) || vigil__filter_excluded(f1, p, n, dir) != r ||
          vigil__filter_excluded(f2, p, n, dir) != r)
        abort();
      if (well_formed(s, n))
        literal_oracle(s, n, dir);
      free(p);
      dir = !dir;
    }
    line++;
    if (!nl)
      break;
    off += n + 1;
  }
  vigil__filter_free(f1);
  vigil__filter_free(f2);
  return 0;
}
