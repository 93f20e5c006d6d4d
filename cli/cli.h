/* The subcommands of the vigil tool, and what they share. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H

#include "vigil.h"

#include <stddef.h>

int cmd_watch(int argc, char **argv);

/* Prints "vigil: " and the message on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Explains why vigil_add failed for path, naming the cause and the fix. */
void cli_add_error(const char *path, int err, const vigil_t *v);

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

#endif /* VIGIL_CLI_H */
