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

/* Writes all of buf to fd; 0 or -errno. */
int cli_write_all(int fd, const char *buf, size_t len);

#endif /* VIGIL_CLI_H */
