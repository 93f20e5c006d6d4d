/*
 * vigil run: git's ignore files that the library does not read itself.
 *
 * The library reads each watched directory's own .gitignore
 * (vigil_options.ignore_file), so what is left for the tool are the files
 * that live above or outside the watched path: the .gitignore files of
 * the directories between the top of the repository and the watched path,
 * .git/info/exclude, and the global excludes file (core.excludesFile, by
 * default $XDG_CONFIG_HOME/git/ignore). Their patterns are written for
 * another directory than the watched path, so they are translated into
 * patterns relative to it before they become the path's base patterns
 * (vigil_root_options.base_exclude), which rank below the .gitignore
 * files inside it, as git ranks them.
 *
 * Translation. A pattern without a slash (other than a trailing one)
 * matches a name at any depth, so it means the same anywhere below and is
 * kept as it is. An anchored pattern, such as "/build" or "src/gen/x.o",
 * is matched segment by segment against the path from its directory down
 * to the watched path ("src" for a watched "src" below the top): what is
 * left of the pattern when the whole path has been matched is the
 * pattern relative to the watched path ("/gen/x.o"). A "**" segment may
 * match any number of those directories, so it can give several patterns.
 * What matches the watched path itself or a directory above it is not
 * kept: the user named that path, so it is watched.
 */
#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* git reads ignore files of any size; vigil stops at a generous size. */
#define IGNORE_FILE_MAX (1024 * 1024)
/* More segments than any real pattern has; it bounds the "**" search. */
#define SEGMENTS_MAX 64

int run_strv_push(run_strv *s, const char *str, size_t len) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **v = realloc(s->v, cap * sizeof *v);
    if (!v)
      return -ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy)
    return -ENOMEM;
  memcpy(copy, str, len);
  copy[len] = '\0';
  s->v[s->n++] = copy;
  return 0;
}

void run_strv_free(run_strv *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof *s);
}

/* -- translation ------------------------------------------------------------ */

typedef struct {
  const char *p;
  size_t len;
} span;

/* Splits s[0..len) at '/' into at most max non-empty spans; -1 if more. */
static int split(const char *s, size_t len, span *out, int max) {
  int n = 0;
  size_t i = 0;
  while (i < len) {
    while (i < len && s[i] == '/')
      i++;
    size_t start = i;
    while (i < len && s[i] != '/')
      i++;
    if (i > start) {
      if (n == max)
        return -1;
      out[n++] = (span){s + start, i - start};
    }
  }
  return n;
}

static int is_globstar(span s) {
  return s.len == 2 && s.p[0] == '*' && s.p[1] == '*';
}

/* One pattern segment against one directory name, as git's wildmatch does it. */
static int segment_matches(span pat, span name) {
  char p[NAME_MAX + 1], n[NAME_MAX + 1];
  if (pat.len > NAME_MAX || name.len > NAME_MAX)
    return 0;
  memcpy(p, pat.p, pat.len);
  p[pat.len] = '\0';
  memcpy(n, name.p, name.len);
  n[name.len] = '\0';
  /* No FNM_PERIOD: in gitignore, "*" matches a leading dot too. */
  return fnmatch(p, n, 0) == 0;
}

typedef struct {
  const span *seg;
  int nseg;
  const span *sub;
  int nsub;
  int neg, dir_only;
  run_strv *out;
  size_t first; /* out->n when this pattern began: for removing duplicates */
  int err;
} translation;

/* What is left of the pattern from segment i on, relative to the root. */
static void emit(translation *t, int i) {
  char buf[PATH_MAX + 4];
  size_t len = 0;
  if (t->neg)
    buf[len++] = '!';
  for (int k = i; k < t->nseg; k++) {
    if (len + 1 + t->seg[k].len + 2 > sizeof buf)
      return;
    buf[len++] = '/';
    memcpy(buf + len, t->seg[k].p, t->seg[k].len);
    len += t->seg[k].len;
  }
  if (t->dir_only)
    buf[len++] = '/';
  buf[len] = '\0';
  for (size_t k = t->first; k < t->out->n; k++)
    if (strcmp(t->out->v[k], buf) == 0)
      return;
  if (run_strv_push(t->out, buf, len) < 0)
    t->err = -ENOMEM;
}

/* Pattern segments from i, against the root's path components from j. */
static void walk(translation *t, int i, int j) {
  if (t->err)
    return;
  if (j == t->nsub) {
    if (i < t->nseg)
      emit(t, i);
    return; /* otherwise it matched the root itself */
  }
  if (i == t->nseg)
    return; /* it matched a directory above the root */
  if (is_globstar(t->seg[i])) {
    walk(t, i + 1, j); /* "**" as no directory at all */
    walk(t, i, j + 1); /* "**" taking this directory, and maybe more */
    return;
  }
  if (segment_matches(t->seg[i], t->sub[j]))
    walk(t, i + 1, j + 1);
}

int run_ignore_translate(const char *line, const char *sub, run_strv *out) {
  size_t len = strlen(line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  /* Trailing spaces are not part of a pattern unless escaped. */
  while (len > 0 && line[len - 1] == ' ' && !(len >= 2 && line[len - 2] == '\\'))
    len--;
  if (len == 0 || line[0] == '#')
    return 0;
  if (!sub || !*sub)
    return run_strv_push(out, line, len);

  int neg = line[0] == '!';
  const char *p = line + neg;
  size_t plen = len - (size_t)neg;
  int dir_only = plen > 0 && p[plen - 1] == '/';
  if (dir_only)
    plen--;
  if (!memchr(p, '/', plen))
    return run_strv_push(out, line, len); /* a name: the same at any depth */

  span seg[SEGMENTS_MAX], subs[SEGMENTS_MAX];
  int nseg = split(p, plen, seg, SEGMENTS_MAX);
  int nsub = split(sub, strlen(sub), subs, SEGMENTS_MAX);
  if (nseg <= 0 || nsub < 0)
    return 0;
  translation t = {.seg = seg,
                   .nseg = nseg,
                   .sub = subs,
                   .nsub = nsub,
                   .neg = neg,
                   .dir_only = dir_only,
                   .out = out,
                   .first = out->n};
  walk(&t, 0, 0);
  return t.err;
}

/* -- reading files ------------------------------------------------------------ */

/* The whole of a small regular file, NUL-terminated; NULL if unreadable. */
static char *read_small_file(const char *path, size_t *lenp) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return NULL;
  struct stat st;
  char *text = NULL;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > IGNORE_FILE_MAX)
    goto out;
  text = malloc((size_t)st.st_size + 1);
  if (!text)
    goto out;
  size_t len = 0;
  while (len < (size_t)st.st_size) {
    ssize_t got = read(fd, text + len, (size_t)st.st_size - len);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    len += (size_t)got;
  }
  text[len] = '\0';
  if (lenp)
    *lenp = len;
out:
  close(fd);
  return text;
}

/* Translates every line of an ignore file written for a directory at D/sub. */
static int add_file(const char *path, const char *sub, run_strv *out) {
  size_t len;
  char *text = read_small_file(path, &len);
  if (!text)
    return 0;
  char *line = text;
  if (len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
    line += 3;
  int rc = 0;
  while (rc == 0 && line < text + len) {
    char *nl = memchr(line, '\n', (size_t)(text + len - line));
    if (nl)
      *nl = '\0';
    /* A NUL inside a line would cut it short; git would not match it either. */
    rc = run_ignore_translate(line, sub, out);
    if (!nl)
      break;
    line = nl + 1;
  }
  free(text);
  return rc;
}

/* -- git's configuration ---------------------------------------------------- */

/* Joins a and b with one '/'; NULL if it does not fit in PATH_MAX. */
static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 1 && a[la - 1] == '/')
    la--;
  if (la + 1 + lb + 1 > PATH_MAX)
    return NULL;
  char *s = malloc(la + 1 + lb + 1);
  if (!s)
    return NULL;
  memcpy(s, a, la);
  s[la] = '/';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

static const char *xdg_config_home(char *buf, size_t size) {
  const char *x = getenv("XDG_CONFIG_HOME");
  if (x && *x)
    return x;
  const char *home = getenv("HOME");
  if (!home || !*home)
    return NULL;
  if ((size_t)snprintf(buf, size, "%s/.config", home) >= size)
    return NULL;
  return buf;
}

/*
 * The value of a git configuration line's "= value" part: quotes removed,
 * the escapes \" \\ \t \n decoded, a comment (# or ;) outside quotes cut
 * off, and the spaces around it trimmed.
 */
static void config_value(const char *s, char *out, size_t size) {
  size_t n = 0, keep = 0;
  int quoted = 0;
  while (isspace((unsigned char)*s))
    s++;
  for (; *s && *s != '\n' && n + 1 < size; s++) {
    char c = *s;
    if (c == '"') {
      quoted = !quoted;
      keep = n;
      continue;
    }
    if (!quoted && (c == '#' || c == ';'))
      break;
    if (c == '\\' && s[1]) {
      s++;
      c = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      out[n++] = c;
      keep = n;
      continue;
    }
    out[n++] = c;
    if (quoted || !isspace((unsigned char)c))
      keep = n;
  }
  out[keep] = '\0';
}

/* Sets value to core.excludesFile if the file at path sets it. */
static void config_excludes_file(const char *path, char *value, size_t size) {
  char *text = read_small_file(path, NULL);
  if (!text)
    return;
  int in_core = 0;
  for (char *line = text; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char *s = line;
    while (isspace((unsigned char)*s))
      s++;
    if (*s == '[') {
      s++;
      size_t n = strcspn(s, "] \t\"");
      in_core = n == 4 && strncasecmp(s, "core", 4) == 0 && s[n] == ']';
    } else if (in_core && strncasecmp(s, "excludesfile", 12) == 0) {
      s += 12;
      while (*s == ' ' || *s == '\t')
        s++;
      if (*s == '=')
        config_value(s + 1, value, size);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
}

/*
 * The global excludes file: core.excludesFile from the user's
 * configuration (the later file wins, as in git), then the repository's,
 * or else $XDG_CONFIG_HOME/git/ignore. NULL if there is none to read.
 */
static char *global_excludes_path(const char *common_dir) {
  char xdg_buf[PATH_MAX], value[PATH_MAX] = "", path[PATH_MAX];
  const char *xdg = xdg_config_home(xdg_buf, sizeof xdg_buf);
  const char *home = getenv("HOME");
  if (xdg && (size_t)snprintf(path, sizeof path, "%s/git/config", xdg) < sizeof path)
    config_excludes_file(path, value, sizeof value);
  if (home && *home && (size_t)snprintf(path, sizeof path, "%s/.gitconfig", home) < sizeof path)
    config_excludes_file(path, value, sizeof value);
  if (common_dir && (size_t)snprintf(path, sizeof path, "%s/config", common_dir) < sizeof path)
    config_excludes_file(path, value, sizeof value);
  if (value[0] == '~' && value[1] == '/') {
    if (!home || !*home)
      return NULL;
    return join(home, value + 2);
  }
  if (value[0])
    return strdup(value);
  return xdg ? join(xdg, "git/ignore") : NULL;
}

/* -- the repository ------------------------------------------------------------ */

/* The first line of a small file, without its line break; NULL if none. */
static char *first_line(const char *path) {
  char *text = read_small_file(path, NULL);
  if (text)
    text[strcspn(text, "\r\n")] = '\0';
  return text;
}

/* rel taken relative to dir, unless it is absolute. */
static char *resolve(const char *dir, const char *rel) {
  return rel[0] == '/' ? strdup(rel) : join(dir, rel);
}

/*
 * The directory holding the repository's shared files (info/exclude,
 * config) for a work tree at top: top/.git itself, or for a linked work
 * tree or a submodule, where .git is a file saying "gitdir: DIR", that
 * DIR or the common directory it names.
 */
static char *common_dir_of(const char *top) {
  char *dotgit = join(top, ".git");
  if (!dotgit)
    return NULL;
  struct stat st;
  if (stat(dotgit, &st) == 0 && S_ISDIR(st.st_mode))
    return dotgit;
  char *line = first_line(dotgit);
  free(dotgit);
  if (!line || strncmp(line, "gitdir:", 7) != 0) {
    free(line);
    return NULL;
  }
  const char *g = line + 7;
  while (*g == ' ')
    g++;
  char *gitdir = resolve(top, g);
  free(line);
  if (!gitdir)
    return NULL;
  char *cfile = join(gitdir, "commondir");
  char *common = cfile ? first_line(cfile) : NULL;
  free(cfile);
  if (!common || !*common) {
    free(common);
    return gitdir;
  }
  char *dir = resolve(gitdir, common);
  free(common);
  free(gitdir);
  return dir;
}

/* Whether dir holds a .git entry (a directory, or a file naming one). */
static int has_dotgit(const char *dir) {
  char *p = join(dir, ".git");
  struct stat st;
  int yes = p && lstat(p, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
  free(p);
  return yes;
}

int run_ignore_patterns(const char *root, run_strv *out) {
  char real[PATH_MAX];
  struct stat st;
  if (!realpath(root, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
    return 0; /* a file root takes no patterns */

  /* The top of the work tree: the nearest directory, up from root, with .git. */
  char dir[PATH_MAX];
  memcpy(dir, real, strlen(real) + 1);
  int found;
  for (;;) {
    found = has_dotgit(dir);
    if (found || strcmp(dir, "/") == 0)
      break;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
      slash[1] = '\0';
    else
      *slash = '\0';
  }
  if (!found) {
    /* Outside any repository the global file still applies, to root. */
    char *global = global_excludes_path(NULL);
    int rc = global ? add_file(global, "", out) : 0;
    free(global);
    return rc;
  }
  const char *sub = real + strlen(dir);
  while (*sub == '/')
    sub++;

  char *common = common_dir_of(dir);
  char *global = global_excludes_path(common);
  char *info = common ? join(common, "info/exclude") : NULL;
  int rc = 0;
  if (global)
    rc = add_file(global, sub, out);
  if (rc == 0 && info)
    rc = add_file(info, sub, out);
  free(global);
  free(info);
  free(common);

  /* The .gitignore of each directory from the top down to root's parent. */
  const char *rest = sub;
  while (rc == 0 && *rest) {
    char *gi = join(dir, ".gitignore");
    if (gi)
      rc = add_file(gi, rest, out);
    free(gi);
    size_t n = strcspn(rest, "/"), len = strlen(dir);
    if (len > 1)
      dir[len++] = '/';
    memcpy(dir + len, rest, n);
    dir[len + n] = '\0';
    rest += n;
    while (*rest == '/')
      rest++;
  }
  return rc;
}
