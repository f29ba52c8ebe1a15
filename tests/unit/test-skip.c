/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program whose test calls skip() exits 77 (a skip for meson), not 0; a failure beats a skip. */
#include <sys/wait.h>

#include "tests.h"

static void passes(void **state) {
}

static void skips(void **state) {
        skip();
}

static void fails(void **state) {
        fail_msg("failing on purpose");
}

static void skips_part(void **state) {
        tests_skip_part("a part that cannot run here");
}

/* runs a group in a child, as its own program would, and returns its exit status */
static int run_child(int which) {
        const struct CMUnitTest pass[] = { cmocka_unit_test(passes) };
        const struct CMUnitTest skip_one[] = { cmocka_unit_test(passes), cmocka_unit_test(skips) };
        const struct CMUnitTest skip_fail[] = { cmocka_unit_test(skips), cmocka_unit_test(fails) };
        const struct CMUnitTest part[] = { cmocka_unit_test(skips_part) };
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                tests_skipped = false;
                switch (which) {
                case 0:
                        _exit(cmocka_run_group_tests(pass, NULL, NULL));
                case 1:
                        _exit(cmocka_run_group_tests(skip_one, NULL, NULL));
                case 2:
                        _exit(cmocka_run_group_tests(skip_fail, NULL, NULL));
                default:
                        _exit(cmocka_run_group_tests(part, NULL, NULL));
                }
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_skip_is_reported(void **state) {
        assert_int_equal(run_child(0), 0);
        assert_int_equal(run_child(1), 77);
        assert_int_equal(run_child(2), 1);
        assert_int_equal(run_child(3), 77);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_skip_is_reported),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
