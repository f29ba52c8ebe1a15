/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Declaring a machine from a model: written, read back, saved once; removed only if we wrote it. */
#include "tests.h"

#include "fileio.h"
#include "mspawn-save.h"
#include "strv.h"
#include "unit-file.h"

static const time_t NOW = 1795910400;
static char data_dir[4096];

static bool exists(const char *p) {
        return access(p, F_OK) >= 0;
}

static MachineConfig *config(const char *name, const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "x.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit(name, "x.mspawn", &u, NOW, data_dir, &c, &d), 0);
        return c;
}

static void test_declare_save_remove(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *path = NULL, *path2 = NULL, *path3 = NULL, *text = NULL;
        _cleanup_free_ char *rm_path = NULL, *rm_path2 = NULL, *etc = NULL;
        _cleanup_(machine_config_freep) MachineConfig *c = config("bread", "[Machine]\nDistribution=debian\nRelease=12\nPackages=vim\n");
        _cleanup_(machine_config_freep) MachineConfig *back = NULL, *back2 = NULL, *other = NULL, *back3 = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        const char *bad = NULL;

        etc = strjoin(dir, "/etc");
        /* not saved: read back only */
        assert_int_equal(mspawn_declare(c, etc, data_dir, false, &back, &path, &bad, &d), 0);
        assert_non_null(back);
        assert_false(exists(etc));

        /* saved, then the same again: nothing to do */
        assert_int_equal(mspawn_declare(c, etc, data_dir, true, &back2, &path2, &bad, &d), 1);
        assert_int_equal(read_full_file(path2, &text, NULL), 0);
        assert_non_null(startswith(text, "# " MSPAWN_SAVED_COMMENT "\n"));
        assert_non_null(strstr(text, "Packages=vim"));
        machine_config_free(back2);
        back2 = NULL;
        assert_int_equal(mspawn_declare(c, etc, data_dir, true, &back2, NULL, &bad, &d), 0);

        /* something else under the name: refused, left alone */
        other = config("bread", "[Machine]\nDistribution=debian\nRelease=13\n");
        assert_int_equal(mspawn_declare(other, etc, data_dir, true, &back3, &path3, &bad, &d), -EEXIST);
        assert_string_equal(path3, path2);

        /* removal: ours goes; a hand-written one stays */
        assert_int_equal(mspawn_remove_saved(etc, "bread", &rm_path), 1);
        assert_false(exists(path2));
        tests_write(etc, "bread.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        assert_int_equal(mspawn_remove_saved(etc, "bread", &rm_path2), 0);
        assert_true(exists(path2));
        assert_int_equal(mspawn_remove_saved(etc, "none", NULL), 0);
        tests_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_declare_save_remove),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
