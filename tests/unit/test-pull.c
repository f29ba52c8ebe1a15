/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "tests.h"

#include "pull.h"
#include "strv.h"

static void test_archive_path_is_safe(void **state) {
        static const struct {
                const char *path;
                bool safe;
        } cases[] = {
                { "etc", true },
                { "etc/passwd", true },
                { "./etc/passwd", true },
                { "a/./b", true },
                { "a//b", true },
                { "a/b/", true },
                { "..a", true }, /* only ".." itself climbs */
                { "a..", true },
                { "a/..b/c", true },
                { "...", true },
                { ".../x", true },
                { NULL, false },
                { "", false },
                { "/", false },
                { "/etc/passwd", false },
                { "//etc", false },
                { "..", false },
                { "../x", false },
                { "../../outside/evil", false },
                { "a/..", false },
                { "a/../b", false },
                { "etc/../../outside", false },
                { "a//..//b", false },
                { "./..", false },
                { "a/b/../../..", false },
                { "../", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                bool r = archive_path_is_safe(cases[i].path);
                if (r != cases[i].safe)
                        fail_msg("archive_path_is_safe(\"%s\") = %s", cases[i].path ?: "(null)", r ? "true" : "false");
        }
}

static void test_archive_path_length(void **state) {
        char p[PATH_MAX + 1];

        /* PATH_MAX - 1 characters fit with the terminating NUL; PATH_MAX do not */
        memset(p, 'a', sizeof p);
        for (size_t i = 100; i < sizeof p; i += 100)
                p[i] = '/';
        p[PATH_MAX - 1] = 0;
        assert_true(archive_path_is_safe(p));
        p[PATH_MAX - 1] = 'a';
        p[PATH_MAX] = 0;
        assert_false(archive_path_is_safe(p));
}

#define H1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define H3 "1111111111111111111111111111111111111111111111111111111111111111"
#define H4 "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
#define H5 "2222222222222222222222222222222222222222222222222222222222222222"

static const char SUMS[] =
        H3 "  rootfs.tar.gz\n"    /* a longer name first: not a match for "rootfs.tar" */
        H3 "  sub/rootfs.tar\n"   /* nor one in a subdirectory */
        H1 "  rootfs.tar\n"
        H2 " *binary.tar\n"       /* binary mode */
        H3 "  ./dotted.tar\n"
        H4 "  upper.tar\n"        /* upper-case hex, returned in lower case */
        H5 "\tmy image.tar\n"     /* a tab, and a space in the name */
        H1 "5  long.tar\n"        /* 65 hex digits: not a digest */
        "0123456789abcdef  short.tar\n"
        "xyz" H1 "  prefixed.tar\n"
        H2 "nospace.tar\n"
        H5 "  rootfs.tar\n"       /* a second line for the same name: the first counts */
        "\n"
        "# a comment\n";

static void test_sha256sums_find(void **state) {
        static const struct {
                const char *name;
                const char *digest; /* NULL: not found */
        } cases[] = {
                { "rootfs.tar", H1 },
                { "binary.tar", H2 },
                { "dotted.tar", H3 },
                { "rootfs.tar.gz", H3 },
                { "sub/rootfs.tar", H3 },
                { "upper.tar", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" },
                { "my image.tar", H5 },
                { "long.tar", NULL },
                { "short.tar", NULL },
                { "prefixed.tar", NULL },
                { "nospace.tar", NULL },
                { "missing.tar", NULL },
                { "rootfs", NULL },
                { "", NULL },
                { "./dotted.tar", NULL }, /* the name asked for is a plain file name */
                { "*binary.tar", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char d[65] = "unset";
                int r = sha256sums_find(SUMS, cases[i].name, d);

                if (!cases[i].digest) {
                        if (r != -ESRCH)
                                fail_msg("sha256sums_find(\"%s\") = %d, expected -ESRCH", cases[i].name, r);
                        continue;
                }
                if (r != 0 || !streq(d, cases[i].digest))
                        fail_msg("sha256sums_find(\"%s\") = %d, \"%s\"; expected \"%s\"", cases[i].name, r, d,
                                 cases[i].digest);
        }
        char d[65];
        assert_int_equal(sha256sums_find("", "rootfs.tar", d), -ESRCH);
}

/* transfer_fetch_file(): the bytes into the file, their digest and count; a missing file fails. */
static void test_fetch_file(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *url = NULL, *missing = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_fclose_ FILE *f = tmpfile();
        const TransferOptions o = {};
        char hex[65], back[4] = "";
        uint64_t size = 0;

        assert_non_null(f);
        tests_write(dir, "blob", "abc");
        url = strjoin("file://", dir, "/blob");
        missing = strjoin("file://", dir, "/none");
        assert_int_equal(transfer_fetch_file(&o, url, f, hex, &size, &d), 0);
        assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(size, 3);
        rewind(f);
        assert_int_equal(fread(back, 1, 3, f), 3);
        assert_string_equal(back, "abc");
        assert_true(transfer_fetch_file(&o, missing, f, hex, &size, &d) < 0);
        tests_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_archive_path_is_safe),
                cmocka_unit_test(test_archive_path_length),
                cmocka_unit_test(test_sha256sums_find),
                cmocka_unit_test(test_fetch_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
