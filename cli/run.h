/*
 * vigil run: run a command, and run it again when files change.
 *
 * run.c holds the options and the loop; the pieces it leans on are split
 * out by concept:
 *   run_proc.c     starting the command in its own process group, signal
 *                  names, durations and how a run ended;
 *   run_changes.c  the set of paths changed since the last run, and the
 *                  VIGIL_CHANGED / VIGIL_EVENTS values made from it;
 *   run_ignore.c   git's ignore files that the library does not read
 *                  itself: .gitignore files above the watched path,
 *                  .git/info/exclude and the global excludes file.
 */
#ifndef VIGIL_CLI_RUN_H
#define VIGIL_CLI_RUN_H

#include "vigil.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int cmd_run(int argc, char **argv);

/* -- run_proc.c ----------------------------------------------------------- */

/* Milliseconds on the monotonic clock. */
int64_t run_now_ms(void);

/* Writes a duration as it would be typed: "500ms", "5s", "1.5s", "2m". */
void run_format_duration(int64_t ms, char *buf, size_t size);

/* Writes an elapsed time for a report: "0.4s", "12s", "2m05s". */
void run_format_elapsed(int64_t ms, char *buf, size_t size);

/* Parses "TERM", "SIGTERM", "term" or "15"; returns the number or -1. */
int run_parse_signal(const char *s);

/* "SIGTERM" for 15; "SIG42" for a signal without a name. */
const char *run_signal_name(int sig, char *buf, size_t size);

/* How the command is started; filled by run.c, read by run_spawn. */
typedef struct {
  char **argv;       /* what execvp gets: COMMAND ARGS or SHELL -c STRING */
  char **envp;       /* the whole environment of the command */
  int interactive;   /* make its group the terminal's foreground group */
  sigset_t sigmask;  /* the signal mask vigil started with */
  int reset_sigs[4]; /* signals vigil changed, back to SIG_DFL in the child */
  size_t nreset;
} run_spawn_req;

/*
 * Forks and execs the command in a new process group whose id is its pid.
 * Returns 0 with *pid set; 0 with *pid = 0 and *exec_err set when the exec
 * itself failed (the child is then already reaped); or -errno when no
 * child could be made.
 */
int run_spawn(const run_spawn_req *req, pid_t *pid, int *exec_err);

/*
 * This process's children, at most max of them into out; returns how many
 * were written. vigil run is a subreaper, so these are the processes the
 * command left behind as well as the command itself. Reads
 * /proc/self/task/TID/children, or every /proc/PID/stat on a kernel
 * without that file.
 */
size_t run_children(pid_t *out, size_t max);

/* -- run_changes.c -------------------------------------------------------- */

/* VIGIL_CHANGED is at most this long, its final "..." line included. */
#define RUN_CHANGED_MAX (64 * 1024)

typedef struct {
  char *path;
  size_t len;
  unsigned char fresh; /* created since the last run: its removal cancels it */
  unsigned char gone;  /* created and removed again: not listed */
} run_change;

/* The changes since the last run. A zeroed struct is an empty set. */
typedef struct {
  run_change *items; /* in order of first appearance */
  size_t n, cap;
  size_t *slots; /* open addressing over items: index + 1, 0 for empty */
  size_t nslots;
  size_t bytes;   /* length of the listed paths, one newline each */
  unsigned kinds; /* mask of VIGIL_MASK(kind) seen */
  size_t events;  /* how many events were counted */
  int truncated;  /* some paths were not kept, to respect RUN_CHANGED_MAX */
} run_changes;

/*
 * Notes one event that counts. rel and from_rel are relative to the
 * watched path; from_rel only for moved, and either may be NULL when that
 * side does not count (see --ext). Returns 0 or -ENOMEM (then the set
 * only says it was truncated).
 */
int run_changes_note(run_changes *c, vigil_kind kind, const char *rel, const char *from_rel);

/* Empties the set. */
void run_changes_clear(run_changes *c);

/* Frees the set; it is then empty. */
void run_changes_free(run_changes *c);

/*
 * Makes "VIGIL_CHANGED=..." and "VIGIL_EVENTS=..." for the environment.
 * The strings are malloc'd; the caller frees them. Returns 0 or -ENOMEM.
 */
int run_changes_env(const run_changes *c, char **changed, char **events);

/* -- run_ignore.c --------------------------------------------------------- */

/* A growable array of malloc'd strings. */
typedef struct {
  char **v;
  size_t n, cap;
} run_strv;

int run_strv_push(run_strv *s, const char *str, size_t len);
void run_strv_free(run_strv *s);

/*
 * Appends to out the patterns, relative to the watched path root, that
 * come from git's ignore files the library does not read itself, in git's
 * order of precedence, lowest first: the global excludes file, then
 * .git/info/exclude, then the .gitignore files of the directories between
 * the top of the repository and root (root's own is read by the library).
 * They are root's base patterns (vigil_root_options.base_exclude): every
 * .gitignore inside root ranks above them, as in git.
 * Patterns written for a directory above root are translated so that they
 * mean the same below root; those that match root itself or a directory
 * above it are left out, since root was named on purpose. Returns 0 or
 * -ENOMEM; files that cannot be read are skipped, as git skips them.
 */
int run_ignore_patterns(const char *root, run_strv *out);

/*
 * Translates one gitignore line written for directory D into the patterns
 * that mean the same for a root at D/sub (sub: '/'-separated components,
 * "" for D itself). Appends nothing for a blank line, a comment, or a
 * pattern that can only match sub itself or a directory above it.
 * run_ignore_patterns calls it for every line it reads; it needs no file,
 * so a unit test can call it directly. Returns 0 or -ENOMEM.
 */
int run_ignore_translate(const char *line, const char *sub, run_strv *out);

#endif /* VIGIL_CLI_RUN_H */
