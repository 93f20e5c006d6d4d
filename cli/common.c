/*
 * What vigil watch and vigil run share: error lines, writes that a stop
 * can cut short, the options both take, and the ready line.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/time.h>
#endif
#include <time.h>
#include <unistd.h>

void cli_verror(const char *fmt, va_list ap) {
  char line[8192] = "vigil: ";
  size_t pre = strlen(line);
  int n = vsnprintf(line + pre, sizeof line - pre - 1, fmt, ap);
  if (n < 0)
    return;
  size_t len = pre + (size_t)n;
  if (len > sizeof line - 2)
    len = sizeof line - 2;
  line[len++] = '\n';
  /* One write, so the line is never interleaved with a child's output. */
  (void)cli_write_all(2, line, len, NULL);
}

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_verror(fmt, ap);
  va_end(ap);
}

/*
 * The tick is a POSIX timer where there are such (Linux); macOS has none,
 * and gets setitimer there.
 */
#if defined(_POSIX_TIMERS) && _POSIX_TIMERS > 0 && !defined(_WIN32)
#define CLI_POSIX_TIMER 1
#endif

static int (*write_stop)(void);
#ifdef CLI_POSIX_TIMER
static timer_t tick_timer;
#endif
static int tick_ready;

int cli_write_all(int fd, const char *buf, size_t len, size_t *done) {
  size_t total = 0;
  int rc = 0;
  while (total < len) {
    ssize_t w = write(fd, buf + total, len - total);
    if (w < 0 && errno != EINTR) {
      rc = -errno;
      break;
    }
    if (w > 0)
      total += (size_t)w;
    /* Interrupted, before or after writing part of it: a stop may be due. */
    if ((w < 0 || total < len) && write_stop && write_stop()) {
      rc = -ECANCELED;
      break;
    }
  }
  if (done)
    *done = total;
  return rc;
}

#ifdef _WIN32
/*
 * Windows has no signal to interrupt a blocked write with: the stop
 * check runs between writes only, so a reader that reads nothing can hold
 * a stop until it reads or closes (docs/backends.md).
 */
int cli_set_stop_check(int (*stop)(void)) {
  write_stop = stop;
  (void)tick_ready;
  return 0;
}

void cli_tick(int on) {
  (void)on;
}
#else
static void on_tick(int sig) {
  (void)sig;
}

int cli_set_stop_check(int (*stop)(void)) {
  write_stop = stop;
  if (tick_ready || !stop)
    return 0;
  /* No SA_RESTART: the tick is there to make a blocked write return. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_tick;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) < 0)
    return -errno;
#ifdef CLI_POSIX_TIMER
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGALRM;
  if (timer_create(CLOCK_MONOTONIC, &sev, &tick_timer) < 0)
    return -errno;
#endif
  tick_ready = 1;
  return 0;
}

void cli_tick(int on) {
  if (!tick_ready)
    return;
  int saved = errno;
#ifdef CLI_POSIX_TIMER
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (on) {
    its.it_value.tv_nsec = CLI_TICK_MS * 1000000L;
    its.it_interval = its.it_value;
  }
  /* timer_settime is async-signal-safe (POSIX), unlike setitimer. */
  (void)timer_settime(tick_timer, 0, &its, NULL);
#else
  struct itimerval itv;
  memset(&itv, 0, sizeof itv);
  if (on) {
    itv.it_value.tv_usec = CLI_TICK_MS * 1000L;
    itv.it_interval = itv.it_value;
  }
  (void)setitimer(ITIMER_REAL, &itv, NULL);
#endif
  errno = saved;
}
#endif /* _WIN32 */

/* A year is long enough for any grace or debounce, and keeps sums in range. */
#define DURATION_MAX_MS (366LL * 24 * 3600 * 1000)

int run_parse_duration(const char *s, int64_t *ms) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isdigit((unsigned char)s[0]) || !(v >= 0))
    return -1;
  double scale;
  if (strcmp(end, "ms") == 0)
    scale = 1;
  else if (strcmp(end, "s") == 0)
    scale = 1000;
  else if (strcmp(end, "m") == 0)
    scale = 60 * 1000;
  else if (strcmp(end, "h") == 0)
    scale = 3600 * 1000;
  else if (*end == '\0' && v == 0)
    scale = 0; /* "0" needs no unit */
  else
    return -1;
  double total = v * scale;
  if (!(total <= (double)DURATION_MAX_MS))
    return -1;
  *ms = (int64_t)(total + 0.5);
  return 0;
}

unsigned cli_parse_events(const char *list) {
  unsigned mask = 0;
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char name[32];
    if (n == 0 || n >= sizeof name)
      return 0;
    memcpy(name, p, n);
    name[n] = '\0';
    vigil_kind k = vigil_kind_parse(name);
    if (!k)
      return 0;
    mask |= VIGIL_MASK(k);
    p += n;
    if (*p == ',')
      p++;
  }
  return mask;
}

int cli_check_backend(const char *name, char *why, size_t n) {
  if (strcmp(name, "auto") == 0)
    return 0;
  for (size_t i = 0; vigil_backend_name(i); i++)
    if (strcmp(vigil_backend_name(i), name) == 0)
      return 0;
  size_t len =
      (size_t)snprintf(why, n, "--backend: '%s' is not built in; use auto, or one of:", name);
  for (size_t i = 0; vigil_backend_name(i) && len < n; i++)
    len += (size_t)snprintf(why + len, n - len, "%s %s", i ? "," : "", vigil_backend_name(i));
  return -1;
}

/* A sysctl's value ("fs.inotify.max_user_watches"), or -1. */
static long read_sysctl(const char *name) {
  char file[96] = "/proc/sys/";
  size_t n = strlen(file);
  for (const char *c = name; *c && n + 1 < sizeof file; c++)
    file[n++] = *c == '.' ? '/' : *c;
  file[n] = '\0';
  FILE *f = fopen(file, "re");
  if (!f)
    return -1;
  long val = -1;
  if (fscanf(f, "%ld", &val) != 1)
    val = -1;
  fclose(f);
  return val;
}

/*
 * The limit that bit, as vigil_strerror judges it: fs.inotify.* is the
 * initial user namespace's; inside a user namespace (a rootless
 * container) its own user.* counts too, and is the one to raise when it
 * is lower. *cur is its value, or -1.
 */
static const char *limit_that_bit(const char *fs, const char *user, long *cur) {
  long f = read_sysctl(fs), u = read_sysctl(user);
  if (u >= 0 && f >= 0 && u < f) {
    *cur = u;
    return user;
  }
  *cur = f;
  return fs;
}

/* --backend as given, or NULL: which backend an error of vigil_add is about. */
static const char *asked_backend;

void cli_add_error(const char *path, int err, const vigil_t *v) {
  vigil_stats st = {0};
  if (v)
    vigil_get_stats(v, &st, sizeof st);
  if (err == VIGIL_EWATCHLIMIT) {
    long cur;
    const char *name =
        limit_that_bit("fs.inotify.max_user_watches", "user.max_inotify_watches", &cur);
    char now[128] = "";
    if (cur > 0)
      snprintf(now, sizeof now, " (now %ld; e.g. sysctl %s=%ld)", cur, name, cur * 4);
    cli_error("%s: inotify watch limit reached after placing %zu watches for this path: "
              "not a full disk; raise %s%s",
              path, st.add_watches, name, now);
  } else if (err == VIGIL_EINSTLIMIT) {
    long cur;
    const char *name =
        limit_that_bit("fs.inotify.max_user_instances", "user.max_inotify_instances", &cur);
    if (cur >= 0)
      cli_error("inotify instance limit reached (%s is %ld): raise %s", name, cur, name);
    else
      cli_error("inotify instance limit reached: raise %s", name);
#ifdef _WIN32
  } else if (err == -ENOSYS && asked_backend && strcmp(asked_backend, "windows") == 0) {
    /* Only the backend "windows" asked for by name says it: "auto" polls such a root. */
    cli_error("%s: its file system refuses ReadDirectoryChangesW, as some network shares do: "
              "--backend windows cannot watch it; use --backend poll, or auto, which polls it",
              path);
#endif
  } else if (err == -EACCES) {
    cli_error("%s: %s: this user may not read it; give this user read access to it, "
              "or watch it as a user who has",
              path, vigil_strerror(err));
  } else {
    cli_error("%s: %s", path, vigil_strerror(err));
  }
}

void cli_added(vigil_t *v, const char *path, const char *lead) {
  static int told_watches, told_instances, told_missing;
  int why = 0;
  if (vigil_root_fallback(v, path, &why) < 0 || why == 0)
    return;
  const char *fs = NULL, *user = NULL;
  int *told = &told_missing;
  if (why == VIGIL_EWATCHLIMIT) {
    fs = "fs.inotify.max_user_watches", user = "user.max_inotify_watches";
    told = &told_watches;
  } else if (why == VIGIL_EINSTLIMIT) {
    fs = "fs.inotify.max_user_instances", user = "user.max_inotify_instances";
    told = &told_instances;
  }
  /* Once for each cause: the ready line counts what is polled. */
  if (*told)
    return;
  *told = 1;
#ifdef _WIN32
  if (why == -ENOSYS) {
    cli_error("%s%s: its file system refuses ReadDirectoryChangesW, as some network shares do: "
              "polling it instead, which sees every change but later and at the cost of "
              "listing it",
              lead, path);
    return;
  }
#endif
  if (!fs) {
    cli_error("%s%s: %s: polling it instead", lead, path, vigil_strerror(why));
    return;
  }
  long cur;
  const char *name = limit_that_bit(fs, user, &cur);
  char now[128] = "";
  if (cur >= 0)
    snprintf(now, sizeof now, " (now %ld; e.g. sysctl %s=%ld)", cur, name,
             why == VIGIL_EWATCHLIMIT ? (cur > 0 ? cur * 4 : 8192) : (cur > 0 ? cur * 2 : 128));
  cli_error("%s%s: inotify %s limit reached: polling it instead, which sees every change "
            "but later and at the cost of listing it; to use inotify, raise %s%s",
            lead, path, why == VIGIL_EWATCHLIMIT ? "watch" : "instance", name, now);
}

int cli_common_init(cli_common *c, int argc) {
  memset(c, 0, sizeof *c);
  c->exclude = calloc((size_t)argc + 1, sizeof *c->exclude);
  return c->exclude ? 0 : -ENOMEM;
}

void cli_common_free(cli_common *c) {
  free(c->exclude);
  c->exclude = NULL;
}

/* "--events: unknown kind in 'LIST' (kinds: created, ...)", naming those accepted. */
static void events_error(const char *list, unsigned kinds) {
  char names[256] = "";
  size_t len = 0;
  for (int k = 1; k <= VIGIL_KIND_MAX && len < sizeof names; k++)
    if (kinds & VIGIL_MASK(k))
      len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                              vigil_kind_name((vigil_kind)k));
  cli_error("--events: unknown kind in '%s' (kinds: %s)", list, names);
}

int cli_common_option(cli_common *c, int opt, const char *arg, const char *word, const char *cmd,
                      unsigned kinds) {
  switch (opt) {
  case CLI_OPT_EXCLUDE:
    if (vigil_pattern_check(arg) == VIGIL_EPATTERN) {
      cli_error("--exclude: malformed pattern '%s' (gitignore syntax)", arg);
      return -1;
    }
    c->exclude[c->nexclude++] = arg;
    return 0;
  case CLI_OPT_EVENTS:
    c->events = cli_parse_events(arg);
    if (!c->events || (c->events & ~kinds)) {
      events_error(arg, kinds);
      return -1;
    }
    return 0;
  case CLI_OPT_BACKEND: {
    char why[256];
    if (cli_check_backend(arg, why, sizeof why) < 0) {
      cli_error("%s", why);
      return -1;
    }
    c->backend = arg;
    asked_backend = arg;
    return 0;
  }
  case CLI_OPT_POLL_INTERVAL: {
    int64_t ms;
    if (run_parse_duration(arg, &ms) < 0 || ms <= 0 || ms > INT32_MAX) {
      cli_error("--poll-interval: '%s' is not a duration (try 500ms, 2s or 1m)", arg);
      return -1;
    }
    c->poll_interval_ms = (int)ms;
    return 0;
  }
  case CLI_OPT_MOVE_WAIT: {
    int64_t ms;
    if (run_parse_duration(arg, &ms) < 0 || ms <= 0 || ms > INT32_MAX) {
      cli_error("--move-wait: '%s' is not a duration (try 10ms, 100ms or 1s)", arg);
      return -1;
    }
    c->move_wait_ms = (int)ms;
    return 0;
  }
  case ':':
    cli_error("option '%s' needs a value; try 'vigil %s --help'", word, cmd);
    return -1;
  default:
    cli_error("unknown option '%s'; try 'vigil %s --help'", word, cmd);
    return -1;
  }
}

void cli_ready(const vigil_t *v, const char *lead) {
  vigil_stats st;
  if (vigil_get_stats(v, &st, sizeof st) < 0)
    st.watches = 0;
  char line[192];
  int n;
  const char *dirs = st.watches == 1 ? "directory" : "directories";
  /* The plain form while nothing is polled: scripts read it. */
  if (st.polled == 0)
    n = snprintf(line, sizeof line, "%svigil: ready, watching %zu %s\n", lead, st.watches, dirs);
  else if (st.polled == st.watches)
    n = snprintf(line, sizeof line, "%svigil: ready, watching %zu %s by polling\n", lead,
                 st.watches, dirs);
  else
    n = snprintf(line, sizeof line, "%svigil: ready, watching %zu %s (%s), %zu by polling\n", lead,
                 st.watches - st.polled, st.watches - st.polled == 1 ? "directory" : "directories",
                 vigil_backend_name(0), st.polled);
  (void)cli_write_all(2, line, (size_t)n, NULL);
}
