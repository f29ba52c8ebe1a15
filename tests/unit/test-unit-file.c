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

static int parse_bytes(const char *text, size_t n, UnitFile *u, Diagnostics *d) {
        _cleanup_free_ char *buf = malloc(n + 1);
        assert_non_null(buf);
        memcpy(buf, text, n);
        buf[n] = 0;
        return unit_file_parse_buffer(u, "test.mspawn", buf, n, d);
}
#define PARSE_BYTES(s, u, d) parse_bytes((s), sizeof(s) - 1, (u), (d))

static void test_line_ends(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        /* CR alone ends a line, CR LF and LF CR are one end each, CR CR two */
        assert_int_equal(PARSE_BYTES("[Exec]\rBoot=yes\rPrivateUsers=no\r\nA=1\n\rB=2\r\rC=3", &u, &d), 0);
        assert_int_equal(u.n, 5);
        assert_item(&u, 0, "Exec", "Boot", "yes", 2);
        assert_item(&u, 1, "Exec", "PrivateUsers", "no", 3);
        assert_item(&u, 2, "Exec", "A", "1", 4);
        assert_item(&u, 3, "Exec", "B", "2", 5);
        assert_item(&u, 4, "Exec", "C", "3", 7);
}

static void test_bom(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        /* skipped once, at the first line that has it, as systemd does; a second one is content */
        assert_int_equal(PARSE_BYTES("\xEF\xBB\xBF[Exec]\nA=\xEF\xBB\xBFx\n", &u, &d), 0);
        assert_int_equal(u.n, 1);
        assert_item(&u, 0, "Exec", "A", "\xEF\xBB\xBFx", 2);
        assert_int_equal(PARSE_BYTES("[Exec]\n\xEF\xBB\xBF[Files]\nB=1\n", &u, &d), 0);
        assert_item(&u, 1, "Files", "B", "1", 3);
        assert_int_equal(PARSE_BYTES("\xEF\xBB\xBF[Exec]\n\xEF\xBB\xBF[Files]\n", &u, &d), -EBADMSG);
}

static void test_nul(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(PARSE_BYTES("[Exec]\r\nBoot=yes\0PrivateUsers=no\n", &u, &d), -EBADMSG);
        assert_int_equal(u.n, 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.items[0].line, 2);
        assert_non_null(strstr(d.items[0].message, "NUL"));
}

static void test_blanks_and_controls(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        /* tab is a blank; vertical tab, form feed, DEL and other controls are errors naming the key */
        assert_int_equal(PARSE_BYTES("[Exec]\n\tA = \tx\ty\t\nB=\v\nC=x\f\n\fD=1\nE=\x7f\nF=\x1b[1m\n", &u, &d),
                         -EBADMSG);
        assert_int_equal(u.n, 1);
        assert_item(&u, 0, "Exec", "A", "x\ty", 2);
        assert_int_equal(d.n, 5);
        assert_non_null(strstr(d.items[0].message, "B=: control character 0x0b"));
        assert_non_null(strstr(d.items[1].message, "C=: control character 0x0c"));
        assert_non_null(strstr(d.items[2].message, "Control character 0x0c in line"));
        assert_non_null(strstr(d.items[3].message, "E=: control character 0x7f"));
        assert_non_null(strstr(d.items[4].message, "F=: control character 0x1b"));
        assert_int_equal(d.items[4].line, 7);
}

static void test_utf8(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_true(utf8_is_valid_n("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7", 14));
        assert_false(utf8_is_valid_n("\xc0\xaf", 2));         /* overlong '/' */
        assert_false(utf8_is_valid_n("\xe0\x80\xaf", 3));     /* overlong, three bytes */
        assert_false(utf8_is_valid_n("\xed\xa0\x80", 3));     /* surrogate */
        assert_false(utf8_is_valid_n("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
        assert_false(utf8_is_valid_n("\xe2\x82", 2));         /* cut short */
        assert_false(utf8_is_valid_n("\x80", 1));

        /* comments are not looked at; values are */
        assert_int_equal(PARSE_BYTES("# \xff\n[Unit]\nDescription=\xff\nAfter=x\n\xfe=1\n", &u, &d), -EBADMSG);
        assert_int_equal(u.n, 1);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.items[0].line, 3);
        assert_non_null(strstr(d.items[0].message, "Description=: the value is not valid UTF-8"));
        assert_non_null(strstr(d.items[1].message, "Line is not valid UTF-8"));
}

static void test_trailing_backslash(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(parse_string("[Exec]\nParameters=--foo \\ \nPrivateUsers=no\nA=x\\\\ \n", &u, &d), -EBADMSG);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.items[0].line, 2);
        assert_non_null(strstr(d.items[0].message, "Parameters=: the value ends in a backslash"));
        assert_int_equal(u.n, 2);
        assert_item(&u, 0, "Exec", "PrivateUsers", "no", 3);
        assert_item(&u, 1, "Exec", "A", "x\\\\", 4);
}

static void test_safe_for_writing(void **state) {
        assert_true(unit_value_is_safe(""));
        assert_true(unit_value_is_safe("a\tb \xc3\xa9 \\\\"));
        assert_false(unit_value_is_safe("a\\"));
        assert_false(unit_value_is_safe("a\nb"));
        assert_false(unit_value_is_safe("a\rb"));
        assert_false(unit_value_is_safe("a\vb"));
        assert_false(unit_value_is_safe(" a"));
        assert_false(unit_value_is_safe("a\t"));
        assert_false(unit_value_is_safe("\xff"));
        assert_true(unit_key_is_safe("Bind"));
        assert_false(unit_key_is_safe(""));
        assert_false(unit_key_is_safe("A=B"));
        assert_false(unit_key_is_safe("#A"));
        assert_false(unit_key_is_safe("[A"));
        assert_false(unit_key_is_safe("\xEF\xBB\xBF" "A"));

        _cleanup_free_ char *e = unit_escape_comment("a\nb\\c\xff");
        assert_string_equal(e, "a\\x0ab\\x5cc\\xff");
}

static void test_size_cap(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *root = tests_mkdtemp(), *p = NULL, *big = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;

        big = malloc(UNIT_FILE_SIZE_MAX + 2);
        assert_non_null(big);
        memset(big, '#', UNIT_FILE_SIZE_MAX + 1);
        big[UNIT_FILE_SIZE_MAX + 1] = 0;
        tests_write(root, "big.mspawn", big);
        assert_true(asprintf(&p, "%s/big.mspawn", root) > 0);
        assert_int_equal(unit_file_parse_path(&u, p, &d), -EFBIG);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.items[0].message, "File is 1048577 bytes, more than the 1048576 allowed"));
        assert_string_equal(d.items[0].file, p);

        /* a character device is read up to the cap, never without bound */
        assert_int_equal(unit_file_read_at(AT_FDCWD, "/dev/zero", &buf, &size), -EFBIG);
        assert_int_equal(unit_file_read_at(AT_FDCWD, "/dev/null", &buf, &size), 0);
        assert_int_equal(size, 0);
        free(buf);
        buf = NULL;

        big[UNIT_FILE_SIZE_MAX] = 0;
        tests_write(root, "big.mspawn", big);
        assert_int_equal(unit_file_read_at(AT_FDCWD, p, &buf, &size), 0);
        assert_int_equal(size, UNIT_FILE_SIZE_MAX);
        tests_rm_rf(root);
}

/* "%m" in a finding is the finding's error, not what errno happened to hold */
static void test_diag_errno(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};

        errno = ENOENT;
        assert_int_equal(diag_error(&d, "f", 1, EFBIG, "x: %m"), -EFBIG);
        assert_string_equal(d.items[0].message, "x: File too large");
        for (int i = 0; i < 100; i++)
                diag_warning(&d, "f", i, "w");
        assert_int_equal(d.n, 101);
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
                cmocka_unit_test(test_line_ends),
                cmocka_unit_test(test_bom),
                cmocka_unit_test(test_nul),
                cmocka_unit_test(test_blanks_and_controls),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_trailing_backslash),
                cmocka_unit_test(test_safe_for_writing),
                cmocka_unit_test(test_size_cap),
                cmocka_unit_test(test_diag_errno),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
