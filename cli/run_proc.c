/*
 * vigil run: starting the command, and the small vocabularies around it
 * (signal names, durations).
 */
#include "run.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __GLIBC__
extern char **environ;
#endif

int64_t run_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void run_format_duration(int64_t ms, char *buf, size_t size) {
  long long v = (long long)ms;
  if (v > 0 && v % 3600000 == 0)
    snprintf(buf, size, "%lldh", v / 3600000);
  else if (v > 0 && v % 60000 == 0)
    snprintf(buf, size, "%lldm", v / 60000);
  else if (v > 0 && v % 1000 == 0)
    snprintf(buf, size, "%llds", v / 1000);
  else if (v < 1000)
    snprintf(buf, size, "%lldms", v);
  else {
    /* 1.5s, 1.25s, 1.125s: as many decimals as it takes, at most three. */
    int n = snprintf(buf, size, "%lld.%03lld", v / 1000, v % 1000);
    while (n > 0 && (size_t)n < size && buf[n - 1] == '0')
      buf[--n] = '\0';
    if ((size_t)n + 1 < size) {
      buf[n] = 's';
      buf[n + 1] = '\0';
    }
  }
}

void run_format_elapsed(int64_t ms, char *buf, size_t size) {
  if (ms < 0)
    ms = 0;
  if (ms < 9950)
    snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
  else if (ms < 59500)
    snprintf(buf, size, "%llds", (long long)((ms + 500) / 1000));
  else {
    long long s = (long long)((ms + 500) / 1000);
    snprintf(buf, size, "%lldm%02llds", s / 60, s % 60);
  }
}

static const struct {
  int sig;
  const char *name;
} signals[] = {
    {SIGHUP, "HUP"},       {SIGINT, "INT"},   {SIGQUIT, "QUIT"},   {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"},     {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},     {SIGFPE, "FPE"},
    {SIGKILL, "KILL"},     {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},   {SIGUSR2, "USR2"},
    {SIGPIPE, "PIPE"},     {SIGALRM, "ALRM"}, {SIGTERM, "TERM"},   {SIGCHLD, "CHLD"},
    {SIGCONT, "CONT"},     {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"},   {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"},     {SIGURG, "URG"},   {SIGXCPU, "XCPU"},   {SIGXFSZ, "XFSZ"},
    {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"}, {SIGWINCH, "WINCH"}, {SIGIO, "IO"},
    {SIGSYS, "SYS"},
#ifdef SIGPWR
    {SIGPWR, "PWR"},
#endif
};

int run_parse_signal(const char *s) {
  if (isdigit((unsigned char)s[0])) {
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || n < 1 || n >= NSIG)
      return -1;
    return (int)n;
  }
  if (strncasecmp(s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (strcasecmp(s, signals[i].name) == 0)
      return signals[i].sig;
  return -1;
}

const char *run_signal_name(int sig, char *buf, size_t size) {
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    if (signals[i].sig == sig) {
      snprintf(buf, size, "SIG%s", signals[i].name);
      return buf;
    }
  snprintf(buf, size, "SIG%d", sig);
  return buf;
}

/*
 * The child's side, between fork and exec. It puts itself in its own
 * group (the parent does the same, so neither order of the two matters),
 * takes the terminal if asked (vigil ignores SIGTTOU, and the child still
 * does here, so a background group may do it), undoes vigil's signal
 * settings, and execs. A failed exec is reported through errfd.
 */
static void child_exec(const run_spawn_req *req, int errfd) {
  int err = 0;
  if (setpgid(0, 0) < 0)
    err = errno;
  if (!err && req->interactive)
    (void)tcsetpgrp(0, getpid());
  if (!err && !req->interactive) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || (fd != 0 && dup2(fd, 0) < 0))
      err = errno;
    if (fd > 0)
      close(fd);
  }
  if (!err) {
    for (size_t i = 0; i < req->nreset; i++)
      signal(req->reset_sigs[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, &req->sigmask, NULL);
#ifdef __GLIBC__
    execvpe(req->argv[0], req->argv, req->envp);
#else
    /* Between fork and exec only this thread runs: environ is ours to set. */
    environ = req->envp;
    execvp(req->argv[0], req->argv);
#endif
    err = errno;
  }
  (void)!write(errfd, &err, sizeof err);
  _exit(err == ENOENT ? 127 : 126);
}

int run_spawn(const run_spawn_req *req, pid_t *pid, int *exec_err) {
  int p[2];
  *pid = 0;
  *exec_err = 0;
#ifdef __linux__
  if (pipe2(p, O_CLOEXEC) < 0)
    return -errno;
#else
  /* The command line runs one thread: no other fork can take the pipe along. */
  if (pipe(p) < 0)
    return -errno;
  (void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
  (void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
#endif
  pid_t child = fork();
  if (child < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return -e;
  }
  if (child == 0) {
    close(p[0]);
    child_exec(req, p[1]);
  }
  close(p[1]);
  /* Both sides set the group, so that it exists before anyone signals it. */
  (void)setpgid(child, child);
  /* EOF means the exec succeeded (the pipe is close-on-exec). */
  int err = 0;
  ssize_t got;
  do
    got = read(p[0], &err, sizeof err);
  while (got < 0 && errno == EINTR);
  close(p[0]);
  if (got == (ssize_t)sizeof err) {
    /* It has written and is exiting at once: this wait is short. */
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    if (req->interactive)
      (void)tcsetpgrp(0, getpgrp());
    *exec_err = err ? err : EIO;
    return 0;
  }
  *pid = child;
  return 0;
}

/* The children listed by scanning /proc, for a kernel without the children file. */
static size_t children_by_scan(pid_t self, pid_t *out, size_t max) {
  DIR *d = opendir("/proc");
  if (!d)
    return 0;
  size_t n = 0;
  struct dirent *e;
  while (n < max && (e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got <= 0)
      continue;
    buf[got] = '\0';
    /* "pid (name) state ppid ...": the name may hold spaces and parentheses. */
    const char *rp = strrchr(buf, ')');
    char state;
    long ppid;
    if (rp && sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == (long)self)
      out[n++] = (pid_t)atol(e->d_name);
  }
  closedir(d);
  return n;
}

size_t run_children(pid_t *out, size_t max) {
  pid_t self = getpid();
  char path[64];
  /* vigil forks from its main thread, and orphans are given to it too. */
  snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)self);
  FILE *f = fopen(path, "re");
  if (!f)
    return children_by_scan(self, out, max);
  size_t n = 0;
  long pid;
  while (n < max && fscanf(f, "%ld", &pid) == 1)
    out[n++] = (pid_t)pid;
  fclose(f);
  return n;
}
