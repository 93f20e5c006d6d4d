/*
 * Links against the shared library, through the public header only: every
 * public function must be exported from libvigil.so (the library is built
 * with hidden symbols, and VIGIL_API marks the exports).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "vigil.h"

static void every_public_function_links(void **state) {
  (void)state;
  vigil_options o;
  assert_int_equal(vigil_options_init(&o), 0);
  vigil_t *v;
  assert_int_equal(vigil_open(&v, &o), 0);
  assert_true(vigil_fd(v) >= 0);
  assert_int_equal(vigil_add(v, ".", VIGIL_NORECURSE), 0);
  vigil_stats st;
  assert_int_equal(vigil_get_stats(v, &st, sizeof st), 0);
  assert_int_equal(st.roots, 1);
  assert_int_equal(vigil_wake(v), 0);
  vigil_event ev;
  assert_int_equal(vigil_read(v, &ev, 0), 0);
  assert_int_equal(vigil_start(v, NULL, NULL), -22); /* -EINVAL: no callback */
  assert_int_equal(vigil_stop(v, 0), 0);
  const char *backend;
  assert_int_equal(vigil_root_backend(v, ".", &backend), 0);
  assert_string_equal(backend, vigil_backend_name(0));
  int why = -1;
  assert_int_equal(vigil_root_fallback(v, ".", &why), 0);
  assert_int_equal(why, 0);
  assert_int_equal(vigil_remove(v, "."), 0);
  assert_string_equal(vigil_kind_name(VIGIL_MOVED), "moved");
  assert_int_equal(vigil_kind_parse("closed"), VIGIL_CLOSED);
  assert_non_null(vigil_strerror(VIGIL_EWATCHLIMIT));
  assert_int_equal(vigil_pattern_check("*.o"), 0);
  assert_int_equal(vigil_pattern_check("# a comment"), 0);
  assert_int_equal(vigil_pattern_check("[abc"), VIGIL_EPATTERN);
  assert_int_equal(vigil_version(), VIGIL_VERSION);
  assert_string_equal(vigil_version_string(), VIGIL_VERSION_STRING);
  vigil_close(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(every_public_function_links)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
