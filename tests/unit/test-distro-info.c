/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"
#include <limits.h>

#include "distro-info.h"

static const char *data_dir(void) {
        static char buf[4096];
        snprintf(buf, sizeof buf, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        return buf;
}

/* 2026-11-29: trixie released, forky in testing, duke not yet created (in the fixture). */
static const time_t NOW = 1795910400;

static void check_in(const char *dir, const char *dist, const char *release, const char *codename,
                     const char *version) {
        DistroRelease r = {};
        assert_int_equal(distro_release_resolve(dir, dist, release, NOW, &r, NULL), 0);
        assert_string_equal(r.codename, codename);
        if (version)
                assert_string_equal(r.version, version);
        else
                assert_null(r.version);
        distro_release_done(&r);
}

static void check(const char *dist, const char *release, const char *codename, const char *version) {
        check_in(data_dir(), dist, release, codename, version);
}

static void test_codenames_and_versions(void **state) {
        check("debian", "bookworm", "bookworm", "12");
        check("debian", "12", "bookworm", "12");
        check("debian", "12.5", "bookworm", "12");
        check("debian", "Trixie", "trixie", "13");
        check("debian", "sid", "sid", NULL);
        check("ubuntu", "22.04", "jammy", "22.04");
        check("ubuntu", "jammy", "jammy", "22.04");
        check("ubuntu", "24.10", "oracular", "24.10");
}

static void test_aliases(void **state) {
        check("debian", "stable", "trixie", "13");
        check("debian", "oldstable", "bookworm", "12");
        check("debian", "oldoldstable", "bullseye", "11");
        check("debian", "testing", "forky", "14");
        check("debian", "unstable", "sid", NULL);
}

static void test_aliases_move_with_time(void **state) {
        DistroRelease r = {};
        /* 2024-01-01: bookworm was stable and trixie testing */
        assert_int_equal(distro_release_resolve(data_dir(), "debian", "stable", 1704067200, &r, NULL), 0);
        assert_string_equal(r.codename, "bookworm");
        distro_release_done(&r);
        assert_int_equal(distro_release_resolve(data_dir(), "debian", "testing", 1704067200, &r, NULL), 0);
        assert_string_equal(r.codename, "trixie");
        assert_false(r.released);
        distro_release_done(&r);
}

static void test_unknown(void **state) {
        DistroRelease r = {};
        _cleanup_free_ char *known = NULL;

        assert_int_equal(distro_release_resolve(data_dir(), "debian", "jammy", NOW, &r, &known), -ESRCH);
        assert_string_equal(known, "stretch buster bullseye bookworm trixie forky duke sid experimental");
        assert_int_equal(distro_release_resolve(data_dir(), "debian", "1", NOW, &r, NULL), -ESRCH);
        assert_int_equal(distro_release_resolve(data_dir(), "ubuntu", "22", NOW, &r, NULL), -ESRCH);
        assert_int_equal(distro_release_resolve(data_dir(), "fedora", "40", NOW, &r, NULL), -ENOENT);
        /* "stable" is Debian's word only */
        assert_int_equal(distro_release_resolve(data_dir(), "ubuntu", "stable", NOW, &r, NULL), -ESRCH);
}

static void test_compare(void **state) {
        DistroRelease r = {};

        assert_int_equal(distro_release_resolve(data_dir(), "debian", "bookworm", NOW, &r, NULL), 0);
        assert_int_equal(distro_release_compare_version(&r, 12, 0), 0);
        assert_true(distro_release_compare_version(&r, 13, 0) < 0);
        assert_true(distro_release_compare_version(&r, 11, 0) > 0);
        distro_release_done(&r);
        assert_int_equal(distro_release_resolve(data_dir(), "debian", "sid", NOW, &r, NULL), 0);
        assert_true(r.major == UINT_MAX);
        assert_true(distro_release_compare_version(&r, 99, 0) > 0);
        distro_release_done(&r);
}

static time_t end_of_life(const char *dir, const char *dist, const char *release) {
        DistroRelease r = {};
        time_t t;

        assert_int_equal(distro_release_resolve(dir, dist, release, NOW, &r, NULL), 0);
        t = r.end_of_life;
        distro_release_done(&r);
        return t;
}

/* The whole of distro-info-data 0.58+deb12u7, pinned: every release the original supported resolves, and
 * the end of life that counts is the one of support on the regular mirrors. */
static void test_end_of_life(void **state) {
        char full[4096];
        static const char *const ubuntu[] = { "16.04", "16.10", "17.04", "17.10", "18.04", "18.10", "19.04",
                                              "19.10", "20.04", "20.10", "21.04", "21.10", "22.04", "22.10" };

        snprintf(full, sizeof full, "%s/distro-info-full", getenv("MACHINESPAWN_TEST_DATA"));
        check_in(full, "debian", "8", "jessie", "8");
        check_in(full, "debian", "jessie", "jessie", "8");
        check_in(full, "debian", "9", "stretch", "9");
        check_in(full, "debian", "10", "buster", "10");
        for (size_t i = 0; i < ELEMENTSOF(ubuntu); i++) {
                DistroRelease r = {};
                assert_int_equal(distro_release_resolve(full, "ubuntu", ubuntu[i], NOW, &r, NULL), 0);
                assert_string_equal(r.version, ubuntu[i]);
                distro_release_done(&r);
        }

        /* Debian: LTS (eol-lts), not regular security support (eol) nor third-party ELTS (eol-elts) */
        assert_int_equal(end_of_life(full, "debian", "jessie"), 1593475200);   /* 2020-06-30 */
        assert_int_equal(end_of_life(full, "debian", "buster"), 1719705600);   /* 2024-06-30 */
        assert_int_equal(end_of_life(full, "debian", "bookworm"), 1845936000); /* 2028-06-30 */
        /* a release with only eol */
        assert_int_equal(end_of_life(full, "debian", "lenny"), 1328486400);    /* 2012-02-06 */
        /* no data, no end */
        assert_int_equal(end_of_life(full, "debian", "sid"), 0);
        assert_int_equal(end_of_life(full, "debian", "forky"), 0);
        /* Ubuntu: an interim release ends with eol, an LTS with Legacy support (eol-legacy) */
        assert_int_equal(end_of_life(full, "ubuntu", "22.10"), 1689811200);  /* 2023-07-20 */
        assert_int_equal(end_of_life(full, "ubuntu", "16.04"), 1840233600);  /* 2028-04-25 */
        /* the trimmed fixture has no eol-legacy column: ESM then */
        assert_int_equal(end_of_life(data_dir(), "ubuntu", "20.04"), 1903132800); /* 2030-04-23 */
}

/* Rows a CSV should not have are skipped, not fatal: too few fields, no series. */
static void test_malformed_rows(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *known = NULL;
        DistroRelease r = {};

        tests_write(root, "debian.csv",
                    "version,codename,series,created,release,eol\n"
                    "1,Short,short\n"
                    "2,Empty,,2000-01-01,2001-01-01\n"
                    "3,Good,good,2000-01-01,2001-01-01,2003-01-01\n"
                    "4,CRLF,crlf,2001-01-01\r\n");
        check_in(root, "debian", "good", "good", "3");
        check_in(root, "debian", "3", "good", "3");
        check_in(root, "debian", "crlf", "crlf", "4");
        assert_int_equal(distro_release_resolve(root, "debian", "short", NOW, &r, &known), -ESRCH);
        assert_string_equal(known, "good crlf");
        free(known);
        known = NULL;
        assert_int_equal(distro_release_resolve(root, "debian", "1", NOW, &r, &known), -ESRCH);
        assert_int_equal(distro_release_resolve(root, "debian", "2", NOW, &r, NULL), -ESRCH);
        /* a directory where the CSV should be cannot be read: an error, but not "no data" */
        tests_write(root, "other.csv/x", "");
        assert_true(distro_release_resolve(root, "other", "x", NOW, &r, NULL) < 0);
        tests_rm_rf(root);
}

/* The CSV cache holds a few files: more directories than that still give each directory's own data. */
static void test_many_directories(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp();
        char dir[8][4096];

        for (unsigned i = 0; i < ELEMENTSOF(dir); i++) {
                char rel[64], text[256];
                snprintf(rel, sizeof rel, "d%u/debian.csv", i);
                snprintf(text, sizeof text, "version,codename,series,created,release,eol\n%u,Same,same,2000-01-01,2001-01-01\n",
                         i + 10);
                tests_write(root, rel, text);
                snprintf(dir[i], sizeof dir[i], "%s/d%u", root, i);
        }
        for (unsigned round = 0; round < 2; round++)
                for (unsigned i = 0; i < ELEMENTSOF(dir); i++) {
                        char version[16];
                        snprintf(version, sizeof version, "%u", i + 10);
                        check_in(dir[i], "debian", "same", "same", version);
                }
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codenames_and_versions),
                cmocka_unit_test(test_aliases),
                cmocka_unit_test(test_aliases_move_with_time),
                cmocka_unit_test(test_unknown),
                cmocka_unit_test(test_compare),
                cmocka_unit_test(test_end_of_life),
                cmocka_unit_test(test_malformed_rows),
                cmocka_unit_test(test_many_directories),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
