/* The subcommands of the vigil tool, and what they share. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "vigil.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

int cmd_watch(int argc, char **argv);

/*
 * Parses a duration such as "500ms", "2s", "1.5s", "1m" or "1h" into
 * milliseconds; "0" needs no unit. Returns 0, or -1 if s is not one.
 * (common.c: vigil watch takes one too, where vigil run is not built.)
 */
int run_parse_duration(const char *s, int64_t *ms);

/* The shared helpers below are in common.c. */

/* Prints "vigil: " and the message on stderr, in one write. */
#include <stdio.h> /* on mingw-w64, __MINGW_PRINTF_FORMAT */

/* mingw-w64's printf is C99's (%zu) only as its own format, gnu_printf. */
#ifdef __MINGW_PRINTF_FORMAT
#define CLI_PRINTF __MINGW_PRINTF_FORMAT
#else
#define CLI_PRINTF printf
#endif
void cli_error(const char *fmt, ...) __attribute__((format(CLI_PRINTF, 1, 2)));
void cli_verror(const char *fmt, va_list ap) __attribute__((format(CLI_PRINTF, 1, 0)));

/* Explains why vigil_add failed for path, naming the cause and the fix. */
void cli_add_error(const char *path, int err, const vigil_t *v);
/*
 * After path was added: if "auto" polls it because inotify could not be
 * had (vigil_root_fallback), says so, with the limit to raise; once for
 * each cause. lead goes before the line (see cli_ready).
 */
void cli_added(vigil_t *v, const char *path, const char *lead);

/* Parses "created,removed" into a vigil_options.events mask; 0 on error. */
unsigned cli_parse_events(const char *list);

/*
 * Is name "auto" or a backend built into the library? 0 if so; if not, -1
 * with why set to a message naming the backends that are built in.
 */
int cli_check_backend(const char *name, char *why, size_t n);

/*
 * Writes all of buf to fd; 0 or -errno. A write that blocks, because the
 * reader of a pipe or a terminal does not read, is retried after each
 * signal that interrupts it, unless the check set by cli_set_stop_check
 * says to stop: then it returns -ECANCELED. *done (when not NULL) is set
 * to the number of bytes written, whatever the result.
 */
int cli_write_all(int fd, const char *buf, size_t len, size_t *done);

/*
 * Sets the check cli_write_all consults after an interrupted write (NULL:
 * never give up), and installs a SIGALRM handler that does nothing but
 * interrupt, for cli_tick. Returns 0 or -errno.
 */
int cli_set_stop_check(int (*stop)(void));

/*
 * Starts (on = 1) or stops a SIGALRM every CLI_TICK_MS. While it runs, a
 * write blocked on a reader that does not read returns often enough for
 * the stop check to be consulted: a stop request that came just before the
 * write began, and so did not interrupt it, still ends it. Async-signal-
 * safe, so a signal handler can start it.
 */
void cli_tick(int on);
#define CLI_TICK_MS 10

/*
 * The options both subcommands take. Their getopt tables list
 * CLI_COMMON_LONGOPTS, and their option switch hands every other code to
 * cli_common_option, which also answers getopt's ':' (a value missing)
 * and '?' (an unknown option), so both say the same for the same mistake.
 */
enum {
  CLI_OPT_EXCLUDE = 0x1000,
  CLI_OPT_EVENTS,
  CLI_OPT_BACKEND,
  CLI_OPT_POLL_INTERVAL,
  CLI_OPT_MOVE_WAIT
};
/* clang-format off */
#define CLI_COMMON_LONGOPTS                                   \
  {"exclude", required_argument, NULL, CLI_OPT_EXCLUDE},      \
  {"events", required_argument, NULL, CLI_OPT_EVENTS},        \
  {"backend", required_argument, NULL, CLI_OPT_BACKEND},     \
  {"poll-interval", required_argument, NULL, CLI_OPT_POLL_INTERVAL}, \
  {"move-wait", required_argument, NULL, CLI_OPT_MOVE_WAIT}
/* clang-format on */

typedef struct {
  const char **exclude; /* --exclude, in order; the strings are argv's */
  size_t nexclude;
  unsigned events;      /* --events as a mask, or 0 */
  const char *backend;  /* --backend, or NULL */
  int poll_interval_ms; /* --poll-interval, or 0 */
  int move_wait_ms;     /* --move-wait, or 0 */
} cli_common;

/* Makes room for argc patterns; 0 or -ENOMEM. cli_common_free frees it. */
int cli_common_init(cli_common *c, int argc);
void cli_common_free(cli_common *c);

/*
 * Handles option opt (getopt's code) with value arg. word is the word of
 * the command line that holds it (argv[optind - 1]), cmd the subcommand's
 * name for the hint, kinds the mask of kinds --events accepts. Returns 0,
 * or -1 after an error line: a malformed pattern, an unknown kind, a
 * backend not built in, a bad duration, a value missing, or an option
 * unknown.
 */
int cli_common_option(cli_common *c, int opt, const char *arg, const char *word, const char *cmd,
                      unsigned kinds);

/* "vigil: ready, watching N directories" on stderr, after lead (such as "\r\033[K"). */
void cli_ready(const vigil_t *v, const char *lead);

#endif /* VIGIL_CLI_H */
