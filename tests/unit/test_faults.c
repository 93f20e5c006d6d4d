/*
 * Fault injection sweep (needs -DVIGIL_FAULT_INJECTION=ON). For each errno
 * of interest, the Nth allocation or system call of a whole
 * open/add/read/close run is made to fail, for every N the run reaches.
 * vigil must return an error or, for EINTR, recover completely; it must
 * never crash, leak a descriptor or memory (LeakSanitizer checks at exit),
 * or lose an event silently: every run either delivers the change, or
 * says why it could not (an error return, an error event or an overflow).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "helpers.h"
#include "vigil.h"

static char dir[64];

static void make_tree(void) {
  tu_tmpdir(dir, sizeof dir, "faults");
  char p[128];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/d%d", dir, i);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/d%d/f", dir, i);
    close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  }
}

enum outcome { DELIVERED, REPORTED };

/* Set: the root is added with options of its own (vigil_add_opts). */
static int root_options;
/* The backend of the runs: NULL for the default, or "poll" (a pass every 5 ms). */
static const char *backend;

/*
 * One run: open, add the tree, make a directory with a file in it, read
 * until the file is reported, close. Returns how the run ended; with the
 * fault disarmed it must be DELIVERED.
 */
static enum outcome run_once(unsigned long *calls) {
  char sub[128], file[160];
  snprintf(sub, sizeof sub, "%s/new", dir);
  snprintf(file, sizeof file, "%s/new/x", dir);
  enum outcome how = REPORTED;
  vigil_t *v = NULL;
  vigil_options o;
  vigil_options_init(&o);
  vigil_root_options ro;
  vigil_root_options_init(&ro);
  const char *inst[] = {"*.tmp"}, *own[] = {"*.o", "/d1"}, *base[] = {"*.log", "!keep.log"};
  if (root_options) {
    o.exclude = inst;
    o.exclude_count = 1;
    o.ignore_file = ".gitignore";
    ro.exclude = own;
    ro.exclude_count = 2;
    ro.ignore_file = ".vigilignore";
    ro.base_exclude = base;
    ro.base_exclude_count = 2;
  }
  o.backend = backend;
  o.poll_interval_ms = 5;
  int rc = vigil_open(&v, &o);
  if (rc < 0)
    goto out;
  rc = vigil_add_opts(v, dir, 0, &ro);
  if (rc < 0)
    goto out;
  if (mkdir(sub, 0755) == 0)
    close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  vigil_event ev;
  for (int idle = 0; idle < 20;) {
    rc = vigil_read(v, &ev, 25);
    if (rc < 0)
      goto out;
    if (rc == 0) {
      idle++;
      continue;
    }
    if (ev.kind == VIGIL_ERROR || ev.kind == VIGIL_OVERFLOW)
      goto out; /* said, not silent */
    if (ev.kind == VIGIL_CREATED && strcmp(ev.path, file) == 0) {
      how = DELIVERED;
      goto out;
    }
  }
out:
  vigil_close(v);
  if (calls)
    *calls = vigil__fault_calls();
  vigil__fault_set(0, 0);
  unlink(file);
  rmdir(sub);
  return how;
}

static void sweep(int err) {
  /* A clean run, counting its calls, to know how far to sweep. */
  unsigned long total = 0;
  vigil__fault_set(ULONG_MAX, 0);
  assert_int_equal(run_once(&total), DELIVERED);
  assert_true(total > 20);
  int fds = tu_count_fds();
  assert_true(fds > 0);
  unsigned long fired = 0;
  /* Runs vary a little (how many reads a wait takes), so sweep past the end. */
  for (unsigned long n = 1; n <= total + total / 4; n++) {
    vigil__fault_set(n, err);
    enum outcome how = run_once(NULL);
    if (err == EINTR && how != DELIVERED)
      fail_msg("EINTR at call %lu of %lu was not recovered", n, total);
    assert_int_equal(tu_count_fds(), fds);
    fired++;
  }
  /* Afterwards everything works as before. */
  assert_int_equal(run_once(NULL), DELIVERED);
  assert_int_equal(tu_count_fds(), fds);
  print_message("errno %d: %lu runs over %lu calls\n", err, fired, total);
}

static void sweep_eintr(void **state) {
  (void)state;
  sweep(EINTR);
}
static void sweep_enomem(void **state) {
  (void)state;
  sweep(ENOMEM);
}
static void sweep_emfile(void **state) {
  (void)state;
  sweep(EMFILE);
}
static void sweep_enospc(void **state) {
  (void)state;
  sweep(ENOSPC);
}
static void sweep_eacces(void **state) {
  (void)state;
  sweep(EACCES);
}
static void sweep_eio(void **state) {
  (void)state;
  sweep(EIO);
}

/* A root with patterns and an ignore file of its own: compiled, read, freed. */
static void sweep_root_options(void **state) {
  (void)state;
  tu_write_at(dir, ".vigilignore", "d2\n");
  root_options = 1;
  sweep(ENOMEM);
  sweep(EACCES);
  root_options = 0;
  char p[128];
  snprintf(p, sizeof p, "%s/.vigilignore", dir);
  assert_int_equal(unlink(p), 0);
}

/* The poll backend: its passes, records and second looks, and the observations it makes. */
static void sweep_poll(void **state) {
  (void)state;
  backend = "poll";
  sweep(ENOMEM);
  sweep(EINTR);
  sweep(EACCES);
  sweep(EMFILE);
  backend = NULL;
}

static int setup(void **state) {
  (void)state;
  make_tree();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return tu_rm_tree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sweep_eintr),        cmocka_unit_test(sweep_enomem),
      cmocka_unit_test(sweep_emfile),       cmocka_unit_test(sweep_enospc),
      cmocka_unit_test(sweep_eacces),       cmocka_unit_test(sweep_eio),
      cmocka_unit_test(sweep_root_options), cmocka_unit_test(sweep_poll),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
