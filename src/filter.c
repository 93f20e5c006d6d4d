/*
 * gitignore(5) matching for the exclude filter (see filter.h).
 *
 * A pattern is compiled once, when it is added, into one of a few shapes:
 *
 *  - A pattern without a slash is matched against the last component of
 *    the path only. If it has no glob character it is a plain comparison;
 *    "*literal" and "literal*" compare the end or the start; anything else
 *    is a glob over that one component.
 *  - A pattern with a slash is matched against the whole path below its
 *    base. A pattern without glob characters is one comparison. Otherwise
 *    its literal head (up to the first of "*?[\") is compared first, and
 *    the rest is split at '/' into components, each a glob over one path
 *    component or a "**" that stands for any number of components.
 *
 * Because '*', '?' and classes never match '/', a component of a pattern
 * always matches exactly one component of the path, and only "**" spans
 * several. That makes the whole-path match a sequence of fixed-length runs
 * of components separated by gaps of any length, which a left-to-right
 * search that places each run as early as possible decides without ever
 * backtracking over a run already placed. Within a component, the usual
 * glob loop that only ever resumes the most recent '*' bounds the work by
 * the product of the two lengths, so no pattern can make matching
 * exponential.
 *
 * The split into a literal head and the rest is not just a speed-up: git
 * does the same, and it decides whether "**" is special by looking at the
 * character before it in the rest only. So when "x/ab**" goes on with "/c",
 * git lets the stars span directories (the pattern matches "x/abz/y/c" and
 * even "x/abc"), though the manual page says that such stars are ordinary.
 * Doing the same keeps vigil and `git check-ignore` in agreement.
 */
#include "filter.h"

#include "fault.h"
#include "vigil.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Glob operations, one uint16_t each. Values below 256 are literal bytes.
 * Stars are collapsed, so a run of them inside a component is one OP_STAR.
 */
enum {
  OP_ANY = 256,  /* '?': any one byte */
  OP_STAR = 257, /* '*': any run of bytes within the component */
  OP_CLASS = 258 /* OP_CLASS + i: the byte is in class bitmap i of the rule */
};

/*
 * Longest pattern accepted. It keeps op values, class numbers and
 * per-component op counts within 16 bits; no real pattern comes near it.
 */
#define MAX_PATTERN 65535u

/* How a rule compares, chosen when it is compiled. */
enum {
  HOW_LITERAL, /* the whole subject equals lit */
  HOW_SUFFIX,  /* the subject ends with lit ("*.o") */
  HOW_PREFIX,  /* the subject starts with lit (".#*") */
  HOW_GLOB     /* lit is a literal head, then comps are matched */
};

/* One component of a compiled glob. */
typedef struct {
  uint32_t off;     /* first op in the rule's ops */
  uint16_t n;       /* number of ops; 0 for a globstar */
  uint8_t globstar; /* a "**" component, matching whole path components */
  uint8_t min;      /* globstar: fewest path components it may stand for */
} comp;

/*
 * A compiled rule. The rules sit side by side in one array, so the scan
 * over them touches no other memory until a rule's quick checks pass.
 */
typedef struct {
  uint8_t negate;   /* a "!" rule: a match includes the path */
  uint8_t dir_only; /* the pattern had a trailing '/' */
  uint8_t anchored; /* matched against the path below base, else the basename */
  uint8_t how;      /* HOW_* */
  uint8_t exact;    /* basename rules: the name is exactly min_len bytes long */
  uint32_t min_len; /* basename rules: the fewest bytes a matching name has */
  uint32_t base_len;
  uint32_t lit_len;
  uint32_t ncomps;
  uint32_t first_gs; /* index of the first globstar component, or ncomps */
  uint32_t last_gs;  /* index of the last globstar component, or ncomps */
  const char *base;  /* not NUL-terminated */
  const char *lit;   /* not NUL-terminated */
  const comp *comps;
  const uint16_t *ops;
  const uint8_t (*cls)[32]; /* class bitmaps, bit c set if byte c is in the class */
  void *mem;                /* the one allocation that all the pointers above point into */
} rule;

/* A rule's arrays are carved from its allocation in this order. */
_Static_assert(sizeof(comp) % _Alignof(uint16_t) == 0, "ops must follow the comps aligned");

struct vigil__filter {
  rule *rules; /* oldest first */
  size_t n, cap;
};

/* ---- Parsing ------------------------------------------------------------ */

/*
 * Returns the length of the pattern without its trailing spaces, the way git
 * trims them: a space escaped with a backslash stays (with the backslash,
 * which the matcher then reads as an escape), and a pattern that ends in a
 * lone backslash is left whole.
 */
static size_t trim_trailing_spaces(const char *p, size_t len) {
  size_t cut = len; /* start of the trailing run of spaces, len for none */
  for (size_t i = 0; i < len; i++) {
    if (p[i] == ' ') {
      if (cut == len)
        cut = i;
    } else if (p[i] == '\\') {
      if (++i == len)
        return len;
      cut = len;
    } else {
      cut = len;
    }
  }
  return cut;
}

static int is_glob_char(char c) {
  return c == '*' || c == '?' || c == '[' || c == '\\';
}

/*
 * Checks whether p has no glob character other than escapes. Returns 1 and
 * (if out is not NULL) writes the unescaped bytes to out and their count to
 * *outlen; returns 0 if there is a '*', '?' or '[' outside an escape, and
 * -1 if the pattern ends in a lone backslash.
 */
static int unescape(const char *p, size_t len, char *out, size_t *outlen) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = p[i];
    if (c == '*' || c == '?' || c == '[')
      return 0;
    if (c == '\\') {
      if (++i == len)
        return -1;
      c = p[i];
    }
    if (out)
      out[o] = c;
    o++;
  }
  if (outlen)
    *outlen = o;
  return 1;
}

static void set_bit(uint8_t map[32], unsigned c) {
  map[c >> 3] |= (uint8_t)(1u << (c & 7));
}

/*
 * The POSIX classes as git defines them: ASCII only and independent of the
 * locale. Each is a list of inclusive byte ranges, two bytes per range.
 * Git's [:space:] has no \v or \f, unlike the C library's.
 */
static const struct {
  const char *name;
  const char *ranges;
} posix_classes[] = {
    {"alnum", "09AZaz"},   {"alpha", "AZaz"},
    {"blank", "\t\t  "},   {"cntrl", "\x01\x1f\x7f\x7f"},
    {"digit", "09"},       {"graph", "!~"},
    {"lower", "az"},       {"print", " ~"},
    {"punct", "!/:@[`{~"}, {"space", "\t\n\r\r  "},
    {"upper", "AZ"},       {"xdigit", "09AFaf"},
};

/* Adds the named class to map; returns 0 if there is no such class. */
static int posix_class(const char *name, size_t len, uint8_t map[32]) {
  for (size_t k = 0; k < sizeof posix_classes / sizeof posix_classes[0]; k++) {
    if (strlen(posix_classes[k].name) != len || memcmp(posix_classes[k].name, name, len) != 0)
      continue;
    for (const char *r = posix_classes[k].ranges; *r; r += 2)
      for (unsigned c = (unsigned char)r[0]; c <= (unsigned char)r[1]; c++)
        set_bit(map, c);
    return 1;
  }
  return 0;
}

/*
 * Parses the class whose '[' is at p[*pi] into a bitmap and moves *pi past
 * its ']'. Returns 0, or -1 if the class is unterminated or names an unknown
 * "[:class:]". The rules are git's: a ']' right after the '[' (or after its
 * '!' or '^') is literal, '-' between two single characters is a range and
 * literal elsewhere, a backslash escapes inside the class too, and "[:"
 * without a matching ":]" is a literal '['.
 */
static int parse_class(const char *p, size_t len, size_t *pi, uint8_t map[32]) {
  size_t i = *pi + 1;
  int negated = 0;
  if (i < len && (p[i] == '!' || p[i] == '^')) {
    negated = 1;
    i++;
  }
  memset(map, 0, 32);
  unsigned prev = 0; /* the last single character, 0 where a range cannot start */
  for (int first = 1;; first = 0) {
    if (i >= len)
      return -1;
    unsigned c = (unsigned char)p[i];
    if (c == ']' && !first)
      break;
    if (c == '\\') {
      if (++i >= len)
        return -1;
      c = (unsigned char)p[i];
      set_bit(map, c);
      prev = c;
    } else if (c == '-' && prev && i + 1 < len && p[i + 1] != ']') {
      unsigned hi = (unsigned char)p[++i];
      if (hi == '\\') {
        if (++i >= len)
          return -1;
        hi = (unsigned char)p[i];
      }
      for (unsigned x = prev; x <= hi; x++)
        set_bit(map, x);
      prev = 0;
    } else if (c == '[' && i + 1 < len && p[i + 1] == ':') {
      size_t s = i + 2, j = s;
      while (j < len && p[j] != ']')
        j++;
      if (j == len)
        return -1;
      if (j == s || p[j - 1] != ':') {
        set_bit(map, '[');
        prev = '[';
      } else {
        if (!posix_class(p + s, j - s - 1, map))
          return -1;
        prev = 0;
        i = j;
      }
    } else {
      set_bit(map, c);
      prev = c;
    }
    i++;
  }
  if (negated)
    for (size_t k = 0; k < 32; k++)
      map[k] = (uint8_t)~map[k];
  /* A class never matches '/' in git; clearing it keeps that visible. */
  map['/' >> 3] &= (uint8_t) ~(1u << ('/' & 7));
  *pi = i + 1;
  return 0;
}

/* Compiler output. With ops, comps and cls NULL it only counts. */
typedef struct {
  uint16_t *ops;
  comp *comps;
  uint8_t (*cls)[32];
  size_t nops, ncomps, ncls;
} globbuf;

static void put_op(globbuf *g, unsigned op) {
  if (g->ops)
    g->ops[g->nops] = (uint16_t)op;
  g->nops++;
}

/*
 * Compiles a glob into ops and components. With split, '/' (escaped or not)
 * ends a component, and a component that is nothing but a run of two or
 * more stars becomes a globstar. A globstar matches zero or more whole
 * components, except that one at the very end needs at least one (git's
 * "abc/" followed by "**" does not match "abc") and so does one followed by
 * an escaped slash (git only lets "**" match nothing when a plain '/'
 * follows it).
 * Returns 0, or -1 for a malformed pattern.
 */
static int compile(const char *p, size_t len, int split, globbuf *g) {
  size_t i = 0, comp_op = 0;
  int lone_stars = 0; /* the component so far is one run of two or more stars */
  for (;;) {
    int end = i >= len, sep = 0, esc_sep = 0;
    if (!end && split) {
      sep = p[i] == '/';
      esc_sep = p[i] == '\\' && i + 1 < len && p[i + 1] == '/';
    }
    if (end || sep || esc_sep) {
      comp c = {.off = (uint32_t)comp_op, .n = (uint16_t)(g->nops - comp_op)};
      if (split && lone_stars && g->nops - comp_op == 1) {
        g->nops = comp_op;
        c.n = 0;
        c.globstar = 1;
        c.min = end || esc_sep;
      }
      if (g->comps)
        g->comps[g->ncomps] = c;
      g->ncomps++;
      if (end)
        return 0;
      i += esc_sep ? 2 : 1;
      comp_op = g->nops;
      lone_stars = 0;
      continue;
    }
    unsigned char ch = (unsigned char)p[i];
    if (ch == '*') {
      size_t j = i;
      while (j < len && p[j] == '*')
        j++;
      lone_stars = g->nops == comp_op && j - i >= 2;
      put_op(g, OP_STAR);
      i = j;
      continue;
    }
    lone_stars = 0;
    if (ch == '?') {
      put_op(g, OP_ANY);
      i++;
    } else if (ch == '[') {
      uint8_t map[32];
      if (parse_class(p, len, &i, map) < 0)
        return -1;
      if (g->cls)
        memcpy(g->cls[g->ncls], map, sizeof map);
      put_op(g, OP_CLASS + (unsigned)g->ncls);
      g->ncls++;
    } else if (ch == '\\') {
      if (i + 1 >= len)
        return -1;
      put_op(g, (unsigned char)p[i + 1]);
      i += 2;
    } else {
      put_op(g, ch);
      i++;
    }
  }
}

/* ---- Matching ----------------------------------------------------------- */

static int op_match(const rule *r, unsigned op, unsigned char c) {
  if (op < 256)
    return op == c;
  if (op == OP_ANY)
    return 1;
  const uint8_t *map = r->cls[op - OP_CLASS];
  return (map[c >> 3] >> (c & 7)) & 1;
}

/*
 * Matches the ops of one component against s[0..n), which has no '/'. On a
 * mismatch only the most recent star is given one more byte: any earlier
 * star could only shift the text that the later one sees, and the later one
 * already tried every shift, so the loop stays within nop * n steps.
 */
static int glob_comp(const rule *r, const uint16_t *op, size_t nop, const unsigned char *s,
                     size_t n) {
  /*
   * A pattern that does not end in a star must match the last byte with its
   * last op, whatever the stars before do; checking that first turns most
   * mismatches ("*.py[cod]" against "main.c") into a single test.
   */
  if (nop > 0 && op[nop - 1] != OP_STAR && (n == 0 || !op_match(r, op[nop - 1], s[n - 1])))
    return 0;
  size_t pi = 0, si = 0;
  size_t star_pi = SIZE_MAX, star_si = 0; /* the op after the last star, and its text */
  while (si < n) {
    if (pi < nop) {
      if (op[pi] == OP_STAR) {
        star_pi = ++pi;
        star_si = si;
        continue;
      }
      if (op_match(r, op[pi], s[si])) {
        pi++;
        si++;
        continue;
      }
    }
    if (star_pi == SIZE_MAX)
      return 0;
    pi = star_pi;
    si = ++star_si;
  }
  while (pi < nop && op[pi] == OP_STAR)
    pi++;
  return pi == nop;
}

/*
 * Positions in a path are byte offsets of component starts; n + 1 stands
 * for "after the last component".
 */

/* Matches k pattern components at *pos, moving *pos past them. */
static int run_at(const rule *r, const comp *c, size_t k, const char *t, size_t n, size_t *pos) {
  size_t p = *pos;
  for (size_t i = 0; i < k; i++) {
    if (p > n)
      return 0;
    const char *slash = memchr(t + p, '/', n - p);
    size_t e = slash ? (size_t)(slash - t) : n;
    if (!glob_comp(r, r->ops + c[i].off, c[i].n, (const unsigned char *)t + p, e - p))
      return 0;
    p = e + 1;
  }
  *pos = p;
  return 1;
}

/*
 * Places k pattern components at the earliest position from *pos where they
 * match. The earliest place is always the best one: the components match a
 * fixed number of path components, so a later place only leaves less room
 * for what follows.
 */
static int run_find(const rule *r, const comp *c, size_t k, const char *t, size_t n, size_t *pos) {
  size_t p = *pos;
  while (p <= n) {
    size_t q = p;
    if (run_at(r, c, k, t, n, &q)) {
      *pos = q;
      return 1;
    }
    const char *slash = memchr(t + p, '/', n - p);
    if (!slash)
      return 0;
    p = (size_t)(slash - t) + 1;
  }
  return 0;
}

/* Skips k path components; fails if there are fewer. */
static int skip_comps(const char *t, size_t n, size_t *pos, size_t k) {
  size_t p = *pos;
  while (k--) {
    if (p > n)
      return 0;
    const char *slash = memchr(t + p, '/', n - p);
    p = slash ? (size_t)(slash - t) + 1 : n + 1;
  }
  *pos = p;
  return 1;
}

/* The start of the last k path components, or SIZE_MAX if there are fewer. */
static size_t tail_start(const char *t, size_t n, size_t k) {
  size_t e = n + 1;
  while (k--) {
    if (e == 0)
      return SIZE_MAX;
    size_t s = e - 1;
    while (s > 0 && t[s - 1] != '/')
      s--;
    e = s;
  }
  return e;
}

/*
 * Matches the components of an anchored glob against t[0..n). Without a
 * globstar, component i matches path component i and the counts agree.
 * With globstars the pattern is head, gaps and runs, tail: the head is
 * fixed at the start and the tail at the end, and each run between
 * globstars goes to its earliest place after the minimum gap.
 */
static int comps_match(const rule *r, const char *t, size_t n) {
  const comp *c = r->comps;
  size_t nc = r->ncomps, pos = 0;
  if (r->first_gs == nc)
    return run_at(r, c, nc, t, n, &pos) && pos == n + 1;
  size_t i = r->first_gs, last = r->last_gs, gap = 0;
  if (!run_at(r, c, i, t, n, &pos))
    return 0;
  while (i <= last) {
    if (c[i].globstar) {
      gap += c[i].min;
      i++;
      continue;
    }
    size_t j = i + 1;
    while (!c[j].globstar)
      j++;
    if (!skip_comps(t, n, &pos, gap) || !run_find(r, c + i, j - i, t, n, &pos))
      return 0;
    gap = 0;
    i = j;
  }
  if (!skip_comps(t, n, &pos, gap))
    return 0;
  size_t tail = nc - last - 1;
  if (tail == 0)
    return 1;
  size_t e = tail_start(t, n, tail);
  if (e == SIZE_MAX || e < pos)
    return 0;
  return run_at(r, c + last + 1, tail, t, n, &e);
}

/* Whether path lies strictly below the rule's base directory. */
static int below_base(const rule *r, const char *path, size_t len) {
  size_t b = r->base_len;
  return b == 0 || (len > b + 1 && path[b] == '/' && memcmp(path, r->base, b) == 0);
}

static int rule_match(const rule *r, const char *path, size_t len, const char *name, size_t nlen) {
  size_t ll = r->lit_len;
  if (!r->anchored) {
    /*
     * The name is checked first, length and then a single byte before any
     * call: together they reject almost every name at once.
     */
    if (nlen < r->min_len || (r->exact && nlen != r->min_len))
      return 0;
    switch (r->how) {
    case HOW_LITERAL:
    case HOW_PREFIX:
      if (ll > 0 && (name[0] != r->lit[0] || memcmp(name, r->lit, ll) != 0))
        return 0;
      break;
    case HOW_SUFFIX:
      if (ll > 0 && (name[nlen - 1] != r->lit[ll - 1] || memcmp(name + nlen - ll, r->lit, ll) != 0))
        return 0;
      break;
    default:
      if (!glob_comp(r, r->ops, r->comps[0].n, (const unsigned char *)name, nlen))
        return 0;
      break;
    }
    return below_base(r, path, len);
  }
  if (!below_base(r, path, len))
    return 0;
  size_t skip = r->base_len ? r->base_len + 1 : 0;
  const char *rest = path + skip;
  size_t rlen = len - skip;
  if (r->how == HOW_LITERAL)
    return rlen == ll && memcmp(rest, r->lit, ll) == 0;
  if (rlen < ll || memcmp(rest, r->lit, ll) != 0)
    return 0;
  return comps_match(r, rest + ll, rlen - ll);
}

/* ---- Public ------------------------------------------------------------- */

vigil__filter *vigil__filter_new(void) {
  return vigil__calloc(1, sizeof(vigil__filter));
}

void vigil__filter_free(vigil__filter *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->n; i++)
    free(f->rules[i].mem);
  free(f->rules);
  free(f);
}

size_t vigil__filter_count(const vigil__filter *f) {
  return f ? f->n : 0;
}

/*
 * Builds a rule from a pattern that has lost its "!" and trailing '/' (and,
 * if anchored, its leading '/'). Returns 0, -ENOMEM or VIGIL_EPATTERN.
 */
static int make_rule(rule *r, const char *p, size_t len, int anchored, const char *base,
                     size_t base_len) {
  int how = HOW_GLOB;
  const char *lit = p; /* the bytes of lit, escaped as in the pattern */
  size_t lit_src = 0;  /* their length in the pattern */
  size_t lit_len = 0;  /* their length once unescaped */
  int split = 0;
  int lit_kind = unescape(p, len, NULL, &lit_len);
  if (lit_kind < 0)
    return VIGIL_EPATTERN;
  if (lit_kind == 1) {
    how = HOW_LITERAL;
    lit_src = len;
  } else if (!anchored && p[0] == '*' && unescape(p + 1, len - 1, NULL, &lit_len) == 1) {
    how = HOW_SUFFIX;
    lit = p + 1;
    lit_src = len - 1;
  } else if (!anchored && p[len - 1] == '*' && unescape(p, len - 1, NULL, &lit_len) == 1) {
    how = HOW_PREFIX;
    lit_src = len - 1;
  } else if (anchored) {
    /*
     * Git compares the head up to the first glob character as it stands,
     * and matches the rest as a pattern of its own (see the top of the file).
     */
    while (lit_src < len && !is_glob_char(p[lit_src]))
      lit_src++;
    lit_len = lit_src;
    split = 1;
  }

  globbuf g = {0};
  if (how == HOW_GLOB && compile(p + lit_src, len - lit_src, split, &g) < 0)
    return VIGIL_EPATTERN;

  /*
   * One op more than counted: the star of a globstar is written before the
   * end of its component shows that it is one, and then taken back. It also
   * keeps the size above zero.
   */
  size_t nops = g.nops + 1;
  size_t size =
      g.ncomps * sizeof(comp) + nops * sizeof(uint16_t) + g.ncls * 32 + base_len + lit_len;
  char *mem = vigil__malloc(size);
  if (!mem)
    return -ENOMEM;
  memset(r, 0, sizeof *r);
  r->mem = mem;
  g.comps = (comp *)(void *)mem;
  mem += g.ncomps * sizeof(comp);
  g.ops = (uint16_t *)(void *)mem;
  mem += nops * sizeof(uint16_t);
  g.cls = (uint8_t(*)[32])mem;
  mem += g.ncls * 32;
  char *base_copy = mem;
  memcpy(base_copy, base, base_len);
  mem += base_len;
  char *lit_copy = mem;
  unescape(lit, lit_src, lit_copy, NULL);

  if (how == HOW_GLOB) {
    g.nops = g.ncomps = g.ncls = 0;
    compile(p + lit_src, len - lit_src, split, &g);
  }
  r->anchored = (uint8_t)anchored;
  r->how = (uint8_t)how;
  r->min_len = (uint32_t)lit_len;
  r->exact = how == HOW_LITERAL;
  if (how == HOW_GLOB && !anchored) {
    /* Every op but a star takes exactly one byte. */
    size_t stars = 0;
    for (size_t i = 0; i < g.nops; i++)
      stars += g.ops[i] == OP_STAR;
    r->min_len = (uint32_t)(g.nops - stars);
    r->exact = stars == 0;
  }
  r->base_len = (uint32_t)base_len;
  r->lit_len = (uint32_t)lit_len;
  r->ncomps = (uint32_t)g.ncomps;
  r->first_gs = r->last_gs = (uint32_t)g.ncomps;
  for (size_t i = 0; i < g.ncomps; i++) {
    if (g.comps[i].globstar) {
      if (r->first_gs == g.ncomps)
        r->first_gs = (uint32_t)i;
      r->last_gs = (uint32_t)i;
    }
  }
  r->base = base_copy;
  r->lit = lit_copy;
  r->comps = g.comps;
  r->ops = g.ops;
  r->cls = (const uint8_t(*)[32])g.cls;
  return 0;
}

int vigil__filter_add(vigil__filter *f, const char *line, const char *base) {
  if (!f)
    return -EINVAL;
  if (!line)
    return VIGIL_EPATTERN;
  size_t len = strlen(line);
  /* Git drops the "\n" and a "\r" before it when it splits a file into lines. */
  if (len > 0 && line[len - 1] == '\n')
    len--;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (memchr(line, '\n', len))
    return VIGIL_EPATTERN;
  /* A comment is a '#' in the first column only; " #x" is a pattern. */
  if (len == 0 || line[0] == '#')
    return 0;
  len = trim_trailing_spaces(line, len);
  if (len == 0)
    return 0;

  const char *p = line;
  int negate = p[0] == '!';
  if (negate) {
    p++;
    len--;
  }
  int dir_only = len > 0 && p[len - 1] == '/';
  if (dir_only)
    len--;
  /* Any slash anchors, even an escaped one or one in a class, as in git. */
  int anchored = len > 0 && memchr(p, '/', len) != NULL;
  if (anchored && p[0] == '/') {
    p++;
    len--;
  }
  if (len == 0 || len > MAX_PATTERN)
    return VIGIL_EPATTERN;

  if (!base)
    base = "";
  size_t base_len = strlen(base);
  while (base_len > 0 && base[0] == '/') {
    base++;
    base_len--;
  }
  while (base_len > 0 && base[base_len - 1] == '/')
    base_len--;
  if (base_len > UINT32_MAX / 2)
    return VIGIL_EPATTERN;

  if (f->n == f->cap) {
    size_t ncap = f->cap ? f->cap * 2 : 16;
    rule *nr = vigil__realloc(f->rules, ncap * sizeof *nr);
    if (!nr)
      return -ENOMEM;
    f->rules = nr;
    f->cap = ncap;
  }
  rule *r = &f->rules[f->n];
  int err = make_rule(r, p, len, anchored, base, base_len);
  if (err < 0)
    return err;
  r->negate = (uint8_t)negate;
  r->dir_only = (uint8_t)dir_only;
  f->n++;
  return 0;
}

int vigil__filter_excluded(const vigil__filter *f, const char *relpath, size_t len, int is_dir) {
  return vigil__filter_match(f, relpath, len, is_dir) == 1;
}

int vigil__filter_match(const vigil__filter *f, const char *relpath, size_t len, int is_dir) {
  if (!f || !relpath || len == 0)
    return -1;
  size_t b = len;
  while (b > 0 && relpath[b - 1] != '/')
    b--;
  const char *name = relpath + b;
  size_t nlen = len - b;
  for (size_t i = f->n; i-- > 0;) {
    const rule *r = &f->rules[i];
    if (r->dir_only && !is_dir)
      continue;
    if (rule_match(r, relpath, len, name, nlen))
      return !r->negate;
  }
  return -1;
}
