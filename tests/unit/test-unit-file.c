/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "unit-file.h"

static int parse_string(const char *text, UnitFile *u, Diagnostics *d) {
        _cleanup_fclose_ FILE *f = fmemopen((void *) text, strlen(text), "r");
        assert_non_null(f);
        return unit_file_parse(u, "test.mspawn", f, d);
}

static void assert_item(const UnitFile *u, size_t i, const char *section, const char *key, const char *value,
                        unsigned line) {
        assert_true(i < u->n);
        assert_string_equal(u->items[i].section, section);
        assert_string_equal(u->items[i].key, key);
        assert_string_equal(u->items[i].value, value);
        assert_int_equal(u->items[i].line, line);
}

static void test_basic(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("# comment\n"
                                      "; other comment\n"
                                      "[Machine]\n"
                                      "Distribution = debian\n"
                                      "  Release=bookworm  \n"
                                      "\n"
                                      "[Files]\n"
                                      "Bind=/a\n"
                                      "Bind=/b\n"
                                      "Bind=\n"
                                      "Bind=/c:/d\n",
                                      &u, &d),
                         0);
        assert_int_equal(u.n, 6);
        assert_item(&u, 0, "Machine", "Distribution", "debian", 4);
        assert_item(&u, 1, "Machine", "Release", "bookworm", 5);
        assert_item(&u, 2, "Files", "Bind", "/a", 8);
        assert_item(&u, 3, "Files", "Bind", "/b", 9);
        assert_item(&u, 4, "Files", "Bind", "", 10);
        assert_item(&u, 5, "Files", "Bind", "/c:/d", 11);
        assert_int_equal(d.n, 0);
}

static void test_continuation(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("[Machine]\n"
                                      "Packages=vim \\\n"
                                      "# a comment inside is skipped\n"
                                      "  less \\\n"
                                      "  curl\n"
                                      "Mirror=http://x/\\\\\n"
                                      "Variant=minbase\n",
                                      &u, &d),
                         0);
        assert_int_equal(u.n, 3);
        assert_item(&u, 0, "Machine", "Packages", "vim    less    curl", 2);
        /* an escaped backslash at the end does not continue */
        assert_item(&u, 1, "Machine", "Mirror", "http://x/\\\\", 6);
        assert_item(&u, 2, "Machine", "Variant", "minbase", 7);
}

static void test_continuation_at_eof(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("[Exec]\nParameters=a \\", &u, &d), 0);
        assert_int_equal(u.n, 1);
        assert_item(&u, 0, "Exec", "Parameters", "a", 2);
}

static void test_crlf_and_value_with_equals(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("[Exec]\r\nEnvironment=A=b=c\r\n", &u, &d), 0);
        assert_int_equal(u.n, 1);
        assert_item(&u, 0, "Exec", "Environment", "A=b=c", 2);
}

static void test_errors(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("Key=outside\n"
                                      "[Machine\n"
                                      "[]\n"
                                      "[Machine]\n"
                                      "no equals sign\n"
                                      "=value\n"
                                      "Release=sid\n",
                                      &u, &d),
                         -EBADMSG);
        /* every error is reported, and the good line after them still parsed */
        assert_int_equal(d.n, 5);
        assert_int_equal(d.items[0].line, 1);
        assert_non_null(strstr(d.items[0].message, "outside of any section"));
        assert_int_equal(d.items[1].line, 2);
        assert_non_null(strstr(d.items[1].message, "Invalid section header"));
        assert_int_equal(d.items[2].line, 3);
        assert_int_equal(d.items[3].line, 5);
        assert_non_null(strstr(d.items[3].message, "Missing '='"));
        assert_int_equal(d.items[4].line, 6);
        assert_string_equal(d.items[4].file, "test.mspawn");
        assert_int_equal(u.n, 1);
        assert_item(&u, 0, "Machine", "Release", "sid", 7);
}

static void test_missing_file(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(unit_file_parse_path(&u, "/nonexistent/x.mspawn", &d), -ENOENT);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.items[0].file, "/nonexistent/x.mspawn");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_continuation),
                cmocka_unit_test(test_continuation_at_eof),
                cmocka_unit_test(test_crlf_and_value_with_equals),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_missing_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
