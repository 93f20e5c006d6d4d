/*
 * A root is resolved once, at vigil_add: a relative root keeps watching
 * the directory it named when the program changes its working directory
 * afterwards, events keep the root exactly as given, and the descriptor
 * the root holds is close-on-exec and closed exactly once. Watches are
 * placed through /proc/self/fd; without /proc, vigil_open says so.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "vigil.h"

static char base[64];
static int home = -1; /* the working directory the test started in */

static void path_of(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", base, rel);
}

static void mk(const char *rel) {
  char p[256];
  path_of(p, sizeof p, rel);
  assert_int_equal(mkdir(p, 0755), 0);
}

static void put(const char *rel) {
  char p[256];
  path_of(p, sizeof p, rel);
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  close(fd);
}

static int setup(void **state) {
  (void)state;
  strcpy(base, "/tmp/vigil-roots-XXXXXX");
  assert_non_null(mkdtemp(base));
  home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return home < 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = fchdir(home);
  close(home);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", base);
  return rc || system(cmd);
}

/*
 * Reads events until created `marker`; returns how often `want` was
 * created among them, and fails on an event whose path is `never`.
 */
static int created_before(vigil_t *v, const char *want, const char *marker, const char *never) {
  int seen = 0;
  vigil_event ev;
  for (;;) {
    assert_int_equal(vigil_read(v, &ev, 5000), 1);
    if (ev.path && never)
      assert_string_not_equal(ev.path, never);
    assert_int_not_equal(ev.kind, VIGIL_ERROR);
    if (ev.kind != VIGIL_CREATED)
      continue;
    if (strcmp(ev.path, marker) == 0)
      return seen;
    seen += strcmp(ev.path, want) == 0;
  }
}

static void relative_root_survives_chdir(void **state) {
  (void)state;
  mk("a");
  mk("a/w");
  mk("b");
  mk("b/w"); /* what "w" names after the chdir: never to be watched */
  char a[256], b[256];
  path_of(a, sizeof a, "a");
  path_of(b, sizeof b, "b");
  assert_int_equal(chdir(a), 0);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  assert_int_equal(vigil_add(v, "w", 0), 0);
  assert_int_equal(chdir(b), 0);

  /* A new directory is watched and listed where the root is, not in b/w. */
  mk("a/w/sub");
  put("a/w/sub/f");
  put("b/w/decoy");
  put("a/w/m1");
  assert_int_equal(created_before(v, "w/sub/f", "w/m1", NULL), 1);
  put("a/w/sub/g");
  put("b/w/decoy2");
  put("a/w/m2");
  assert_int_equal(created_before(v, "w/sub/g", "w/m2", NULL), 1);

  /* A rename inside it is still one moved event with the paths as given. */
  char from[256], to[256];
  path_of(from, sizeof from, "a/w/sub");
  path_of(to, sizeof to, "a/w/sub2");
  assert_int_equal(rename(from, to), 0);
  vigil_event ev;
  do
    assert_int_equal(vigil_read(v, &ev, 5000), 1);
  while (ev.kind != VIGIL_MOVED);
  assert_string_equal(ev.path, "w/sub2");
  assert_string_equal(ev.from, "w/sub");

  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 1);
  assert_int_equal(st.dirs, 2);
  assert_int_equal(vigil_remove(v, "w"), 0);
  vigil_close(v);
}

/* Marks in `open` (a bitmap of the first 1024) which descriptors are open. */
static void open_fds(unsigned char *open) {
  memset(open, 0, 1024);
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != dirfd(d) && fd < 1024)
      open[fd] = 1;
  }
  closedir(d);
}

/* Is every descriptor opened since `before` close-on-exec? */
static int new_fds_cloexec(const unsigned char *before) {
  unsigned char now[1024];
  open_fds(now);
  int ok = 1;
  for (int fd = 0; fd < 1024; fd++)
    if (now[fd] && !before[fd])
      ok &= (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
  return ok;
}

static void root_descriptors_are_cloexec_and_closed_once(void **state) {
  (void)state;
  mk("r");
  mk("r/d");
  mk("s");
  char r[256];
  /* Another directory: "r" under a second spelling would be the same root. */
  path_of(r, sizeof r, "s");
  assert_int_equal(chdir(base), 0);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, NULL), 0);
  int before = tu_count_fds();
  assert_true(before > 0);
  unsigned char fds[1024];
  open_fds(fds);
  /* A relative root and an absolute one, added and removed twice. */
  for (int round = 0; round < 2; round++) {
    assert_int_equal(vigil_add(v, "r", 0), 0);
    assert_int_equal(vigil_add(v, r, 0), 0);
    assert_true(new_fds_cloexec(fds));
    assert_int_equal(vigil_remove(v, "r"), 0);
    assert_int_equal(vigil_remove(v, r), 0);
    assert_int_equal(tu_count_fds(), before);
  }
  /* A root that fails to be added leaves nothing open either. */
  assert_int_equal(vigil_add(v, "missing", 0), -ENOENT);
  assert_int_equal(tu_count_fds(), before);
  /* A root still held at vigil_close is closed by it. */
  assert_int_equal(vigil_add(v, "r", 0), 0);
  vigil_close(v);
  assert_true(tu_count_fds() < before);
}

/*
 * Without /proc no watch can be placed: vigil_open fails with
 * VIGIL_ENOPROC, whose text says what to do, rather than every watch
 * failing later as if its directory had vanished.
 */
static void no_proc_is_an_error_at_open(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        umount2("/proc", MNT_DETACH) < 0) {
      fprintf(stderr, "skipped: cannot unmount /proc in a mount namespace: %s\n", strerror(errno));
      _exit(TU_SKIP);
    }
    vigil_t *v = NULL;
    int rc = vigil_open(&v, NULL);
    _exit(rc == VIGIL_ENOPROC && v == NULL && strstr(vigil_strerror(rc), "/proc") ? 0 : 1);
  }
  tu_child_verdict(tu_reap(pid));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(relative_root_survives_chdir, setup, teardown),
      cmocka_unit_test_setup_teardown(root_descriptors_are_cloexec_and_closed_once, setup,
                                      teardown),
      cmocka_unit_test(no_proc_is_an_error_at_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
