/*
 * vigil watch: print events as they happen.
 *
 * main reads top-down: options, signals, roots, the ready line, the loop.
 * Output is collected in a buffer and written whenever vigil has nothing
 * more to deliver at once, so a pipe sees every event promptly while a
 * storm still costs few system calls.
 */
#include "cli.h"
#include "output.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#ifdef _WIN32
#include <windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_TIMEOUT = 2, EXIT_GONE = 3 };

/* How long SIGINT/SIGTERM may spend writing events already read. */
#define DRAIN_MS 50

static const char watch_usage[] =
    "Usage: vigil watch [options] PATH...\n"
    "\n"
    "Report changes under each PATH (a directory, watched recursively, or a file).\n"
    "\n"
    "Options:\n"
    "      --json              one JSON object per line\n"
    "      --format FMT        printf-like: %p path, %f from, %e kind, %T time,\n"
    "                          %d dir|file, %% percent; \\n \\t \\0 \\\\ escapes\n"
    "      --exclude PATTERN   skip paths matching a gitignore pattern (repeatable);\n"
    "                          excluded directories are not watched at all\n"
    "      --events LIST       report only these kinds, comma-separated: created,\n"
    "                          removed, modified, attrib, moved, closed, overflow, error,\n"
    "                          opened, closed_nowrite (these two only when listed)\n"
    "  -1, --once              exit after the first event\n"
    "  -t, --timeout SECONDS   exit after SECONDS (status 2 if nothing happened)\n"
    "  -q, --quiet             no ready line or progress on stderr\n"
    "      --color WHEN        colour the kinds: auto (default), always, never\n"
#ifdef _WIN32
    "      --backend NAME      how to watch: auto (default), windows or poll\n"
#else
    "      --backend NAME      how to watch: auto (default), inotify or poll\n"
#endif
    "      --poll-interval DURATION\n"
    "                          time between passes of the poll backend (default 1s)\n"
    "      --move-wait DURATION\n"
    "                          how long a rename's first half waits for its\n"
    "                          second before it counts as a move out (default 10ms)\n"
    "  -h, --help              show this help\n"
    "\n"
    "Exit status: 0 ok, 1 error, 2 timeout with no event, 3 every root is gone.\n";

static volatile sig_atomic_t stop_requested;
static vigil_t *signal_target;
/* When writing what is left gives up after a stop; 0 until the drain begins. */
static int64_t give_up_at;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
  if (signal_target)
    vigil_wake(signal_target); /* async-signal-safe, and it keeps errno */
  /*
   * The signal itself interrupts a write that is blocked now; the tick
   * interrupts one that was about to begin, so a reader that does not read
   * can never keep vigil from stopping.
   */
  cli_tick(1);
}

/*
 * A blocked write gives up once a stop is requested: at once before the
 * drain (which then takes over), at the drain's deadline during it.
 */
static int write_should_stop(void) {
  return stop_requested && (give_up_at == 0 || mono_ms() >= give_up_at);
}

typedef struct {
  int json;
  const char *format;
  int once;
  double timeout;
  int quiet;
  int color;
  cli_common common; /* --exclude, --events, --backend */
} watch_opts;

/* Colour on a terminal, unless NO_COLOR is set to something (no-color.org). */
static int want_color(void) {
  const char *no = getenv("NO_COLOR");
  return isatty(1) && !(no && *no);
}

static int parse_color(const char *when) {
  if (strcmp(when, "always") == 0)
    return 1;
  if (strcmp(when, "never") == 0)
    return 0;
  if (strcmp(when, "auto") == 0)
    return want_color();
  return -1;
}

static int parse_opts(int argc, char **argv, watch_opts *o) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},
      {"format", required_argument, NULL, 'f'},
      {"once", no_argument, NULL, '1'},
      {"timeout", required_argument, NULL, 't'},
      {"quiet", no_argument, NULL, 'q'},
      {"color", required_argument, NULL, 'c'},
      {"colour", required_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      CLI_COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->color = want_color();
  if (cli_common_init(&o->common, argc) < 0) {
    cli_error("out of memory");
    return -1;
  }
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":1t:qh", longopts, NULL)) != -1) {
    switch (c) {
    case 'j':
      o->json = 1;
      break;
    case 'f': {
      size_t bad = 0;
      if (out_format_check(optarg, &bad) < 0) {
        cli_error("--format: bad directive at offset %zu in '%s'", bad, optarg);
        return -1;
      }
      o->format = optarg;
      break;
    }
    case '1':
      o->once = 1;
      break;
    case 't': {
      char *end;
      errno = 0;
      o->timeout = strtod(optarg, &end);
      if (errno || end == optarg || *end || !(o->timeout > 0) || o->timeout > 1e9) {
        cli_error("--timeout: '%s' is not a positive number of seconds", optarg);
        return -1;
      }
      break;
    }
    case 'q':
      o->quiet = 1;
      break;
    case 'c':
      o->color = parse_color(optarg);
      if (o->color < 0) {
        cli_error("--color: expected auto, always or never, not '%s'", optarg);
        return -1;
      }
      break;
    case 'h':
      fputs(watch_usage, stdout);
      exit(EXIT_OK);
    default:
      /* Every kind, even the two delivered only when named. */
      if (cli_common_option(&o->common, c, optarg, argv[optind - 1], "watch",
                            (VIGIL_MASK(VIGIL_KIND_MAX) << 1) - 2) < 0)
        return -1;
    }
  }
  if (optind >= argc) {
    cli_error("watch: no PATH given; try 'vigil watch --help'");
    return -1;
  }
  if (o->json && o->format) {
    cli_error("--json and --format cannot be used together");
    return -1;
  }
  return 0;
}

/* During setup: show progress on a terminal, and let SIGINT/SIGTERM cut it short. */
static int on_progress(void *userdata, size_t dirs) {
  const int *show = userdata;
  if (*show) {
    char line[80];
    int n = snprintf(line, sizeof line, "\rvigil: setting up, %zu directories watched", dirs);
    (void)!write(2, line, (size_t)n);
  }
  return stop_requested;
}

#ifdef _WIN32
/*
 * Ctrl-C, Ctrl-Break and the console closing: Windows runs the handler on
 * a thread of its own, where vigil_wake is safe; the loop then drains and
 * exits 0, as after SIGINT.
 */
static BOOL WINAPI on_console_event(DWORD type) {
  (void)type;
  on_stop_signal(SIGINT);
  return TRUE;
}

static void install_signals(vigil_t *v) {
  signal_target = v;
  SetConsoleCtrlHandler(on_console_event, TRUE);
  (void)cli_set_stop_check(write_should_stop);
}
#else
static void install_signals(vigil_t *v) {
  signal_target = v;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* A closed pipe shows up as EPIPE from write, and ends the watch quietly. */
  signal(SIGPIPE, SIG_IGN);
  /* Without its tick (no timer to be had), the stop signal alone interrupts a write. */
  (void)cli_set_stop_check(write_should_stop);
}
#endif

typedef struct {
  const watch_opts *o;
  vg_buf out;
  /* Where each event in out ends, so that a write cut short by a stop can
     say how many events it left out (--format may write no newline). */
  size_t *ends;
  size_t nends, capends;
  int write_failed;
} printer;

static void print_event(printer *p, const vigil_event *ev) {
  const watch_opts *o = p->o;
  size_t before = p->out.len;
  if (p->nends == p->capends) {
    size_t cap = p->capends ? 2 * p->capends : 256;
    size_t *e = realloc(p->ends, cap * sizeof *e);
    if (e) {
      p->ends = e;
      p->capends = cap;
    }
  }
  if (o->json) {
    out_json(&p->out, ev);
  } else if (o->format) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    out_format(&p->out, o->format, ev, &now);
  } else {
    out_text(&p->out, ev, o->color);
  }
  /* Out of memory for the end alone: the event still goes out, uncounted
     if a stop then leaves it unwritten. */
  if (p->out.len != before && p->nends < p->capends)
    p->ends[p->nends++] = p->out.len;
}

/*
 * Writes the buffer. When a stop cuts the write short, what was not
 * written stays in the buffer, whole events and the rest of a cut one, for
 * the drain to try again.
 */
static int flush_out(printer *p) {
  if (p->out.len == 0)
    return 0;
  size_t done;
  int rc = cli_write_all(1, p->out.data, p->out.len, &done);
  if (rc == -ECANCELED) {
    size_t k = 0;
    while (k < p->nends && p->ends[k] <= done)
      k++;
    for (size_t i = k; i < p->nends; i++)
      p->ends[i - k] = p->ends[i] - done;
    p->nends -= k;
    memmove(p->out.data, p->out.data + done, p->out.len - done);
    p->out.len -= done;
    return rc;
  }
  p->out.len = 0;
  p->nends = 0;
  if (rc < 0)
    p->write_failed = rc;
  return rc;
}

/* A stop that found the reader not reading: say what it did not get. */
static void report_unwritten(const printer *p) {
  if (p->nends == 0 || p->write_failed)
    return;
  cli_error("stopped before writing %zu event%s: standard output is not being read", p->nends,
            p->nends == 1 ? "" : "s");
}

static int roots_left(vigil_t *v) {
  vigil_stats st;
  return vigil_get_stats(v, &st, sizeof st) == 0 ? (int)st.roots : 0;
}

static void print_cb(vigil_t *v, const vigil_event *ev, void *userdata) {
  (void)v;
  print_event(userdata, ev);
}

/*
 * SIGINT or SIGTERM: write what was already read, or already queued in the
 * kernel, when the signal came (not what a storm adds meanwhile), briefly,
 * then stop.
 */
static void drain(vigil_t *v, printer *p) {
  give_up_at = mono_ms() + DRAIN_MS;
  vigil_drain(v, print_cb, p, DRAIN_MS);
  flush_out(p);
}

static int watch_loop(vigil_t *v, const watch_opts *o) {
  printer p = {.o = o};
  int64_t deadline = o->timeout > 0 ? mono_ms() + (int64_t)(o->timeout * 1000.0 + 0.5) : -1;
  size_t seen = 0;
  int status = EXIT_OK;
  int rc;
  for (;;) {
    if (stop_requested) {
      drain(v, &p);
      break;
    }
    vigil_event ev;
    int woke = 0;
    int r = vigil_read(v, &ev, 0);
    if (r == 0) {
      /* Nothing more at once: this is when output goes out. */
      rc = flush_out(&p);
      if (rc == -ECANCELED)
        continue; /* a stop: the drain at the top writes what it can */
      if (rc < 0)
        break;
      /*
       * The read just made may have taken the wakeup of a signal that
       * came after the check at the top: look at the flag again before
       * blocking, or the wait below would never end.
       */
      if (stop_requested)
        continue;
      if (roots_left(v) == 0) {
        status = EXIT_GONE;
        break;
      }
      int wait = -1;
      if (deadline >= 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
          status = seen ? EXIT_OK : EXIT_TIMEOUT;
          break;
        }
        wait = left > INT_MAX ? INT_MAX : (int)left;
      }
      r = vigil_read(v, &ev, wait);
      if (r == 0)
        continue;
      woke = 1;
    }
    if (r < 0) {
      flush_out(&p);
      cli_error("reading events: %s", vigil_strerror(r));
      status = EXIT_ERROR;
      break;
    }
    print_event(&p, &ev);
    seen++;
    /*
     * The first event after a wait goes out at once, before anything else
     * is read: a lone change is printed as soon as it is known, and a storm
     * (read in batches) pays one more write per batch.
     */
    if (woke && (rc = flush_out(&p)) < 0) {
      if (rc == -ECANCELED)
        continue;
      break;
    }
    if (o->once) {
      flush_out(&p);
      break;
    }
    /* Under a steady storm the queue never empties; the timeout still holds. */
    if (deadline >= 0 && (seen & 255) == 0 && mono_ms() >= deadline) {
      flush_out(&p);
      break;
    }
    /* Keep a storm from holding output back for long. */
    if (p.out.len >= 64 * 1024 && (rc = flush_out(&p)) < 0) {
      if (rc == -ECANCELED)
        continue;
      break;
    }
  }
  if (p.write_failed && p.write_failed != -EPIPE) {
    cli_error("writing output: %s", strerror(-p.write_failed));
    status = EXIT_ERROR;
  }
  report_unwritten(&p);
  vg_buf_free(&p.out);
  free(p.ends);
  return status;
}

int cmd_watch(int argc, char **argv) {
  watch_opts o;
  if (parse_opts(argc, argv, &o) < 0) {
    cli_common_free(&o.common);
    return EXIT_ERROR;
  }
  tzset();
  int show_progress = !o.quiet && isatty(2);
  vigil_options vo;
  vigil_options_init(&vo);
  vo.exclude = o.common.exclude;
  vo.exclude_count = o.common.nexclude;
  vo.events = o.common.events;
  vo.progress = on_progress;
  vo.progress_userdata = &show_progress;
  vo.backend = o.common.backend;
  vo.poll_interval_ms = o.common.poll_interval_ms;
  vo.move_wait_ms = o.common.move_wait_ms;
  vigil_t *v;
  int rc = vigil_open(&v, &vo);
  if (rc < 0) {
    if (rc == VIGIL_EPATTERN)
      cli_error("--exclude: malformed pattern");
    else if (rc == VIGIL_EINSTLIMIT)
      cli_add_error("", rc, NULL);
    else
      cli_error("cannot start watching: %s", vigil_strerror(rc));
    cli_common_free(&o.common);
    return EXIT_ERROR;
  }
  install_signals(v);
  for (int i = optind; i < argc; i++) {
    rc = vigil_add(v, argv[i], 0);
    if (rc == VIGIL_EEXIST)
      continue; /* the same path twice is one root */
    if (rc == -ECANCELED || (rc == 0 && stop_requested)) {
      /*
       * SIGINT or SIGTERM during setup: stop now rather than after a long
       * setup (a supervisor wants vigil gone), and say so, since there
       * will be no ready line (a script may be waiting for it).
       */
      if (!o.quiet)
        cli_error("%sstopped during setup, before ready", show_progress ? "\r\033[K" : "");
      vigil_close(v);
      cli_common_free(&o.common);
      return EXIT_OK;
    }
    if (rc < 0) {
      if (show_progress)
        (void)!write(2, "\n", 1);
      cli_add_error(argv[i], rc, v);
      vigil_close(v);
      cli_common_free(&o.common);
      return EXIT_ERROR;
    }
    cli_added(v, argv[i], show_progress ? "\r\033[K" : "");
  }
  if (!o.quiet)
    cli_ready(v, show_progress ? "\r\033[K" : "");
  int status = watch_loop(v, &o);
  signal_target = NULL;
  vigil_close(v);
  cli_common_free(&o.common);
  return status;
}
