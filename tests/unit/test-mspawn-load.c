/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "mspawn-load.h"
#include "strv.h"

static const time_t NOW = 1795910400;
static const char *const GOOD = "[Machine]\nDistribution=debian\nRelease=bookworm\n";

typedef struct Dirs {
        char *root;
        char **path;
} Dirs;

static int setup(void **state) {
        Dirs *d = calloc(1, sizeof(Dirs));
        d->root = tests_mkdtemp();
        const char *layers[] = { "etc", "run", "lib" };
        for (size_t i = 0; i < ELEMENTSOF(layers); i++) {
                char *p;
                assert_true(asprintf(&p, "%s/%s", d->root, layers[i]) > 0);
                assert_int_equal(strv_push(&d->path, p), 0);
        }
        *state = d;
        return 0;
}

static int teardown(void **state) {
        Dirs *d = *state;
        tests_rm_rf(d->root);
        free(d->root);
        strv_free(d->path);
        free(d);
        return 0;
}

/* The index is a snapshot: take it after the files are written. */
static int load(Dirs *d, const char *name, MachineConfig **ret, Diagnostics *diag) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        assert_int_equal(mspawn_index_build(d->path, &idx), 0);
        return mspawn_load(&idx, name, NOW, tests_paths(), ret, diag);
}

static void test_search_path_env(void **state) {
        _cleanup_strv_free_ char **l = NULL;

        unsetenv("MACHINESPAWN_CONFIG_PATH");
        assert_int_equal(mspawn_search_path(tests_paths(), &l), 0);
        assert_int_equal(strv_length(l), 4);
        assert_string_equal(l[0], "/etc/machinespawn");
        assert_string_equal(l[3], "/usr/lib/machinespawn");
        l = strv_free(l);
        setenv("MACHINESPAWN_CONFIG_PATH", "/a:/b", 1);
        assert_int_equal(mspawn_search_path(tests_paths(), &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[1], "/b");
        unsetenv("MACHINESPAWN_CONFIG_PATH");
}

static void test_enumerate(void **state) {
        Dirs *d = *state;
        _cleanup_strv_free_ char **names = NULL;

        tests_write(d->root, "lib/zeta.mspawn", GOOD);
        tests_write(d->root, "etc/alpha.mspawn", GOOD);
        tests_write(d->root, "lib/alpha.mspawn", GOOD);
        tests_write(d->root, "run/-bad.mspawn", GOOD);
        tests_write(d->root, "run/notes.txt", "x");
        tests_write(d->root, "etc/alpha.mspawn.d/10-x.conf", "");
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        assert_int_equal(mspawn_index_build(d->path, &idx), 0);
        assert_int_equal(mspawn_enumerate(&idx, &names), 0);
        assert_int_equal(strv_length(names), 3);
        assert_string_equal(names[0], "-bad");
        assert_string_equal(names[1], "alpha");
        assert_string_equal(names[2], "zeta");
}

static void test_precedence_and_dropins(void **state) {
        Dirs *d = *state;
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        _cleanup_free_ char *expect = NULL;

        tests_write(d->root, "lib/bread.mspawn", "[Machine]\nImage=https://x/lib.tar\n");
        tests_write(d->root, "run/bread.mspawn", GOOD);
        tests_write(d->root, "lib/bread.mspawn.d/20-b.conf", "[Files]\nBind=/lib-b\n");
        tests_write(d->root, "etc/bread.mspawn.d/20-b.conf", "[Files]\nBind=/etc-b\n");
        tests_write(d->root, "lib/bread.mspawn.d/10-a.conf", "[Files]\nBind=/lib-a\n");
        tests_write(d->root, "lib/bread.mspawn.d/30-c.conf", "[Files]\nBind=/lib-c\n");
        tests_write(d->root, "run/bread.mspawn.d/30-c.conf", NULL); /* masks lib's 30-c */
        tests_write(d->root, "lib/bread.mspawn.d/40-d.txt", "[Files]\nBind=/ignored\n");

        assert_int_equal(load(d, "bread", &c, &diag), 0);
        assert_non_null(c);
        assert_true(asprintf(&expect, "%s/run/bread.mspawn", d->root) > 0);
        assert_string_equal(c->source_path, expect);
        assert_string_equal(c->distribution.value, "debian");
        assert_null(c->image.value);
        assert_int_equal(strv_length(c->dropin_paths), 2);
        assert_int_equal(c->files.n, 2);
        assert_string_equal(c->files.items[0].value, "/lib-a");
        assert_string_equal(c->files.items[1].value, "/etc-b");
        assert_non_null(strstr(c->files.items[1].file, "/etc/bread.mspawn.d/20-b.conf"));
}

static void test_masking(void **state) {
        Dirs *d = *state;
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        _cleanup_free_ char *main_path = NULL;
        MachineConfig *c = (MachineConfig *) 1;

        tests_write(d->root, "lib/empty.mspawn", GOOD);
        tests_write(d->root, "etc/empty.mspawn", "");
        tests_write(d->root, "lib/null.mspawn", GOOD);
        tests_write(d->root, "run/null.mspawn", NULL);

        assert_int_equal(load(d, "empty", &c, &diag), 0);
        assert_null(c);
        c = (MachineConfig *) 1;
        assert_int_equal(load(d, "null", &c, &diag), 0);
        assert_null(c);
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        assert_int_equal(mspawn_index_build(d->path, &idx), 0);
        assert_int_equal(mspawn_find(&idx, "null", &main_path, NULL), 1);
        assert_non_null(strstr(main_path, "/run/null.mspawn"));
        assert_int_equal(diag.n, 0);
}

static void test_missing_and_invalid(void **state) {
        Dirs *d = *state;
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        MachineConfig *c = NULL;

        assert_int_equal(load(d, "nothere", &c, &diag), -ENOENT);
        tests_write(d->root, "etc/a..b.mspawn", GOOD);
        assert_int_equal(load(d, "a..b", &c, &diag), -EINVAL);
        assert_int_equal(diag.n, 2);
        assert_non_null(strstr(diag.items[1].file, "/etc/a..b.mspawn"));
        assert_non_null(strstr(diag.items[1].message, "not a valid machine name"));
}

static void test_syntax_error_in_dropin(void **state) {
        Dirs *d = *state;
        _cleanup_(diagnostics_done) Diagnostics diag = {};
        MachineConfig *c = NULL;

        tests_write(d->root, "etc/bread.mspawn", GOOD);
        tests_write(d->root, "lib/bread.mspawn.d/10-x.conf", "[Files]\n\nBind /x\n");
        assert_int_equal(load(d, "bread", &c, &diag), -EBADMSG);
        assert_null(c);
        assert_int_equal(diag.n, 1);
        assert_int_equal(diag.items[0].line, 3);
        assert_non_null(strstr(diag.items[0].file, "/lib/bread.mspawn.d/10-x.conf"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_search_path_env),
                cmocka_unit_test_setup_teardown(test_enumerate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_precedence_and_dropins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_masking, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_and_invalid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_syntax_error_in_dropin, setup, teardown),
        };
        char dir[4096];

        snprintf(dir, sizeof dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
