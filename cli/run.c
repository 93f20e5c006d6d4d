/*
 * vigil run: run a command, and run it again when files change.
 *
 * cmd_run reads top-down: options, patterns, watches, signals, the ready
 * line, the loop. The loop is one poll over a signalfd (SIGCHLD, SIGINT,
 * SIGTERM, SIGHUP) and vigil's descriptors (vigil_wait_fds, for no longer
 * than vigil_timeout: on Linux that is vigil_fd alone, elsewhere more);
 * nothing happens in a signal handler. One instance watches every path, each with its own exclude
 * and base patterns (vigil_add_opts), so that a hundred paths cost one of the
 * user's inotify instances, not a hundred. Its state is small:
 *
 *   - the job: the command's process group, and what the command left
 *     behind outside it. The leader (the process vigil started) is "alive"
 *     until it is reaped; the group is "alive" until kill(-pgid, 0) says
 *     ESRCH, which can be later, when children of the command outlive it;
 *     and what was left behind (daemons that called setsid) is alive while
 *     vigil has children other than the leader. A new run starts, and
 *     vigil exits, only when all three are gone.
 *   - the changes since the last run (run_changes.c) and the debounce:
 *     a trigger fires once changes stop coming for the debounce time, or
 *     at the latest a second (or the debounce time, if longer) after the
 *     first, so that a steady stream of changes still gets runs.
 *   - want_start: a run is due as soon as the old group is gone.
 *   - exiting: the group is being stopped, and vigil ends when it is gone.
 *
 * vigil makes itself a child subreaper, so that the command's children
 * that lose their parent are re-parented to vigil and reaped by it: no
 * zombie is left behind, a zombie in the group can never keep
 * kill(-pgid, 0) succeeding for ever, and a process that left the group
 * is still found (as vigil's child) and stopped with the rest.
 */
#include "cli.h"
#include "run.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/signalfd.h>
#else
#include <fcntl.h>
#endif

extern char **environ;

enum { EXIT_OK = 0, EXIT_ERROR = 1 };

/* The kinds --events takes: not error (always reported), nor opened and closed_nowrite. */
#define RUN_KINDS (VIGIL_KINDS_DEFAULT & ~VIGIL_MASK(VIGIL_ERROR))

/* How often the group is checked while vigil waits for it to be gone. */
#define GROUP_POLL_MS 10
/* Events taken per turn of the loop, so that a storm never delays signals or timers. */
#define EVENTS_PER_TURN 1024
/* A burst is cut off after this long (or the debounce time, if longer). */
#define DEBOUNCE_CAP_MS 1000
/* How often a watched path that went away is looked for again. */
#define ROOT_RETRY_MS 100
/* The longest command name shown in reports. */
#define NAME_MAX_SHOWN 40

static const char run_usage[] =
    "Usage: vigil run [options] [-w PATH]... -- COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND, and run it again whenever something changes under a PATH\n"
    "(default: the current directory). .git/ and files ignored by git are left out.\n"
    "\n"
    "Options:\n"
    "  -w, --watch PATH        watch PATH, a directory (recursively) or a file;\n"
    "                          repeatable\n"
    "  -s, --shell             run COMMAND through $SHELL -c (default /bin/sh)\n"
    "  -p, --postpone          wait for the first change before the first run\n"
    "      --on-busy MODE      what a change does while COMMAND runs:\n"
    "                          queue (default: run again once it ends),\n"
    "                          restart, signal (send --signal) or ignore\n"
    "  -r, --restart           the same as --on-busy restart\n"
    "      --signal SIG        the signal of --on-busy signal (default HUP)\n"
    "      --stop-signal SIG   how to stop COMMAND's process group (default TERM)\n"
    "      --grace DURATION    then wait this long before SIGKILL (default 5s)\n"
    "      --debounce DURATION collapse a burst of changes (default 50ms)\n"
    "  -e, --ext LIST          only changes to files with these extensions count,\n"
    "                          comma-separated: rs,c,h\n"
    "      --exclude PATTERN   leave out paths matching a gitignore pattern\n"
    "                          (repeatable); excluded directories are not watched\n"
    "      --events LIST       only these kinds count, comma-separated (default all\n"
    "                          but error): created, removed, modified, attrib,\n"
    "                          moved, closed, overflow\n"
    "      --no-ignore-files   do not read .gitignore, .git/info/exclude or the\n"
    "                          global excludes file (.git/ is still left out)\n"
    "  -c, --clear             clear the screen before each run\n"
    "      --once              run once, wait for a change, stop COMMAND, and exit\n"
    "                          with its status\n"
    "      --exit-on-change    exit with COMMAND's status at the first change\n"
    "                          after it has finished\n"
    "  -q, --quiet             no ready line and no report of how runs ended\n"
    "      --backend NAME      how to watch: auto (default), inotify or poll\n"
    "      --poll-interval DURATION\n"
    "                          time between passes of the poll backend (default 1s)\n"
    "      --move-wait DURATION\n"
    "                          how long a rename's first half waits for its\n"
    "                          second before it counts as a move out (default 10ms)\n"
    "  -h, --help              show this help\n"
    "\n"
    "DURATION is a number with a unit: 500ms, 2s, 1.5s, 1m.\n"
    "COMMAND sees VIGIL_CHANGED (the changed paths, one a line) and VIGIL_EVENTS.\n"
    "SIGINT/SIGTERM stop COMMAND and vigil exits 0; SIGHUP restarts COMMAND.\n"
    "Exit status: 0 ok, 1 error, 126 COMMAND cannot run, 127 COMMAND not found;\n"
    "with --once or --exit-on-change, COMMAND's status (128+N if killed by signal N).\n";

typedef enum { BUSY_QUEUE, BUSY_RESTART, BUSY_SIGNAL, BUSY_IGNORE } busy_mode;

typedef struct {
  const char **watch;
  size_t nwatch;
  cli_common common; /* --exclude, --events, --backend */
  char **ext;        /* each with its leading dot */
  size_t next;
  char **cmd;
  int ncmd;
  int shell, postpone, clear, once, exit_on_change, quiet, no_ignore_files;
  busy_mode busy;
  int signal, stop_signal;
  int64_t grace_ms, debounce_ms;
  unsigned events; /* the kinds that count */
} run_opts;

typedef struct {
  const char *given;
  size_t prefix_len; /* given without its trailing slashes */
  int is_file;
  int gone;
  int missing;   /* a watched file reported removed, and not back yet */
  run_strv pat;  /* its exclude patterns, for each vigil_add_opts: .git, --exclude */
  run_strv base; /* its base patterns: git's files above and outside it */
} run_root;

typedef struct {
  pid_t pid;       /* the leader, until it is reaped; 0 when there is none */
  pid_t pgid;      /* the job, until it is all gone; 0 when there is none */
  int group_gone;  /* no process is left in the group pgid */
  int interactive; /* its group was given the terminal */
  int stopping, killed;
  int grace_over;            /* killed because the grace ran out */
  int64_t started, deadline; /* the start, and the end of the grace */
} run_job;

typedef struct {
  run_opts *o;
  vigil_t *v; /* one instance for every watched path */
  run_root *roots;
  size_t nroots;
  size_t watched; /* roots not gone */
  int sfd;        /* the signalfd (elsewhere: the read end of the signals' pipe) */
  run_spawn_req req;
  char name[NAME_MAX_SHOWN + 8]; /* the command, as reports show it */
  run_job job;
  run_changes changes;
  int64_t burst_first, burst_last; /* 0: no change waiting for the debounce */
  int want_start;
  int exiting, exit_status, exit_with_command;
  int by_signal;         /* SIGINT/SIGTERM asked vigil to exit */
  int runs;              /* runs started (or attempted) */
  int last_status;       /* how the last run ended, as an exit status */
  int git_guard;         /* events under a .git directory never count */
  int64_t retry_at;      /* when to look again for watched paths that went away */
  struct termios tmodes; /* the terminal's modes, put back after each run */
  pid_t *told;           /* processes left behind that got this stop's signal */
  size_t ntold, captold;
} runner;

/* SIGINT or SIGTERM has been read from the signalfd. */
static int stop_read;

#ifdef __linux__
/* Whether SIGINT or SIGTERM asked vigil to stop, read yet or still pending. */
static int stop_asked(void) {
  sigset_t pending;
  return stop_read || (sigpending(&pending) == 0 &&
                       (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)));
}
#else
/*
 * Without a signalfd the four signals are caught, and the handler writes
 * each one's number to a pipe that the loop polls as it would the
 * signalfd. A stop is known at once, before its byte is read.
 */
static int signal_pipe_wr = -1;
static volatile sig_atomic_t stop_caught;

static void on_caught(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (sig == SIGINT || sig == SIGTERM)
    stop_caught = 1;
  (void)!write(signal_pipe_wr, &b, 1);
  errno = saved;
}

static int stop_asked(void) {
  return stop_read || stop_caught;
}
#endif

/*
 * Writes to vigil's standard output or error, which a reader may have
 * stopped reading. SIGINT and SIGTERM are blocked (they come through the
 * signalfd), so they cannot interrupt such a write; the tick does, and the
 * write gives up (-ECANCELED) once a stop was asked for.
 */
static int run_write(int fd, const char *buf, size_t len) {
  cli_tick(1);
  int rc = cli_write_all(fd, buf, len, NULL);
  cli_tick(0);
  return rc;
}

/*
 * "vigil: " and the message on stderr, in one write: the command shares
 * stderr, and a line of vigil's must never be split by one of its own.
 */
__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_tick(1);
  cli_verror(fmt, ap);
  cli_tick(0);
  va_end(ap);
}

/* -- options --------------------------------------------------------------- */

static int parse_busy(const char *s, busy_mode *m) {
  static const char *const names[] = {"queue", "restart", "signal", "ignore"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *m = (busy_mode)i;
      return 0;
    }
  return -1;
}

static int parse_ext(run_opts *o, const char *list) {
  const char *p = list;
  for (;;) {
    size_t n = strcspn(p, ",");
    const char *e = p;
    if (n > 0 && e[0] == '.') {
      e++;
      n--;
    }
    if (n == 0 || memchr(e, '/', n))
      return -1;
    char **v = realloc(o->ext, (o->next + 1) * sizeof *v);
    if (!v)
      return -1;
    o->ext = v;
    char *dot = malloc(n + 2);
    if (!dot)
      return -1;
    dot[0] = '.';
    memcpy(dot + 1, e, n);
    dot[n + 1] = '\0';
    o->ext[o->next++] = dot;
    p += strcspn(p, ",");
    if (!*p)
      return 0;
    p++;
  }
}

static int parse_opts(int argc, char **argv, run_opts *o) {
  enum {
    OPT_ON_BUSY = 256,
    OPT_SIGNAL,
    OPT_STOP_SIGNAL,
    OPT_GRACE,
    OPT_DEBOUNCE,
    OPT_NO_IGNORE,
    OPT_ONCE,
    OPT_EXIT_ON_CHANGE
  };
  static const struct option longopts[] = {
      {"watch", required_argument, NULL, 'w'},
      {"shell", no_argument, NULL, 's'},
      {"postpone", no_argument, NULL, 'p'},
      {"on-busy", required_argument, NULL, OPT_ON_BUSY},
      {"restart", no_argument, NULL, 'r'},
      {"signal", required_argument, NULL, OPT_SIGNAL},
      {"stop-signal", required_argument, NULL, OPT_STOP_SIGNAL},
      {"grace", required_argument, NULL, OPT_GRACE},
      {"debounce", required_argument, NULL, OPT_DEBOUNCE},
      {"ext", required_argument, NULL, 'e'},
      {"no-ignore-files", no_argument, NULL, OPT_NO_IGNORE},
      {"clear", no_argument, NULL, 'c'},
      {"once", no_argument, NULL, OPT_ONCE},
      {"exit-on-change", no_argument, NULL, OPT_EXIT_ON_CHANGE},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      CLI_COMMON_LONGOPTS,
      {NULL, 0, NULL, 0}};
  memset(o, 0, sizeof *o);
  o->busy = BUSY_QUEUE;
  o->signal = SIGHUP;
  o->stop_signal = SIGTERM;
  o->grace_ms = 5000;
  o->debounce_ms = 50;
  o->events = RUN_KINDS;
  o->watch = calloc((size_t)argc + 1, sizeof *o->watch);
  if (!o->watch || cli_common_init(&o->common, argc) < 0) {
    say("out of memory");
    return -1;
  }
  opterr = 0;
  int c;
  /* "+": the first word that is not an option starts COMMAND, even without "--". */
  while ((c = getopt_long(argc, argv, "+:w:spre:cqh", longopts, NULL)) != -1) {
    switch (c) {
    case 'w':
      if (!optarg[0]) {
        say("-w: the path is empty");
        return -1;
      }
      o->watch[o->nwatch++] = optarg;
      break;
    case 's':
      o->shell = 1;
      break;
    case 'p':
      o->postpone = 1;
      break;
    case 'r':
      o->busy = BUSY_RESTART;
      break;
    case OPT_ON_BUSY:
      if (parse_busy(optarg, &o->busy) < 0) {
        say("--on-busy: expected queue, restart, signal or ignore, not '%s'", optarg);
        return -1;
      }
      break;
    case OPT_SIGNAL:
    case OPT_STOP_SIGNAL: {
      int sig = run_parse_signal(optarg);
      if (sig < 0) {
        say("%s: '%s' is not a signal (try TERM, INT, HUP, KILL or a number)",
            c == OPT_SIGNAL ? "--signal" : "--stop-signal", optarg);
        return -1;
      }
      *(c == OPT_SIGNAL ? &o->signal : &o->stop_signal) = sig;
      break;
    }
    case OPT_GRACE:
    case OPT_DEBOUNCE:
      if (run_parse_duration(optarg, c == OPT_GRACE ? &o->grace_ms : &o->debounce_ms) < 0) {
        say("%s: '%s' is not a duration (try 500ms, 2s, 1.5s or 1m)",
            c == OPT_GRACE ? "--grace" : "--debounce", optarg);
        return -1;
      }
      break;
    case 'e':
      if (parse_ext(o, optarg) < 0) {
        say("--ext: expected extensions separated by commas, such as rs,c,h, not '%s'", optarg);
        return -1;
      }
      break;
    case OPT_NO_IGNORE:
      o->no_ignore_files = 1;
      break;
    case 'c':
      o->clear = 1;
      break;
    case OPT_ONCE:
      o->once = 1;
      break;
    case OPT_EXIT_ON_CHANGE:
      o->exit_on_change = 1;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      fputs(run_usage, stdout);
      exit(EXIT_OK);
    default:
      /*
       * Opens and closes without writing are refused: COMMAND reading its
       * own files would make the next run, for ever.
       */
      if (cli_common_option(&o->common, c, optarg, argv[optind - 1], "run", RUN_KINDS) < 0)
        return -1;
    }
  }
  if (o->common.events)
    o->events = o->common.events;
  if (optind >= argc) {
    say("run: no COMMAND given; try 'vigil run --help'");
    return -1;
  }
  if (o->once && o->exit_on_change) {
    say("--once and --exit-on-change cannot be used together");
    return -1;
  }
  o->cmd = argv + optind;
  o->ncmd = argc - optind;
  if (o->nwatch == 0)
    o->watch[o->nwatch++] = ".";
  return 0;
}

static void free_opts(run_opts *o) {
  for (size_t i = 0; i < o->next; i++)
    free(o->ext[i]);
  free(o->ext);
  free(o->watch);
  cli_common_free(&o->common);
}

/* -- the command ------------------------------------------------------------- */

/* COMMAND ARGS, or $SHELL -c "COMMAND ARGS"; and the name reports use. */
static int make_command(runner *r) {
  run_opts *o = r->o;
  const char *shown;
  if (!o->shell) {
    r->req.argv = o->cmd;
    const char *slash = strrchr(o->cmd[0], '/');
    shown = slash && slash[1] ? slash + 1 : o->cmd[0];
  } else {
    size_t len = 0;
    for (int i = 0; i < o->ncmd; i++)
      len += strlen(o->cmd[i]) + 1;
    char *line = malloc(len + 1);
    char **argv = calloc(4, sizeof *argv);
    if (!line || !argv) {
      free(line);
      free(argv);
      return -ENOMEM;
    }
    line[0] = '\0';
    for (int i = 0; i < o->ncmd; i++) {
      if (i)
        strcat(line, " ");
      strcat(line, o->cmd[i]);
    }
    const char *sh = getenv("SHELL");
    argv[0] = (char *)(sh && *sh ? sh : "/bin/sh");
    argv[1] = (char *)"-c";
    argv[2] = line;
    r->req.argv = argv;
    shown = line;
  }
  /* Shown on one line of stderr: no control characters, and not too long. */
  size_t n = 0;
  for (; shown[n] && n < NAME_MAX_SHOWN; n++)
    r->name[n] = (unsigned char)shown[n] < 0x20 || shown[n] == 0x7f ? '?' : shown[n];
  if (shown[n]) {
    memcpy(r->name + n, "...", 3);
    n += 3;
  }
  r->name[n] = '\0';
  return 0;
}

static void free_command(runner *r) {
  if (r->o->shell) {
    free(r->req.argv[2]);
    free(r->req.argv);
  }
}

/* The environment with this run's VIGIL_CHANGED and VIGIL_EVENTS. */
static char **make_env(const runner *r, char **changed, char **events) {
  if (run_changes_env(&r->changes, changed, events) < 0)
    return NULL;
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 3, sizeof *env);
  if (!env) {
    free(*changed);
    free(*events);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "VIGIL_CHANGED=", 14) != 0 &&
        strncmp(environ[i], "VIGIL_EVENTS=", 13) != 0)
      env[k++] = environ[i];
  env[k++] = *changed;
  env[k++] = *events;
  env[k] = NULL;
  return env;
}

static int status_code(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return EXIT_ERROR;
}

/* "vigil: [make exited 2 after 1.3s]" and its kin. */
static void report_end(const runner *r, int st) {
  if (r->o->quiet)
    return;
  char took[32], grace[32], sig[32];
  run_format_elapsed(run_now_ms() - r->job.started, took, sizeof took);
  if (WIFEXITED(st)) {
    say("[%s exited %d after %s]", r->name, WEXITSTATUS(st), took);
  } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && r->job.grace_over) {
    run_format_duration(r->o->grace_ms, grace, sizeof grace);
    say("[%s killed by SIGKILL after %s grace]", r->name, grace);
  } else if (WIFSIGNALED(st)) {
    say("[%s killed by %s after %s%s]", r->name, run_signal_name(WTERMSIG(st), sig, sizeof sig),
        took, WCOREDUMP(st) ? ", core dumped" : "");
  }
}

/*
 * As a shell does for a job: the terminal's foreground goes back to vigil,
 * and its modes are put back, so that a command killed in raw mode (an
 * editor, a pager) does not leave the terminal unusable.
 */
static void take_terminal_back(runner *r) {
  if (r->job.interactive) {
    (void)tcsetpgrp(0, getpgrp());
    (void)tcsetattr(0, TCSADRAIN, &r->tmodes);
    r->job.interactive = 0;
  }
}

/* At most this many processes left behind are handled per turn of the loop. */
#define LEFT_MAX 256

/*
 * Signals what the command left behind outside its group: vigil's children
 * other than the leader (vigil is a subreaper, so every process of the
 * command whose parent exits becomes one), each with its own group when it
 * leads one, as a daemon that called setsid does. A child of vigil can
 * neither be reaped by another nor have its pid reused, so signalling it
 * (and the group it leads) reaches exactly it. With told, a process that
 * was already sent sig in this stop is not sent it again (a second TERM
 * can cut short the cleanup the first one started). sig 0 only looks.
 * Returns how many such processes there are (at most LEFT_MAX).
 */
static size_t signal_left_behind(runner *r, int sig, int told) {
  pid_t kids[LEFT_MAX];
  size_t n = run_children(kids, LEFT_MAX), left = 0;
  for (size_t i = 0; i < n; i++) {
    pid_t p = kids[i], g = getpgid(p);
    if (p == r->job.pid || (g == r->job.pgid && !r->job.group_gone))
      continue; /* the leader, or in the group: signalled with the group */
    left++;
    if (!sig)
      continue;
    size_t k = 0;
    while (told && k < r->ntold && r->told[k] != p)
      k++;
    if (told && k < r->ntold)
      continue;
    if (told && r->ntold == r->captold) {
      size_t cap = r->captold ? 2 * r->captold : 16;
      pid_t *t = realloc(r->told, cap * sizeof *t);
      if (t) {
        r->told = t;
        r->captold = cap;
      }
    }
    if (told && r->ntold < r->captold)
      r->told[r->ntold++] = p;
    pid_t target = g == p ? -p : p;
    (void)kill(target, sig);
    if (sig != SIGKILL && sig != SIGCONT)
      (void)kill(target, SIGCONT);
  }
  return left;
}

/* Sends sig to the group, unless it is known to be empty (its id may be reused). */
static void signal_group(runner *r, int sig) {
  if (!r->job.group_gone && kill(-r->job.pgid, sig) < 0 && errno == ESRCH)
    r->job.group_gone = 1;
}

/*
 * The leader is gone; is the rest of the job: its group, and whatever it
 * left behind outside the group? Only then can the next run start.
 */
static void check_group(runner *r) {
  if (!r->job.pgid || r->job.pid)
    return;
  signal_group(r, 0);
  if (r->job.group_gone && signal_left_behind(r, 0, 0) == 0) {
    r->job.pgid = 0;
    r->job.stopping = 0;
    r->ntold = 0;
  }
}

/* SIGKILL to the job: the grace ran out, or there was to be none. */
static void kill_group(runner *r, int grace_over) {
  if (!r->job.pgid || r->job.killed)
    return;
  signal_group(r, SIGKILL);
  (void)signal_left_behind(r, SIGKILL, 0);
  r->job.killed = 1;
  r->job.grace_over = grace_over;
  if (!r->job.pid && !r->o->quiet) {
    char grace[48] = "";
    if (grace_over) {
      memcpy(grace, " after ", 7);
      run_format_duration(r->o->grace_ms, grace + 7, sizeof grace - 13);
      strcat(grace, " grace");
    }
    say("[%s: what was left of it killed by SIGKILL%s]", r->name, grace);
  }
}

/*
 * Sends the stop signal to the whole job, its group and what it left
 * behind; SIGKILL follows after the grace.
 */
static void stop_group(runner *r) {
  if (!r->job.pgid || r->job.stopping)
    return;
  int sig = r->o->stop_signal;
  signal_group(r, sig);
  /* A stopped process acts on the signal only once it is continued. */
  if (sig != SIGKILL && sig != SIGCONT)
    signal_group(r, SIGCONT);
  r->ntold = 0;
  (void)signal_left_behind(r, sig, 1);
  r->job.stopping = 1;
  r->job.deadline = run_now_ms() + r->o->grace_ms;
  if (sig == SIGKILL)
    r->job.killed = 1;
  else if (r->o->grace_ms == 0)
    kill_group(r, 0);
}

static void begin_exit(runner *r, int status, int with_command) {
  if (!r->exiting) {
    r->exiting = 1;
    r->exit_status = status;
    r->exit_with_command = with_command;
  }
  r->want_start = 0;
  stop_group(r);
}

/*
 * Ctrl-Z in the command, when it has the terminal: vigil takes the
 * terminal back and stops itself too, as the job it is part of, so that
 * the shell gets the terminal; when the shell continues vigil, vigil hands
 * the terminal back to the command and continues it. (Without a shell to
 * return to, in an orphaned process group, the kernel does not stop vigil,
 * and the command is continued at once.)
 */
static void leader_stopped(runner *r, int sig) {
  if (!r->job.interactive)
    return;
  char name[32];
  if (!r->o->quiet)
    say("[%s stopped by %s]", r->name, run_signal_name(sig, name, sizeof name));
  struct termios theirs;
  int saved = tcgetattr(0, &theirs) == 0;
  (void)tcsetpgrp(0, getpgrp());
  (void)tcsetattr(0, TCSADRAIN, &r->tmodes);
  raise(SIGTSTP);
  (void)tcsetpgrp(0, r->job.pgid);
  if (saved)
    (void)tcsetattr(0, TCSADRAIN, &theirs);
  (void)kill(-r->job.pgid, SIGCONT);
}

static void reap(runner *r) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG | WUNTRACED);
    if (p <= 0)
      break;
    if (p != r->job.pid)
      continue; /* a descendant vigil inherited as subreaper */
    if (WIFSTOPPED(st)) {
      leader_stopped(r, WSTOPSIG(st));
      continue;
    }
    take_terminal_back(r);
    report_end(r, st);
    r->job.pid = 0;
    r->last_status = status_code(st);
  }
  check_group(r);
}

static void spawn(runner *r) {
  run_opts *o = r->o;
  if (o->clear && run_write(1, "\033[H\033[2J\033[3J", 11) == -ECANCELED) {
    /* Stuck on a reader that does not read, and asked to stop: no run. */
    r->want_start = 0;
    return;
  }
  char *changed = NULL, *events = NULL;
  char **env = make_env(r, &changed, &events);
  if (!env) {
    say("out of memory");
    begin_exit(r, EXIT_ERROR, 0);
    return;
  }
  r->req.envp = env;
  r->req.interactive = isatty(0) && tcgetpgrp(0) == getpgrp() && tcgetattr(0, &r->tmodes) == 0;
  pid_t pid;
  int exec_err;
  int rc = run_spawn(&r->req, &pid, &exec_err);
  free(env);
  free(changed);
  free(events);
  run_changes_clear(&r->changes);
  r->burst_first = 0; /* what changed before this run is this run's */
  r->want_start = 0;
  int first = r->runs++ == 0;
  if (rc < 0) {
    say("cannot start %s: %s", r->name, strerror(-rc));
    begin_exit(r, EXIT_ERROR, 0);
    return;
  }
  if (!pid) {
    int code = exec_err == ENOENT ? 127 : 126;
    if (exec_err == ENOENT)
      say("%s: command not found", r->req.argv[0]);
    else
      say("%s: %s", r->req.argv[0], strerror(exec_err));
    r->last_status = code;
    /* At the first run nothing can have been meant; later the file may come back. */
    if (first)
      begin_exit(r, code, 0);
    return;
  }
  r->job = (run_job){
      .pid = pid, .pgid = pid, .interactive = r->req.interactive, .started = run_now_ms()};
}

/* -- changes --------------------------------------------------------------- */

static void note_change(runner *r, vigil_kind kind, const char *rel, const char *from);

static int has_ext(const run_opts *o, const char *rel) {
  if (!rel)
    return 0;
  const char *name = strrchr(rel, '/');
  name = name ? name + 1 : rel;
  size_t n = strlen(name);
  for (size_t i = 0; i < o->next; i++) {
    size_t e = strlen(o->ext[i]);
    if (n > e && memcmp(name + n - e, o->ext[i], e) == 0)
      return 1;
  }
  return 0;
}

static int in_git_dir(const char *rel) {
  if (!rel)
    return 0;
  for (const char *p = rel; (p = strstr(p, ".git")) != NULL; p += 4)
    if ((p == rel || p[-1] == '/') && (p[4] == '\0' || p[4] == '/'))
      return 1;
  return 0;
}

/* Is path the watched path root, or below it? */
static int under(const run_root *root, const char *path) {
  size_t n = root->prefix_len;
  return strcmp(path, root->given) == 0 || (strncmp(path, root->given, n) == 0 && path[n] == '/');
}

/*
 * The watched path an event is about. Its path begins with the path of
 * the root that reported it, as given. Where watched paths nest ("src"
 * and "src/lib"), the library reports through the outer one, whose
 * string is then the shorter.
 */
static run_root *root_of(runner *r, const char *path) {
  run_root *best = NULL;
  for (size_t i = 0; path && i < r->nroots; i++) {
    run_root *root = &r->roots[i];
    if (strcmp(path, root->given) == 0)
      return root;
    if (under(root, path) && (!best || root->prefix_len < best->prefix_len))
      best = root;
  }
  return best;
}

/* The path relative to its watched path, as VIGIL_CHANGED lists it. */
static const char *relative(const run_root *root, const char *path) {
  if (!path || !root)
    return path;
  if (strcmp(path, root->given) == 0)
    return root->is_file ? root->given : ".";
  size_t n = root->prefix_len;
  if (strncmp(path, root->given, n) == 0 && path[n] == '/')
    return path + n + 1;
  return path;
}

static void on_event(runner *r, const run_root *root, const vigil_event *ev) {
  const run_opts *o = r->o;
  if (ev->kind == VIGIL_ERROR) {
    if (ev->path)
      say("%s: %s", ev->path, vigil_strerror(ev->error));
    else
      say("reading events: %s", vigil_strerror(ev->error));
    return;
  }
  if (!(o->events & VIGIL_MASK(ev->kind)))
    return;
  const char *rel = relative(root, ev->path);
  const char *from = relative(root, ev->from);
  if (r->git_guard && (in_git_dir(rel) || in_git_dir(from)))
    return;
  if (o->next && ev->kind != VIGIL_OVERFLOW) {
    /* A directory's own events do not count, except a move: its files
       move with it, and get no events of their own. */
    int dir = ev->flags & VIGIL_ISDIR;
    if (dir && ev->kind != VIGIL_MOVED)
      return;
    if (!dir) {
      rel = has_ext(o, rel) ? rel : NULL;
      from = has_ext(o, from) ? from : NULL;
    }
    if (!rel && !from)
      return;
  }
  note_change(r, ev->kind, rel, from);
}

/*
 * A watched file reported removed is most likely being saved by an editor
 * that took longer than the library waits for it: the run is held back
 * until the file is back (see burst_due), so that the command does not
 * run without it, then once more with it.
 */
static void note_missing(run_root *root, const vigil_event *ev) {
  if (!root->is_file || !ev->path || strcmp(ev->path, root->given) != 0)
    return;
  if (ev->kind == VIGIL_REMOVED)
    root->missing = 1;
  else if (ev->kind == VIGIL_CREATED || ev->kind == VIGIL_MODIFIED || ev->kind == VIGIL_MOVED)
    root->missing = 0;
}

/*
 * A watched path that went away (a directory deleted or renamed away, or
 * a file's directory): it may be back soon.
 */
static void find_gone_roots(runner *r) {
  vigil_stats st;
  if (vigil_get_stats(r->v, &st, sizeof st) < 0 || st.roots >= r->watched)
    return;
  for (size_t i = 0; i < r->nroots; i++) {
    run_root *root = &r->roots[i];
    if (root->gone || vigil_root_watched(r->v, root->given) == 1)
      continue;
    root->gone = 1;
    r->watched--;
    (void)vigil_remove(r->v, root->given);
    say("%s: gone; watching for it to come back", root->given);
    if (!r->retry_at)
      r->retry_at = run_now_ms() + ROOT_RETRY_MS;
  }
}

static void read_events(runner *r) {
  vigil_event ev;
  for (int i = 0; i < EVENTS_PER_TURN; i++) {
    int rc = vigil_read(r->v, &ev, 0);
    if (rc == 0)
      break;
    if (rc < 0) {
      say("reading events: %s", vigil_strerror(rc));
      begin_exit(r, EXIT_ERROR, 0);
      return;
    }
    run_root *root = root_of(r, ev.path);
    if (root)
      note_missing(root, &ev);
    on_event(r, root, &ev);
  }
  find_gone_roots(r);
}

static void note_change(runner *r, vigil_kind kind, const char *rel, const char *from) {
  if (run_changes_note(&r->changes, kind, rel, from) < 0)
    say("out of memory: VIGIL_CHANGED will be cut short");
  int64_t now = run_now_ms();
  if (!r->burst_first)
    r->burst_first = now;
  r->burst_last = now;
}

static int add_root(runner *r, run_root *root) {
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  ro.exclude = (const char *const *)root->pat.v;
  ro.exclude_count = root->pat.n;
  ro.base_exclude = (const char *const *)root->base.v;
  ro.base_exclude_count = root->base.n;
  int rc = vigil_add_opts(r->v, root->given, 0, &ro);
  if (rc == 0)
    cli_added(r->v, root->given, "");
  if (rc == 0) {
    struct stat st;
    root->is_file = stat(root->given, &st) == 0 && !S_ISDIR(st.st_mode);
    r->watched++;
  }
  return rc;
}

/* Watches again each watched path that went away and is back; a change. */
static void retry_gone_roots(runner *r) {
  int still_gone = 0;
  for (size_t i = 0; i < r->nroots; i++) {
    run_root *root = &r->roots[i];
    if (!root->gone)
      continue;
    if (add_root(r, root) < 0) {
      still_gone = 1;
      continue;
    }
    root->gone = 0;
    root->missing = 0;
    say("%s: back; watching it again", root->given);
    if (r->o->events & VIGIL_MASK(VIGIL_CREATED))
      note_change(r, VIGIL_CREATED, root->is_file ? root->given : ".", NULL);
  }
  r->retry_at = still_gone ? run_now_ms() + ROOT_RETRY_MS : 0;
}

static int64_t burst_due(const runner *r) {
  int64_t cap = r->o->debounce_ms > DEBOUNCE_CAP_MS ? r->o->debounce_ms : DEBOUNCE_CAP_MS;
  int64_t quiet = r->burst_last + r->o->debounce_ms, latest = r->burst_first + cap;
  /* A watched file that went away is waited for, up to the cap. */
  for (size_t i = 0; i < r->nroots; i++)
    if (r->roots[i].missing)
      return latest;
  return quiet < latest ? quiet : latest;
}

/* The debounce is over: what the changes do depends on the state. */
static void trigger(runner *r) {
  const run_opts *o = r->o;
  r->burst_first = 0;
  if (r->exiting)
    return;
  if (o->once && r->runs > 0) {
    begin_exit(r, 0, 1);
    return;
  }
  if (o->exit_on_change && r->runs > 0 && !r->job.pid) {
    begin_exit(r, 0, 1);
    return;
  }
  if (!r->job.pid || r->job.stopping) {
    r->want_start = 1;
    return;
  }
  switch (o->busy) {
  case BUSY_RESTART:
    stop_group(r);
    r->want_start = 1;
    break;
  case BUSY_QUEUE:
    r->want_start = 1;
    break;
  case BUSY_SIGNAL:
    (void)kill(-r->job.pgid, o->signal);
    run_changes_clear(&r->changes);
    break;
  case BUSY_IGNORE:
    run_changes_clear(&r->changes);
    break;
  }
}

/* -- signals ----------------------------------------------------------------- */

/* Whether stdin is a terminal that has been hung up (closed by its owner). */
static int terminal_hung_up(void) {
  struct termios t;
  return tcgetattr(0, &t) < 0 && errno == EIO;
}

static void on_signal(runner *r, int sig) {
  switch (sig) {
  case SIGCHLD:
    reap(r);
    break;
  case SIGINT:
  case SIGTERM:
    if (r->by_signal) {
      kill_group(r, 0); /* asked twice: no more grace */
      break;
    }
    r->by_signal = 1;
    stop_read = 1;
    r->exiting = 0; /* this exit, with status 0, replaces any other */
    begin_exit(r, EXIT_OK, 0);
    break;
  case SIGHUP:
    if (r->exiting)
      break;
    if (terminal_hung_up()) {
      /* Not a request to restart: the terminal is gone, and so are we. */
      begin_exit(r, EXIT_OK, 0);
      break;
    }
    stop_group(r);
    r->want_start = 1;
    break;
  }
}

static void read_signals(runner *r) {
#ifdef __linux__
  struct signalfd_siginfo si[16];
  for (;;) {
    ssize_t got = read(r->sfd, si, sizeof si);
    if (got <= 0)
      return;
    for (size_t i = 0; i < (size_t)got / sizeof si[0]; i++)
      on_signal(r, (int)si[i].ssi_signo);
  }
#else
  unsigned char b[64];
  for (;;) {
    ssize_t got = read(r->sfd, b, sizeof b);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return;
    for (ssize_t i = 0; i < got; i++)
      on_signal(r, b[i]);
  }
#endif
}

/* -- the loop ---------------------------------------------------------------- */

static int waiting_for_group(const runner *r) {
  return r->job.pgid && !r->job.pid && (r->want_start || r->exiting);
}

/* The most descriptors vigil asks to be waited on: its own, a backend or two, the mounts. */
#define VIGIL_FDS_MAX 15

/*
 * The signalfd, then what vigil says to wait on (asked again each turn: a
 * root added back after it went may bring a backend of its own). Returns
 * how many, or -1 with the message said and the signalfd alone in fds.
 */
static int wait_set(runner *r, struct pollfd *fds) {
  vigil_wait_fd vf[VIGIL_FDS_MAX];
  int n = vigil_wait_fds(r->v, vf, VIGIL_FDS_MAX);
  fds[0] = (struct pollfd){.fd = r->sfd, .events = POLLIN};
  if (n < 0 || n > VIGIL_FDS_MAX) {
    if (!r->exiting)
      say("waiting for events: %s", n < 0 ? vigil_strerror(n) : "too many descriptors");
    return -1;
  }
  for (int i = 0; i < n; i++)
    fds[1 + i] = (struct pollfd){.fd = vf[i].fd,
                                 .events = (short)((vf[i].events & VIGIL_WAIT_IN ? POLLIN : 0) |
                                                   (vf[i].events & VIGIL_WAIT_PRI ? POLLPRI : 0))};
  return 1 + n;
}

static int loop(runner *r) {
  struct pollfd fds[1 + VIGIL_FDS_MAX];
  r->want_start = !r->o->postpone;
  /* A stop asked for since the last look during setup comes before any run. */
  read_signals(r);
  for (;;) {
    /* Act on the state: a group that must go, a run that is due, the end. */
    if ((r->want_start || r->exiting) && !r->job.pid && r->job.pgid)
      stop_group(r);
    if (r->exiting && !r->job.pid && !r->job.pgid)
      break;
    if (r->want_start && !r->job.pid && !r->job.pgid)
      spawn(r);
    if (r->exiting && !r->job.pid && !r->job.pgid)
      break;

    int64_t now = run_now_ms(), due = INT64_MAX;
    if (r->burst_first)
      due = burst_due(r);
    if (r->job.stopping && !r->job.killed && r->job.deadline < due)
      due = r->job.deadline;
    if (waiting_for_group(r) && now + GROUP_POLL_MS < due)
      due = now + GROUP_POLL_MS;
    if (r->retry_at && r->retry_at < due)
      due = r->retry_at;
    int timeout = due == INT64_MAX ? -1
                  : due <= now     ? 0
                                   : (int)(due - now > INT_MAX ? INT_MAX : due - now);
    /* vigil's own deadline (a rename held back for its pair, say), where no descriptor has it. */
    int vigil_due = -1;
    if (vigil_timeout(r->v, &vigil_due) == 0 && vigil_due >= 0 &&
        (timeout < 0 || vigil_due < timeout))
      timeout = vigil_due;
    int nfds = wait_set(r, fds);
    if (nfds < 0) {
      /* The signals are still heard, and the command is stopped as on any error. */
      nfds = 1;
      if (!r->exiting)
        begin_exit(r, EXIT_ERROR, 0);
    }
    int n = poll(fds, (nfds_t)nfds, timeout);
    if (n < 0 && errno != EINTR) {
      say("poll: %s", strerror(errno));
      begin_exit(r, EXIT_ERROR, 0);
      continue;
    }
    if (n > 0 && (fds[0].revents & POLLIN))
      read_signals(r);
    /* Whatever became ready, or the deadline: vigil_read sorts it out, and never blocks here. */
    int vigil_ready = n == 0 && timeout == vigil_due;
    for (int i = 1; i < nfds && n > 0; i++)
      vigil_ready |= fds[i].revents != 0;
    if (vigil_ready)
      read_events(r);

    now = run_now_ms();
    if (r->job.stopping && !r->job.killed && now >= r->job.deadline)
      kill_group(r, 1);
    /* What was left behind since the stop began: a child of one that was stopped. */
    if (r->job.stopping && r->job.pgid)
      (void)signal_left_behind(r, r->job.killed ? SIGKILL : r->o->stop_signal, !r->job.killed);
    check_group(r);
    if (r->retry_at && now >= r->retry_at)
      retry_gone_roots(r);
    if (r->burst_first && now >= burst_due(r))
      trigger(r);
  }
  return r->exit_with_command ? r->last_status : r->exit_status;
}

/* -- setup ------------------------------------------------------------------- */

/* Whether vigil_open takes these patterns. */
static int patterns_ok(const char *const *pat, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (vigil_pattern_check(pat[i]) == VIGIL_EPATTERN)
      return 0;
  return 1;
}

/*
 * The patterns of one watched path, in git's tiers. The base patterns,
 * below the path's own .gitignore files (which the library reads), come
 * from git's files above and outside it, lowest precedence first. The
 * exclude patterns, above those .gitignore files as git's command line
 * is: .git, which git never looks into whatever a file says, then
 * --exclude.
 */
static int root_patterns(const run_opts *o, const char *root, run_strv *base, run_strv *pat) {
  if (!o->no_ignore_files && run_ignore_patterns(root, base) < 0)
    return -ENOMEM;
  /* git skips a malformed line of its files; vigil_add_opts would refuse it. */
  if (!patterns_ok((const char *const *)base->v, base->n)) {
    size_t k = 0;
    for (size_t i = 0; i < base->n; i++) {
      if (patterns_ok((const char *const *)&base->v[i], 1))
        base->v[k++] = base->v[i];
      else
        free(base->v[i]);
    }
    base->n = k;
  }
  if (run_strv_push(pat, ".git", 4) < 0)
    return -ENOMEM;
  for (size_t i = 0; i < o->common.nexclude; i++)
    if (run_strv_push(pat, o->common.exclude[i], strlen(o->common.exclude[i])) < 0)
      return -ENOMEM;
  return 0;
}

static int cancel_on_signal(void *userdata, size_t dirs) {
  (void)userdata;
  (void)dirs;
  return stop_asked();
}

/* The instance that watches every path; the patterns are each path's own. */
static int open_instance(runner *r) {
  const run_opts *o = r->o;
  vigil_options vo;
  vigil_options_init(&vo);
  vo.events = o->events | VIGIL_MASK(VIGIL_ERROR);
  vo.ignore_file = o->no_ignore_files ? NULL : ".gitignore";
  vo.progress = cancel_on_signal;
  vo.backend = o->common.backend;
  vo.poll_interval_ms = o->common.poll_interval_ms;
  vo.move_wait_ms = o->common.move_wait_ms;
  int rc = vigil_open(&r->v, &vo);
  if (rc < 0) {
    r->v = NULL;
    if (rc == VIGIL_EINSTLIMIT)
      cli_add_error(o->watch[0], rc, NULL);
    else
      say("cannot start watching: %s", vigil_strerror(rc));
    return EXIT_ERROR;
  }
  return 0;
}

/*
 * Watches one more path, unless it is one already watched under another
 * name (VIGIL_EEXIST: "src" and "src/"). Returns 0, -1 when SIGINT or
 * SIGTERM came during setup, or the exit status of an error.
 */
static int open_root(runner *r, const char *path) {
  run_root *root = &r->roots[r->nroots];
  *root = (run_root){.given = path};
  size_t n = strlen(path);
  while (n > 0 && path[n - 1] == '/')
    n--;
  root->prefix_len = n;
  if (root_patterns(r->o, path, &root->base, &root->pat) < 0) {
    run_strv_free(&root->base);
    run_strv_free(&root->pat);
    say("out of memory");
    return EXIT_ERROR;
  }
  int rc = add_root(r, root);
  if (rc == VIGIL_EEXIST) {
    run_strv_free(&root->base);
    run_strv_free(&root->pat);
    return 0;
  }
  r->nroots++;
  if (rc == -ECANCELED)
    return -1; /* SIGINT or SIGTERM during setup */
  if (rc < 0) {
    cli_add_error(path, rc, r->v);
    return EXIT_ERROR;
  }
  return 0;
}

#ifdef __linux__
static int signal_source(runner *r, const sigset_t *set) {
  if (sigprocmask(SIG_BLOCK, set, &r->req.sigmask) < 0)
    return -errno;
  r->sfd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (r->sfd < 0)
    return -errno;
  /* An ignored SIGCHLD would make the kernel reap the command unseen. */
  signal(SIGCHLD, SIG_DFL);
  return 0;
}
#else
static int signal_source(runner *r, const sigset_t *set) {
  int p[2];
  if (sigprocmask(SIG_BLOCK, NULL, &r->req.sigmask) < 0 || pipe(p) < 0)
    return -errno;
  for (int i = 0; i < 2; i++) {
    (void)fcntl(p[i], F_SETFD, FD_CLOEXEC);
    (void)fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
  }
  r->sfd = p[0];
  signal_pipe_wr = p[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_caught;
  sa.sa_flags = SA_RESTART;
  sigfillset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(set, sig) == 1 && sigaction(sig, &sa, NULL) < 0)
      return -errno;
  return 0;
}
#endif

/* Signals arrive through a signalfd; SIGTTOU and SIGPIPE are ignored. */
static int setup_signals(runner *r) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  int rc = signal_source(r, &set);
  if (rc < 0)
    return rc;
  /* vigil writes to the terminal and hands it over from the background. */
  signal(SIGTTOU, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  r->req.reset_sigs[0] = SIGTTOU;
  r->req.reset_sigs[1] = SIGPIPE;
  r->req.nreset = 2;
#ifdef __linux__
  /* Orphans of the command become vigil's to reap. */
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
  /* Without its tick (no timer to be had), a blocked write just waits. */
  (void)cli_set_stop_check(stop_asked);
  return 0;
}

static int user_reincludes_git(const run_opts *o) {
  for (size_t i = 0; i < o->common.nexclude; i++)
    if (o->common.exclude[i][0] == '!' && strstr(o->common.exclude[i], ".git"))
      return 1;
  return 0;
}

int cmd_run(int argc, char **argv) {
  run_opts o;
  runner r = {.o = &o, .sfd = -1};
  int status = EXIT_ERROR;
  if (parse_opts(argc, argv, &o) < 0)
    goto out_opts;
  if (make_command(&r) < 0) {
    say("out of memory");
    goto out_opts;
  }
  r.git_guard = !user_reincludes_git(&o);

  r.roots = calloc(o.nwatch, sizeof *r.roots);
  if (!r.roots) {
    say("out of memory");
    goto out_command;
  }
  int rc = setup_signals(&r);
  if (rc < 0) {
    say("cannot set up signals: %s", strerror(-rc));
    goto out_roots;
  }
  rc = open_instance(&r);
  for (size_t i = 0; rc == 0 && i < o.nwatch; i++) {
    rc = open_root(&r, o.watch[i]);
    if (rc == 0 && stop_asked())
      rc = -1;
  }
  if (rc < 0) {
    /* As vigil watch: stopped at once, without the ready line, and said. */
    if (!o.quiet)
      say("stopped during setup, before ready");
    status = EXIT_OK;
    goto out_roots;
  }
  if (rc != 0) {
    status = rc;
    goto out_roots;
  }
  if (!o.quiet) {
    cli_tick(1); /* as in say */
    cli_ready(r.v, "");
    cli_tick(0);
  }
  status = loop(&r);

out_roots:
  vigil_close(r.v);
  for (size_t i = 0; i < r.nroots; i++) {
    run_strv_free(&r.roots[i].base);
    run_strv_free(&r.roots[i].pat);
  }
  free(r.roots);
  if (r.sfd >= 0)
    close(r.sfd);
  run_changes_free(&r.changes);
  free(r.told);
out_command:
  if (r.req.argv)
    free_command(&r);
out_opts:
  free_opts(&o);
  return status;
}
