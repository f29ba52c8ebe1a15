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

static void check(const char *dist, const char *release, const char *codename, const char *version) {
        DistroRelease r = {};
        assert_int_equal(distro_release_resolve(data_dir(), dist, release, NOW, &r, NULL), 0);
        assert_string_equal(r.codename, codename);
        if (version)
                assert_string_equal(r.version, version);
        else
                assert_null(r.version);
        distro_release_done(&r);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codenames_and_versions),
                cmocka_unit_test(test_aliases),
                cmocka_unit_test(test_aliases_move_with_time),
                cmocka_unit_test(test_unknown),
                cmocka_unit_test(test_compare),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
