/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>

#include "tests.h"

#include "fileio.h"
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

/* ---- pull_image() on file:// URLs: verification and broken archives, no network ---- */

/* A small root file system as root/img/NAME, and its digest. */
static void make_image(const char *root, const char *name, char digest[65]) {
        _cleanup_free_ char *cmd = NULL, *src = strjoin(root, "/src");
        char line[256] = "";
        FILE *f;

        tests_write(src, "etc/os-release", "ID=debian\n");
        tests_write(src, "usr/bin/.keep", "");
        tests_write(root, "img/.keep", "");
        assert_true(asprintf(&cmd, "tar -C '%s' -cf '%s/img/%s' . && sha256sum '%s/img/%s'", src, root, name, root,
                             name) > 0);
        f = popen(cmd, "re");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(pclose(f), 0);
        snprintf(digest, 65, "%.64s", line);
}

static int pull(const char *root, const char *name, VerifyMode verify, const char *sha256, PullResult *res,
                Diagnostics *d) {
        _cleanup_free_ char *url = strjoin("file://", root, "/img/", name), *cache = strjoin(root, "/cache");
        _cleanup_free_ char *target = strjoin(root, "/target");
        PullOptions o = { .url = url, .verify = verify, .sha256 = sha256, .cache_dir = cache };

        tests_rm_rf(target);
        assert_int_equal(mkdir(target, 0755), 0);
        return pull_image(&o, target, res, d);
}

static bool said(const Diagnostics *d, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, needle))
                        return true;
        return false;
}

static void test_pull_file_checksum(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *sums = NULL, *text = NULL, *p = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        PullResult res = {};
        char digest[65];

        make_image(root, "rootfs.tar", digest);

        /* no SHA256SUMS beside it */
        assert_int_equal(pull(root, "rootfs.tar", VERIFY_CHECKSUM, NULL, &res, &d), -ENOENT);
        assert_true(said(&d, "SHA256SUMS beside the image to verify it with (Verify=checksum)"));

        /* one without its line */
        tests_write(root, "img/SHA256SUMS", "0000000000000000000000000000000000000000000000000000000000000000  other.tar\n");
        assert_int_equal(pull(root, "rootfs.tar", VERIFY_CHECKSUM, NULL, &res, &d), -ENOENT);
        assert_true(said(&d, "SHA256SUMS has no entry for rootfs.tar."));

        /* the right one, as "*name" (binary mode) */
        assert_true(asprintf(&sums, "%s *rootfs.tar\n", digest) > 0);
        tests_write(root, "img/SHA256SUMS", sums);
        assert_int_equal(pull(root, "rootfs.tar", VERIFY_CHECKSUM, NULL, &res, &d), 0);
        assert_string_equal(res.sha256, digest);
        assert_true(res.entries >= 3);
        p = strjoin(root, "/target/etc/os-release");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "ID=debian\n");
        tests_rm_rf(root);
}

/* An inline digest that does not match: an error naming both digests, and nothing kept in the cache. */
static void test_pull_file_mismatch(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *images = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        PullResult res = {};
        char digest[65], wrong[65];

        make_image(root, "rootfs.tar", digest);
        snprintf(wrong, sizeof wrong, "%.63s%c", digest, digest[63] == '0' ? '1' : '0');
        assert_int_equal(pull(root, "rootfs.tar", VERIFY_SHA256, wrong, &res, &d), -EBADMSG);
        assert_true(said(&d, "does not match its checksum"));
        assert_true(said(&d, wrong));
        /* nothing of it in the download cache */
        images = strjoin(root, "/cache/images");
        struct dirent **de = NULL;
        int n = scandir(images, &de, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (!streq(de[i]->d_name, ".") && !streq(de[i]->d_name, ".."))
                        fail_msg("left in the cache: %s", de[i]->d_name);
                free(de[i]);
        }
        free(de);

        /* the right digest, in capitals: accepted */
        for (char *c = digest; *c; c++)
                *c = (char) toupper((unsigned char) *c);
        assert_int_equal(pull(root, "rootfs.tar", VERIFY_SHA256, digest, &res, &d), 0);
        tests_rm_rf(root);
}

/* What is not an archive, a truncated one, an URL naming no file, a file that is not there. */
static void test_pull_file_broken(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *full = NULL, *p = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        PullResult res = {};
        char digest[65];
        size_t size = 0;

        tests_write(root, "img/garbage.tar", "this is not an archive of any kind, compressed or not\n");
        assert_int_equal(pull(root, "garbage.tar", VERIFY_NO, NULL, &res, &d), -EBADMSG);
        assert_true(said(&d, "is not a tar archive"));

        make_image(root, "rootfs.tar", digest);
        p = strjoin(root, "/img/rootfs.tar");
        assert_int_equal(read_full_file(p, &full, &size), 0);
        assert_true(size > 1536);
        /* the first header and a part of the second */
        free(p);
        p = strjoin(root, "/img/cut.tar");
        assert_int_equal(write_file_atomic(p, full, 512 + 700, 0644, 0), 0);
        assert_true(pull(root, "cut.tar", VERIFY_NO, NULL, &res, &d) < 0);

        assert_true(pull(root, "", VERIFY_CHECKSUM, NULL, &res, &d) < 0);
        assert_true(said(&d, "does not name a file."));
        assert_true(pull(root, "none.tar", VERIFY_NO, NULL, &res, &d) < 0);
        assert_true(said(&d, "none.tar"));
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_archive_path_is_safe),
                cmocka_unit_test(test_archive_path_length),
                cmocka_unit_test(test_sha256sums_find),
                cmocka_unit_test(test_pull_file_checksum),
                cmocka_unit_test(test_pull_file_mismatch),
                cmocka_unit_test(test_pull_file_broken),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
