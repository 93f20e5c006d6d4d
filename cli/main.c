/*
 * vigil: the command-line tool. main() only picks the subcommand.
 */
#include "cli.h"
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "Usage: vigil watch [options] PATH...\n"
    "       vigil run [options] [-w PATH]... -- COMMAND [ARGS...]\n"
    "\n"
    "Report file-system changes under each PATH, one line per event; or run a\n"
    "command, and run it again whenever files change.\n"
    "\n"
    "Commands:\n"
    "  watch     print events as they happen (see 'vigil watch --help')\n"
    "  run       run a command on every change (see 'vigil run --help')\n"
    "\n"
    "Options:\n"
    "  -h, --help      show this help\n"
    "  -V, --version   show the version\n"
    "\n"
    "See vigil(1) for the event contract and the exit statuses.\n";

void cli_error(const char *fmt, ...) {
  char line[8192] = "vigil: ";
  size_t pre = strlen(line);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + pre, sizeof line - pre - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t len = pre + (size_t)n;
  if (len > sizeof line - 2)
    len = sizeof line - 2;
  line[len++] = '\n';
  /* One write, so the line is never interleaved with a child's output. */
  (void)cli_write_all(2, line, len, NULL);
}

static int (*write_stop)(void);
static timer_t tick_timer;
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
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGALRM;
  if (timer_create(CLOCK_MONOTONIC, &sev, &tick_timer) < 0)
    return -errno;
  tick_ready = 1;
  return 0;
}

void cli_tick(int on) {
  if (!tick_ready)
    return;
  int saved = errno;
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (on) {
    its.it_value.tv_nsec = CLI_TICK_MS * 1000000L;
    its.it_interval = its.it_value;
  }
  /* timer_settime is async-signal-safe (POSIX), unlike setitimer. */
  (void)timer_settime(tick_timer, 0, &its, NULL);
  errno = saved;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 1;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "watch") == 0)
    return cmd_watch(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
    printf("vigil %s\n", vigil_version_string());
    return 0;
  }
  if (cmd[0] == '-')
    cli_error("unknown option '%s'; try 'vigil --help'", cmd);
  else
    cli_error("unknown command '%s'; try 'vigil --help'", cmd);
  return 1;
}
