/*
 * vigil: the command-line tool. main() only picks the subcommand.
 */
#include "cli.h"
#ifndef _WIN32
#include "run.h" /* vigil run is not built on Windows yet */
#endif

#include <stdio.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif
#include <string.h>

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

int main(int argc, char **argv) {
#ifdef _WIN32
  /* Bytes as written: lines end in \n, as on every system, not \r\n. */
  _setmode(1, _O_BINARY);
  _setmode(2, _O_BINARY);
#endif
  if (argc < 2) {
    fputs(usage, stderr);
    return 1;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "watch") == 0)
    return cmd_watch(argc - 1, argv + 1);
  if (strcmp(cmd, "run") == 0) {
#ifdef _WIN32
    cli_error("'vigil run' is not built on Windows yet; 'vigil watch' is");
    return 1;
#else
    return cmd_run(argc - 1, argv + 1);
#endif
  }
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
