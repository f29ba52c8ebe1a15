/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* After a rebuild: the previous tree kept until the machine has started once, then gone (and rollback
 * saying so), at every step of its removal. Packages taken out of Packages=: remembered as unlisted, and
 * removed with RemoveUnlistedPackages=yes by the machine's own apt (stand-ins for systemd-nspawn,
 * dpkg-query and apt-get on PATH run the real command on this host). */
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests.h"

#include "converge.h"
#include "fileio.h"
#include "global-config.h"
#include "origin.h"
#include "rebuild.h"
#include "strv.h"

static const time_t NOW = 1795910400;
static char data_dir[4096], vendor[4096];

typedef struct Env {
        char *root, *machines, *run, *state;
        BuildOptions o;
} Env;

static void env_init(Env *e) {
        e->root = tests_mkdtemp();
        e->machines = strjoin(e->root, "/machines");
        e->run = strjoin(e->root, "/run");
        e->state = strjoin(e->root, "/state");
        e->o = (BuildOptions) { .paths = *tests_paths() };
        e->o.paths.machines_dir = e->machines;
        e->o.paths.run_dir = e->run;
        e->o.paths.state_dir = e->state;
        e->o.paths.distro_info_dir = data_dir;
        assert_int_equal(mkdir_p(e->machines, 0700), 0);
        assert_int_equal(mkdir_p(e->state, 0755), 0);
}

static void env_done(Env *e) {
        tests_rm_rf(e->root);
        free(e->root);
        free(e->machines);
        free(e->run);
        free(e->state);
}

static bool said(const Diagnostics *d, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, needle))
                        return true;
        return false;
}

/* A tree with a marker file, and its record. */
static void make_generation(Env *e, const char *tree_name, const char *origin_name, const char *marker) {
        _cleanup_free_ char *tree = strjoin(e->machines, "/", tree_name), *origin = strjoin(e->state, "/", origin_name);
        _cleanup_(origin_done) Origin o = { .base = strdup(marker), .release = strdup(marker) };

        assert_int_equal(mkdir(tree, 0755), 0);
        tests_write(tree, "marker", marker);
        assert_int_equal(origin_tree_id(tree, &o.tree), 0);
        assert_int_equal(origin_write(origin, &o), 0);
}

static char *marker(Env *e, const char *tree_name) {
        _cleanup_free_ char *p = strjoin(e->machines, "/", tree_name, "/marker");
        char *text = NULL;

        if (read_full_file(p, &text, NULL) < 0)
                return NULL;
        return text;
}

/* After a rebuild: m is the new tree, .m.previous the old one, each with its record. */
static void rebuilt(Env *e) {
        make_generation(e, "m", "m.origin", "new");
        make_generation(e, ".m.previous", "m.origin.previous", "old");
}

static void test_rollback_until_started(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *m = NULL, *back = NULL;
        Env e = {};

        env_init(&e);
        rebuilt(&e);
        /* before the first start: rollback returns, and a second one comes back */
        assert_int_equal(machine_rollback(&e.o, "m", &d), 0);
        m = marker(&e, "m");
        assert_string_equal(m, "old");
        assert_int_equal(machine_rollback(&e.o, "m", &d), 0);
        back = marker(&e, "m");
        assert_string_equal(back, "new");

        /* started: the previous tree and its record go, the machine stays */
        assert_int_equal(machine_started(&e.o, "m", NULL, &d), 1);
        assert_false(tests_exists(e.machines, ".m.previous"));
        assert_false(tests_exists(e.state, "m.origin.previous"));
        assert_true(tests_exists(e.machines, "m/marker"));
        assert_true(tests_exists(e.state, "m.origin"));

        /* rollback now says there is nothing, and why */
        diagnostics_done(&d);
        assert_int_equal(machine_rollback(&e.o, "m", &d), -ENOENT);
        assert_true(said(&d, "Machine m has no previous tree to return to"));
        assert_true(said(&d, "kept only until the machine has started once"));

        /* a second start has nothing to drop */
        assert_int_equal(machine_started(&e.o, "m", NULL, &d), 0);
        assert_true(tests_exists(e.machines, "m/marker"));
        env_done(&e);
}

static void do_swap_kill(Env *e, const char *step) {
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                setenv("MACHINESPAWN_TEST_FAIL_AT", step, 1);
                (void) machine_swap_in(&e->o, "m", &d);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
}

/* A rebuild killed between its steps: the start that follows changes nothing until the record names the
 * tree again (the bootstrap step's recovery runs first); then it drops what the finished swap kept. */
static void test_started_waits_for_unfinished_swap(void **state) {
        static const char *steps[] = { "exchange", "keep-previous", "origin-previous" };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *m = NULL, *prev = NULL;
                Env e = {};

                env_init(&e);
                make_generation(&e, "m", "m.origin", "old");
                make_generation(&e, ".m.new", "m.origin.new", "new");
                do_swap_kill(&e, steps[i]);
                print_message("killed at %s\n", steps[i]);
                assert_int_equal(machine_started(&e.o, "m", NULL, &d), 0);
                m = marker(&e, "m");
                assert_string_equal(m, "new");
                /* the old tree is still somewhere: as .m.new or .m.previous */
                assert_true(tests_exists(e.machines, ".m.new/marker")
                            || tests_exists(e.machines, ".m.previous/marker"));

                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                prev = marker(&e, ".m.previous");
                assert_string_equal(prev, "old");
                assert_int_equal(machine_started(&e.o, "m", NULL, &d), 1);
                assert_false(tests_exists(e.machines, ".m.previous"));
                assert_false(tests_exists(e.machines, ".m.new"));
                env_done(&e);
        }
}

/* A rollback killed between exchanging the trees and their records: nothing dropped either. */
static void test_started_waits_for_unfinished_rollback(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *m = NULL;
        Env e = {};
        pid_t pid;

        env_init(&e);
        rebuilt(&e);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("MACHINESPAWN_TEST_FAIL_AT", "rollback-exchange", 1);
                (void) machine_rollback(&e.o, "m", &d);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        assert_int_equal(machine_started(&e.o, "m", NULL, &d), 0);
        assert_true(tests_exists(e.machines, ".m.previous/marker"));
        assert_true(tests_exists(e.state, "m.origin.previous"));
        assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
        m = marker(&e, "m");
        assert_string_equal(m, "old");
        env_done(&e);
}

/* "machinespawn boot" names the tree it booted: exchanged since, nothing is dropped. */
static void test_started_other_tree(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *tree = NULL, *id = NULL;
        Env e = {};

        env_init(&e);
        rebuilt(&e);
        tree = strjoin(e.machines, "/.m.previous");
        assert_int_equal(origin_tree_id(tree, &id), 0);
        assert_int_equal(machine_started(&e.o, "m", id, &d), 0);
        assert_true(tests_exists(e.machines, ".m.previous/marker"));
        id = mfree(id);
        tree = mfree(tree);
        tree = strjoin(e.machines, "/m");
        assert_int_equal(origin_tree_id(tree, &id), 0);
        assert_int_equal(machine_started(&e.o, "m", id, &d), 1);
        assert_false(tests_exists(e.machines, ".m.previous"));
        env_done(&e);
}

/* Killed after the previous record went, before its tree: rollback refuses the half-removed tree, the
 * next start removes it, and so does a rebuild's swap. */
static void test_drop_killed(void **state) {
        for (int via_swap = 0; via_swap <= 1; via_swap++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *m = NULL;
                Env e = {};
                pid_t pid;

                env_init(&e);
                rebuilt(&e);
                pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        setenv("MACHINESPAWN_TEST_FAIL_AT", "drop-previous-record", 1);
                        (void) machine_started(&e.o, "m", NULL, &d);
                        _exit(0);
                }
                assert_int_equal(waitpid(pid, NULL, 0), pid);
                assert_true(tests_exists(e.machines, ".m.previous"));
                assert_false(tests_exists(e.state, "m.origin.previous"));
                assert_int_equal(machine_rollback(&e.o, "m", &d), -ENOENT);
                m = marker(&e, "m");
                assert_string_equal(m, "new");

                if (via_swap) {
                        make_generation(&e, ".m.new", "m.origin.new", "newer");
                        assert_int_equal(machine_swap_in(&e.o, "m", &d), 0);
                        _cleanup_free_ char *now = marker(&e, "m"), *prev = marker(&e, ".m.previous");
                        assert_string_equal(now, "newer");
                        assert_string_equal(prev, "new");
                } else {
                        assert_int_equal(machine_started(&e.o, "m", NULL, &d), 1);
                        assert_false(tests_exists(e.machines, ".m.previous"));
                }
                env_done(&e);
        }
}

static void test_origin_unlisted(void **state) {
        _cleanup_(origin_done) Origin o = {}, back = {}, wanted = {};
        _cleanup_(origin_diff_done) OriginDiff diff = {};
        _cleanup_free_ char *text = NULL, *plain = NULL;

        assert_int_equal(origin_parse("base=k\nformat=2\npackages=vim\nunlisted=hello less\n", &o), 0);
        assert_int_equal(strv_length(o.unlisted), 2);
        assert_int_equal(origin_format(&o, &text), 0);
        assert_non_null(strstr(text, "\nunlisted=hello less\n"));
        assert_int_equal(origin_parse(text, &back), 0);
        assert_int_equal(strv_length(back.unlisted), 2);
        assert_string_equal(back.unlisted[1], "less");

        /* vim taken out now, less listed again: vim removed, hello still unlisted, less neither */
        assert_int_equal(strv_split_words(&wanted.packages, "less"), 0);
        assert_int_equal(origin_diff(&o, &wanted, &diff), 0);
        assert_int_equal(strv_length(diff.removed), 1);
        assert_string_equal(diff.removed[0], "vim");
        assert_int_equal(strv_length(diff.unlisted), 1);
        assert_string_equal(diff.unlisted[0], "hello");
        assert_null(diff.added);

        /* no unlisted packages: no line */
        o.unlisted = strv_free(o.unlisted);
        assert_int_equal(origin_format(&o, &plain), 0);
        assert_null(strstr(plain, "unlisted="));
}

/* ---- RemoveUnlistedPackages= through stand-ins ---- */

/* systemd-nspawn: logs its arguments and runs the command after "--" here, so that the real command runs
 * against the stand-ins for dpkg-query and apt-get. */
static const char fake_nspawn[] =
        "#!/bin/sh\n"
        "echo \"$*\" >>\"$FAKE_STATE/nspawn-log\"\n"
        "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
        "shift\n"
        "exec \"$@\"\n";
/* dpkg-query -W -f=FORMAT NAME: the line in dpkg/NAME, or not installed at all. */
static const char fake_dpkg_query[] =
        "#!/bin/sh\n"
        "for last; do :; done\n"
        "[ -f \"$FAKE_STATE/dpkg/$last\" ] || exit 1\n"
        "cat \"$FAKE_STATE/dpkg/$last\"\n";
/* apt-get -s remove NAMES: each as removed, and $FAKE_ALSO with them; apt-get remove: logged. */
static const char fake_apt_get[] =
        "#!/bin/sh\n"
        "echo \"$*\" >>\"$FAKE_STATE/apt-log\"\n"
        "case \"$1\" in\n"
        "-s) shift 2; for p in \"$@\" $FAKE_ALSO; do echo \"Remv $p [1.0-1]\"; done ;;\n"
        "remove) exit \"${FAKE_APT_FAIL:-0}\" ;;\n"
        "esac\n"
        "exit 0\n";

static char saved_path[8192];

static void fake_tools(const char *root) {
        _cleanup_free_ char *p = NULL;
        const struct {
                const char *name, *text;
        } tools[] = { { "systemd-nspawn", fake_nspawn }, { "dpkg-query", fake_dpkg_query }, { "apt-get", fake_apt_get } };

        for (size_t i = 0; i < ELEMENTSOF(tools); i++) {
                _cleanup_free_ char *rel = strjoin("bin/", tools[i].name), *path = strjoin(root, "/", rel);
                tests_write(root, rel, tools[i].text);
                assert_int_equal(chmod(path, 0755), 0);
        }
        tests_write(root, "keyring.gpg", "keys");
        tests_write(root, "dpkg/hello", "install ok installed|optional|");
        tests_write(root, "dpkg/dbus", "install ok installed|optional|");
        tests_write(root, "dpkg/less", "install ok installed|important|");
        tests_write(root, "dpkg/old", "deinstall ok config-files|optional|");
        snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH"));
        p = strjoin(root, "/bin:/usr/bin:/bin");
        setenv("PATH", p, 1);
        setenv("FAKE_STATE", root, 1);
        unsetenv("FAKE_ALSO");
        unsetenv("FAKE_APT_FAIL");
}

static void fake_tools_done(void) {
        setenv("PATH", saved_path, 1);
        unsetenv("FAKE_ALSO");
        unsetenv("FAKE_APT_FAIL");
}

static MachineConfig *config(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("m", "m.mspawn", &u, NOW, data_dir, &c, &d), 0);
        assert_int_equal(d.n, 0);
        free(c->source_path);
        c->source_path = strdup("m.mspawn");
        return c;
}

static GlobalConfig *global(const char *root) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *text = NULL, *p = NULL;
        GlobalConfig *g = NULL;

        /* dbus is a base package here (the vendor file's [Bootstrap] Packages=); the proxy is never
         * contacted, only handed to the stand-in systemd-nspawn */
        assert_true(asprintf(&text, "[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=http://127.0.0.1:9/\n"
                                    "[debian]\nKeyring=%s/keyring.gpg\n", root, root) > 0);
        tests_write(root, "etc.conf", text);
        p = strjoin(root, "/etc.conf");
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(strv_extend(&files, p), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        return g;
}

/* One start: the bootstrap step's converge, with the .mspawn [Machine] lines given. */
static int start(Env *e, const char *machine_lines, Diagnostics *d) {
        _cleanup_free_ char *text = strjoin("[Machine]\nDistribution=debian\nRelease=bookworm\n", machine_lines);
        _cleanup_(machine_config_freep) MachineConfig *c = config(text);
        _cleanup_(global_config_freep) GlobalConfig *g = global(e->root);

        diagnostics_done(d);
        return machine_converge(c, g, &e->o, false, d);
}

static char *slurp(const char *dir, const char *rel) {
        _cleanup_free_ char *p = strjoin(dir, "/", rel);
        char *text = NULL;

        if (read_full_file(p, &text, NULL) < 0)
                return strdup("");
        return text;
}

static void reset_logs(Env *e) {
        _cleanup_free_ char *a = strjoin(e->root, "/apt-log"), *n = strjoin(e->root, "/nspawn-log");
        (void) unlink(a);
        (void) unlink(n);
}

static void test_remove_unlisted(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Env e = {};

        env_init(&e);
        fake_tools(e.root);
        tests_write(e.machines, "m/etc/hostname", "m\n");

        /* the first start records the machine as the file has it */
        assert_int_equal(start(&e, "Packages=hello dbus less old gone\n", &d), 0);
        _cleanup_free_ char *rec = slurp(e.state, "m.origin");
        assert_non_null(strstr(rec, "\npackages=hello dbus less old gone\n"));
        assert_false(tests_exists(e.root, "nspawn-log"));

        /* taken out, the key off: named in a warning with the reason and the key, kept, remembered */
        assert_int_equal(start(&e, "Packages=\n", &d), 0);
        assert_true(said(&d, "Packages= no longer lists hello dbus less old gone; m keeps them installed"));
        assert_true(said(&d, "RemoveUnlistedPackages=yes removes them"));
        assert_false(tests_exists(e.root, "nspawn-log"));
        rec = mfree(rec);
        rec = slurp(e.state, "m.origin");
        assert_non_null(strstr(rec, "\npackages=\nunlisted=hello dbus less old gone\n"));

        /* said once: the next start is quiet about them */
        assert_int_equal(start(&e, "", &d), 0);
        assert_int_equal(d.n, 0);

        /* one listed again: still installed, so apt is not asked, and it is no longer unlisted */
        assert_int_equal(start(&e, "Packages=gone\n", &d), 0);
        assert_false(tests_exists(e.root, "nspawn-log"));
        rec = mfree(rec);
        rec = slurp(e.state, "m.origin");
        assert_non_null(strstr(rec, "\npackages=gone\nunlisted=hello dbus less old\n"));

        /* the key on, apt would take another package along: nothing removed, a warning, still remembered */
        setenv("FAKE_ALSO", "hello-extras", 1);
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\n", &d), 0);
        assert_true(said(&d, "would take along the packages named above"));
        _cleanup_free_ char *apt = slurp(e.root, "apt-log");
        assert_null(strstr(apt, "remove -q -y"));
        rec = mfree(rec);
        rec = slurp(e.state, "m.origin");
        assert_non_null(strstr(rec, "\nunlisted=hello dbus less old gone\n"));
        unsetenv("FAKE_ALSO");
        reset_logs(&e);

        /* apt fails: the start fails, the record is as it was */
        setenv("FAKE_APT_FAIL", "100", 1);
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\n", &d), -EIO);
        assert_true(said(&d, "failed with exit status 100"));
        rec = mfree(rec);
        rec = slurp(e.state, "m.origin");
        assert_non_null(strstr(rec, "\nunlisted=hello dbus less old gone\n"));
        unsetenv("FAKE_APT_FAIL");
        reset_logs(&e);

        /* removed: only hello. dbus is a base package, less the base system's (important), old and gone are
         * not installed */
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\n", &d), 0);
        _cleanup_free_ char *nspawn = slurp(e.root, "nspawn-log");
        assert_non_null(strstr(nspawn, "set -- hello less old gone;"));
        /* through the package proxy, as installs go */
        assert_non_null(strstr(nspawn, "--setenv=http_proxy=http://127.0.0.1:9/ "));
        apt = mfree(apt);
        apt = slurp(e.root, "apt-log");
        assert_string_equal(apt, "-s remove hello\nremove -q -y hello\n");
        rec = mfree(rec);
        rec = slurp(e.state, "m.origin");
        assert_null(strstr(rec, "unlisted="));
        reset_logs(&e);

        /* nothing left to remove: apt is not asked again */
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\n", &d), 0);
        assert_false(tests_exists(e.root, "nspawn-log"));

        /* with the key on from the start, a package taken out goes at that start */
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\nPackages=hello\n", &d), 0);
        reset_logs(&e);
        assert_int_equal(start(&e, "RemoveUnlistedPackages=yes\n", &d), 0);
        apt = mfree(apt);
        apt = slurp(e.root, "apt-log");
        assert_string_equal(apt, "-s remove hello\nremove -q -y hello\n");
        assert_false(said(&d, "no longer lists"));

        fake_tools_done();
        env_done(&e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rollback_until_started),
                cmocka_unit_test(test_started_waits_for_unfinished_swap),
                cmocka_unit_test(test_started_waits_for_unfinished_rollback),
                cmocka_unit_test(test_started_other_tree),
                cmocka_unit_test(test_drop_killed),
                cmocka_unit_test(test_origin_unlisted),
                cmocka_unit_test(test_remove_unlisted),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
