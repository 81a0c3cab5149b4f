/* Runs lwIP 2.1.3's own TCP unit tests (test/unit/tcp of the lwIP source, Check framework) on the
 * lwIP that ntmobile's patches made (patches/lwip), and ntmobile's tests of those patches
 * (test_ntm_tcp.c). CTest runs it as unit.lwip (tests/lwip/CMakeLists.txt). */
#include "lwip_check.h"

#include "ntm_tcp_tests.h"
#include "tcp/test_tcp.h"
#include "tcp/test_tcp_oos.h"

#include "lwip/init.h"
#include "lwip/stats.h"

/* lwIP's timers ask for the time; the tests drive the TCP timers themselves. */
u32_t sys_now(void) { return 0; }

/* As lwIP's test/unit/lwip_unittests.c (which also runs suites this build does not compile). */
Suite *create_suite(const char *name, testfunc *tests, size_t num_tests, SFun setup,
                    SFun teardown) {
  size_t i;
  Suite *s = suite_create(name);
  for (i = 0; i < num_tests; i++) {
    TCase *tc_core = tcase_create(name);
    if ((setup != NULL) || (teardown != NULL)) {
      tcase_add_checked_fixture(tc_core, setup, teardown);
    }
    tcase_add_named_test(tc_core, tests[i]);
    suite_add_tcase(s, tc_core);
  }
  return s;
}

void lwip_check_ensure_no_alloc(unsigned int skip) {
  int i;
  unsigned int mask;
  if (!(skip & SKIP_HEAP)) {
    fail_unless(lwip_stats.mem.used == 0);
  }
  for (i = 0, mask = 1; i < MEMP_MAX; i++, mask <<= 1) {
    if (!(skip & mask)) {
      fail_unless(lwip_stats.memp[i]->used == 0);
    }
  }
}

int main(void) {
  SRunner *sr;
  int failed;
  lwip_init();
  sr = srunner_create(tcp_suite());
  srunner_add_suite(sr, tcp_oos_suite());
  srunner_add_suite(sr, ntm_tcp_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
