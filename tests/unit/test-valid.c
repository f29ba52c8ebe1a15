/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "valid.h"

static void test_machine_name(void **state) {
        assert_true(machine_name_is_valid("bread"));
        assert_true(machine_name_is_valid("a"));
        assert_true(machine_name_is_valid("web_1.example-2"));
        assert_true(machine_name_is_valid("0day"));
        /* exactly 64 characters */
        assert_true(machine_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert_false(machine_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert_false(machine_name_is_valid(""));
        assert_false(machine_name_is_valid(NULL));
        assert_false(machine_name_is_valid(".bread"));
        assert_false(machine_name_is_valid("-bread"));
        assert_false(machine_name_is_valid("a..b"));
        assert_false(machine_name_is_valid("bread."));
        assert_false(machine_name_is_valid("a/b"));
        assert_false(machine_name_is_valid("a b"));
        assert_false(machine_name_is_valid("brot\xc3\xa9"));
        assert_false(machine_name_is_valid("a%i"));
}

static void test_hostname(void **state) {
        assert_true(hostname_is_valid("bread"));
        assert_true(hostname_is_valid("bread.example.org"));
        assert_true(hostname_is_valid("a-b"));
        assert_false(hostname_is_valid("-a"));
        assert_false(hostname_is_valid("a-"));
        assert_false(hostname_is_valid("a..b"));
        assert_false(hostname_is_valid("a_b"));
        assert_false(hostname_is_valid("a."));
        assert_false(hostname_is_valid(""));
}

static void test_unit_name(void **state) {
        assert_true(unit_name_is_valid("machines.target"));
        assert_true(unit_name_is_valid("multi-user.target"));
        assert_true(unit_name_is_valid("getty@tty1.service"));
        assert_false(unit_name_is_valid("machines"));
        assert_false(unit_name_is_valid("machines.tar"));
        assert_false(unit_name_is_valid("../x.target"));
        assert_false(unit_name_is_valid("a/b.target"));
        assert_false(unit_name_is_valid("@x.service"));
        assert_false(unit_name_is_valid(".target"));
}

static void test_package_name(void **state) {
        assert_true(package_name_is_valid("vim"));
        assert_true(package_name_is_valid("libc6"));
        assert_true(package_name_is_valid("g++"));
        assert_true(package_name_is_valid("libstdc++6:i386"));
        assert_false(package_name_is_valid("v"));
        assert_false(package_name_is_valid("Vim"));
        assert_false(package_name_is_valid("-vim"));
        assert_false(package_name_is_valid("vim;rm"));
        assert_false(package_name_is_valid("vim:vax"));
}

static void test_user_name(void **state) {
        assert_true(user_name_is_valid("alice"));
        assert_true(user_name_is_valid("_apt"));
        assert_true(user_name_is_valid("a.b-c_d"));
        assert_false(user_name_is_valid("1alice"));
        assert_false(user_name_is_valid("al ice"));
        assert_false(user_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_urls(void **state) {
        assert_true(url_is_valid("http://deb.debian.org/debian", false));
        assert_true(url_is_valid("https://x/y.tar.xz", false));
        assert_false(url_is_valid("file:///srv/x.tar", false));
        assert_true(url_is_valid("file:///srv/x.tar", true));
        assert_false(url_is_valid("file://relative", true));
        assert_false(url_is_valid("ftp://x/y", true));
        assert_false(url_is_valid("http://", true));
        assert_false(url_is_valid("http:///path", true));
        assert_false(url_is_valid("http://x/a b", true));
}

static void test_arch_and_misc(void **state) {
        assert_true(architecture_is_known("amd64"));
        assert_true(architecture_is_known("riscv64"));
        assert_false(architecture_is_known("x86_64"));
        assert_false(architecture_is_known(NULL));
        assert_non_null(strstr(architecture_list(), "arm64"));
        assert_true(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert_false(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"));
        assert_false(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"));
        assert_int_equal(parse_boolean("yes"), 1);
        assert_int_equal(parse_boolean("On"), 1);
        assert_int_equal(parse_boolean("0"), 0);
        assert_int_equal(parse_boolean("false"), 0);
        assert_int_equal(parse_boolean("maybe"), -EINVAL);
}

static void test_timespan(void **state) {
        uint64_t v;

        assert_int_equal(parse_timespan_sec("7d", &v), 0);
        assert_int_equal(v, 7 * 86400);
        assert_int_equal(parse_timespan_sec("90", &v), 0);
        assert_int_equal(v, 90);
        assert_int_equal(parse_timespan_sec("1d 12h", &v), 0);
        assert_int_equal(v, 86400 + 12 * 3600);
        assert_int_equal(parse_timespan_sec("30min", &v), 0);
        assert_int_equal(v, 1800);
        assert_int_equal(parse_timespan_sec("2w", &v), 0);
        assert_int_equal(v, 14 * 86400);
        assert_int_equal(parse_timespan_sec("infinity", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_timespan_sec("7 fortnights", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("-1d", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("99999999999999999999w", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_name), cmocka_unit_test(test_hostname),
                cmocka_unit_test(test_unit_name),    cmocka_unit_test(test_package_name),
                cmocka_unit_test(test_user_name),    cmocka_unit_test(test_urls),
                cmocka_unit_test(test_arch_and_misc), cmocka_unit_test(test_timespan),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
