/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the command does with a machine besides building it (machine-manage.c): systemctl, removal with its
 * saved declaration, the origin's first line, the listing, entering. systemctl and systemd-run are
 * stand-ins first on PATH that record their arguments. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "tests.h"

#include "cache.h"
#include "fileio.h"
#include "machine-manage.h"
#include "strv.h"
#include "user.h"

#define STRV_MAKE(...) ((char *[]) { __VA_ARGS__, NULL })
/* a + b in a buffer that lives as long as the enclosing block */
#define strjoin_a(a, b) join_buf((char[PATH_MAX]) {}, (a), (b))

static char *join_buf(char *buf, const char *a, const char *b) {
        assert_true((size_t) snprintf(buf, PATH_MAX, "%s%s", a, b) < PATH_MAX);
        return buf;
}

static char saved_path[8192];

/* exits with $FAKE_STATUS; logs "NAME ARGS" */
static const char fake_tool[] =
        "#!/bin/sh\n"
        "echo \"$(basename \"$0\") $*\" >>\"$FAKE_STATE/calls\"\n"
        "exit \"${FAKE_STATUS:-0}\"\n";

typedef struct Env {
        char *root, *machines, *run, *state, *etc, *nspawn, *polkit, *cache;
        BuildOptions o;
} Env;

static void env_init(Env *e) {
        _cleanup_free_ char *path = NULL;

        *e = (Env) { .root = tests_mkdtemp() };
        e->machines = strjoin(e->root, "/machines");
        e->run = strjoin(e->root, "/run");
        e->state = strjoin(e->root, "/state");
        e->etc = strjoin(e->root, "/etc");
        e->nspawn = strjoin(e->root, "/nspawn");
        e->polkit = strjoin(e->root, "/polkit");
        e->cache = strjoin(e->root, "/cache");
        for (const char *t = "systemctl"; t; t = streq(t, "systemctl") ? "systemd-run" : NULL) {
                _cleanup_free_ char *rel = strjoin("bin/", t), *p = strjoin(e->root, "/", rel);
                tests_write(e->root, rel, fake_tool);
                assert_int_equal(chmod(p, 0755), 0);
        }
        snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH"));
        path = strjoin(e->root, "/bin:/usr/bin:/bin");
        setenv("PATH", path, 1);
        setenv("FAKE_STATE", e->root, 1);
        unsetenv("FAKE_STATUS");
        setenv("MACHINESPAWN_CONFIG_PATH", e->etc, 1);
        e->o = (BuildOptions) { .paths = *tests_paths() };
        e->o.paths.machines_dir = e->machines;
        e->o.paths.run_dir = e->run;
        e->o.paths.state_dir = e->state;
        e->o.paths.sysconf_dir = e->etc;
        e->o.paths.nspawn_dir = e->nspawn;
        e->o.paths.polkit_dir = e->polkit;
        e->o.paths.config_path = e->etc;
        assert_int_equal(mkdir_p(e->machines, 0700), 0);
        assert_int_equal(mkdir_p(e->etc, 0755), 0);
}

static void env_done(Env *e) {
        setenv("PATH", saved_path, 1);
        unsetenv("FAKE_STATUS");
        unsetenv("MACHINESPAWN_CONFIG_PATH");
        tests_rm_rf(e->root);
        free(e->root);
        free(e->machines);
        free(e->run);
        free(e->state);
        free(e->etc);
        free(e->nspawn);
        free(e->polkit);
        free(e->cache);
}

static int hold_running(Env *e, const char *name) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        _cleanup_free_ char *lck = strjoin(e->machines, "/.#", name, ".lck");
        int fd = open(lck, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        return fd;
}

static void test_systemctl(void **state) {
        _cleanup_free_ char *calls = NULL;
        Env e;

        env_init(&e);
        assert_int_equal(machine_systemctl("start", "web"), 0);
        calls = tests_read(e.root, "calls");
        assert_string_equal(calls, "systemctl start systemd-nspawn@web.service\n");
        calls = mfree(calls);
        /* systemctl failing, and missing */
        setenv("FAKE_STATUS", "1", 1);
        assert_int_equal(machine_systemctl("stop", "web"), -EIO);
        unsetenv("FAKE_STATUS");
        setenv("PATH", "/nonexistent", 1);
        assert_int_equal(machine_systemctl("stop", "web"), -ENOENT);

        /* only where systemd runs */
        setenv("PATH", strjoin_a(e.root, "/bin"), 1);
        host_daemon_reload();
        calls = tests_read(e.root, "calls");
        if (host_has_systemd())
                assert_string_equal(calls, "systemctl start systemd-nspawn@web.service\n"
                                           "systemctl stop systemd-nspawn@web.service\n"
                                           "systemctl daemon-reload\n");
        else
                assert_string_equal(calls, "systemctl start systemd-nspawn@web.service\n"
                                           "systemctl stop systemd-nspawn@web.service\n");
        env_done(&e);
}

static void test_wait_answering(void **state) {
        _cleanup_free_ char *calls = NULL;
        Env e;

        env_init(&e);
        assert_int_equal(machine_wait_answering("web", 1000), 0);
        calls = tests_read(e.root, "calls");
        assert_string_equal(calls, "systemd-run --machine web --quiet --wait true\n");
        calls = mfree(calls);
        /* never answers: tried once more after 250 ms, then given up */
        setenv("FAKE_STATUS", "1", 1);
        assert_int_equal(machine_wait_answering("web", 250), -ETIMEDOUT);
        calls = tests_read(e.root, "calls");
        assert_string_equal(calls, "systemd-run --machine web --quiet --wait true\n"
                                   "systemd-run --machine web --quiet --wait true\n"
                                   "systemd-run --machine web --quiet --wait true\n");
        env_done(&e);
}

#define SAVED "# Written by \"machinespawn bootstrap\".\n[Machine]\nDistribution=debian\nRelease=12\n"

static void test_uninstall(void **state) {
        _cleanup_free_ char *want = NULL;
        Env e;
        int fd;

        env_init(&e);
        tests_write(e.machines, "m/etc/hostname", "m\n");
        tests_write(e.state, "m.origin", "base=k\n");
        tests_write(e.etc, "m.mspawn", SAVED);

        /* running: refused, everything stays */
        fd = hold_running(&e, "m");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                assert_int_equal(machine_uninstall("m", &e.o, 0, &res, &d), -EBUSY);
                tests_said_only(&d, LOG_ERR, "Machine m is running; stop it first or use --force.");
        }
        {
                /* --force: through systemd where it runs (the stand-in fails to stop it), else refused */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                _cleanup_free_ char *calls = NULL;
                setenv("FAKE_STATUS", "1", 1);
                assert_int_equal(machine_uninstall("m", &e.o, MACHINE_UNINSTALL_STOP, &res, &d),
                                 host_has_systemd() ? -EIO : -EBUSY);
                unsetenv("FAKE_STATUS");
                calls = tests_read(e.root, "calls");
                if (host_has_systemd()) {
                        tests_said_only(&d, LOG_ERR,
                                        "Cannot stop systemd-nspawn@m.service: Input/output error");
                        assert_string_equal(calls, "systemctl stop systemd-nspawn@m.service\n");
                } else {
                        tests_said_only(&d, LOG_ERR, "Machine m is running outside systemd; stop it first.");
                        assert_null(calls);
                }
        }
        close(fd);
        assert_true(tests_exists(e.machines, "m/etc/hostname"));
        assert_true(tests_exists(e.state, "m.origin"));
        assert_true(tests_exists(e.etc, "m.mspawn"));

        {
                /* the machine, its record and the declaration "bootstrap" saved */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                assert_int_equal(machine_uninstall("m", &e.o, 0, &res, &d), 0);
                assert_int_equal(d.n, 0);
                assert_false(tests_exists(e.machines, "m"));
                assert_false(tests_exists(e.state, "m.origin"));
                assert_false(tests_exists(e.etc, "m.mspawn"));
                assert_true(asprintf(&want, "%s/m.mspawn", e.etc) > 0);
                assert_string_equal(res.config_removed, want);
        }
        {
                /* kept on request */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                tests_write(e.machines, "m/etc/hostname", "m\n");
                tests_write(e.etc, "m.mspawn", SAVED);
                assert_int_equal(machine_uninstall("m", &e.o, MACHINE_UNINSTALL_KEEP_CONFIG, &res, &d), 0);
                assert_false(tests_exists(e.machines, "m"));
                assert_true(tests_exists(e.etc, "m.mspawn"));
                assert_null(res.config_removed);
        }
        {
                /* a declaration written by hand is the admin's */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                tests_write(e.machines, "m/etc/hostname", "m\n");
                tests_write(e.etc, "m.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
                assert_int_equal(machine_uninstall("m", &e.o, 0, &res, &d), 0);
                assert_false(tests_exists(e.machines, "m"));
                assert_true(tests_exists(e.etc, "m.mspawn"));
                assert_null(res.config_removed);
        }
        {
                /* no machine at all */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
                _cleanup_free_ char *msg = NULL;
                assert_int_equal(machine_uninstall("none", &e.o, 0, &res, &d), -ENOENT);
                assert_true(asprintf(&msg, "Machine none has no image in %s.", e.machines) > 0);
                tests_said_only(&d, LOG_ERR, msg);
        }
        env_done(&e);
}

static void test_origin_first_line(void **state) {
        Env e;

        env_init(&e);
        {
                _cleanup_free_ char *origin = NULL, *key = NULL;
                assert_int_equal(machine_origin_read(&e.o, "m", &origin, &key), -ENOENT);
                assert_null(origin);
                assert_null(key);
        }
        tests_write(e.state, "m.origin", "base=debian-bookworm-amd64-minbase-abc\ncreated=5\nformat=2\n");
        {
                _cleanup_free_ char *origin = NULL, *key = NULL;
                assert_int_equal(machine_origin_read(&e.o, "m", &origin, &key), 0);
                assert_string_equal(origin, "base=debian-bookworm-amd64-minbase-abc");
                assert_string_equal(key, "debian-bookworm-amd64-minbase-abc");
                /* either output may be left out */
                assert_int_equal(machine_origin_read(&e.o, "m", NULL, NULL), 0);
        }
        tests_write(e.state, "m.origin", "image=https://example.org/r.tar.xz\ncreated=5\n");
        {
                _cleanup_free_ char *origin = NULL, *key = NULL;
                assert_int_equal(machine_origin_read(&e.o, "m", &origin, &key), 0);
                assert_string_equal(origin, "image=https://example.org/r.tar.xz");
                assert_null(key);
        }
        tests_write(e.state, "m.origin", "");
        {
                _cleanup_free_ char *origin = NULL, *key = NULL;
                assert_int_equal(machine_origin_read(&e.o, "m", &origin, &key), 0);
                assert_string_equal(origin, "");
                assert_null(key);
        }
        env_done(&e);
}

/* Declared machines and undeclared trees, sorted; nothing but directories counts as a tree. */
static void test_list(void **state) {
        _cleanup_free_ char *info = NULL;
        MachineListEntry *l = NULL;
        size_t n = 0;
        Env e;
        int fd;

        env_init(&e);
        tests_write(e.etc, "declared.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        tests_write(e.etc, "built.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        tests_write(e.machines, "built/etc/hostname", "built\n");
        tests_write(e.machines, "stray/etc/hostname", "stray\n");
        tests_write(e.machines, "stray/var/data", "0123456789");
        tests_write(e.machines, ".#hidden.abc/etc/x", "temporary");
        tests_write(e.machines, "file", "not a tree");
        assert_int_equal(symlink(e.etc, strjoin_a(e.machines, "/link")), 0);
        tests_write(e.state, "built.origin", "base=debian-bookworm-amd64-minbase-abc\n");
        tests_write(e.state, "stray.origin", "base=../../etc/passwd\n");
        info = cache_path(e.cache, "debian-bookworm-amd64-minbase-abc", ".info");
        tests_write(e.cache, "debian-bookworm-amd64-minbase-abc.info", "built=1000\nlast-used=2000\n");
        fd = hold_running(&e, "stray");

        assert_int_equal(machine_list(&e.o, e.cache, 5000, &l, &n), 0);
        close(fd);
        assert_int_equal(n, 3);
        assert_string_equal(l[0].name, "built");
        assert_string_equal(l[1].name, "declared");
        assert_string_equal(l[2].name, "stray");

        assert_true(endswith(l[0].declared, "/built.mspawn"));
        assert_string_equal(l[0].origin, "base=debian-bookworm-amd64-minbase-abc");
        assert_true(l[0].image);
        assert_false(l[0].running);
        assert_true(l[0].size > 0);
        assert_int_equal(l[0].base_age, 4000);

        /* declared, never started */
        assert_non_null(l[1].declared);
        assert_false(l[1].image);
        assert_null(l[1].origin);
        assert_int_equal(l[1].base_age, -1);

        /* not declared; a key that is not one never leads to a file */
        assert_null(l[2].declared);
        assert_true(l[2].image);
        assert_true(l[2].running);
        assert_true(l[2].size > l[0].size);
        assert_string_equal(l[2].origin, "base=../../etc/passwd");
        assert_int_equal(l[2].base_age, -1);
        machine_list_free(l, n);

        /* nothing declared, no machines directory */
        tests_rm_rf(e.machines);
        tests_rm_rf(e.etc);
        assert_int_equal(machine_list(&e.o, e.cache, 5000, &l, &n), 0);
        assert_int_equal(n, 0);
        machine_list_free(l, n);
        env_done(&e);
}

/* As root: the session environment that machinespawn-prepare wrote goes along as --setenv=; one that
 * cannot be used is a warning and left out. */
static void test_enter_argv(void **state) {
        Env e;

        if (geteuid() != 0) {
                /* nobody but root reads the tree: machinectl shell, nothing from the tree */
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                env_init(&e);
                tests_write(e.machines, "m/" MACHINE_SESSION_ENV, "WAYLAND_DISPLAY=wayland-0\n");
                assert_int_equal(machine_enter_argv(e.machines, "m", "alice", NULL, true, &argv, &d), 0);
                assert_int_equal(d.n, 0);
                assert_int_equal(strv_length(argv), 4);
                assert_string_equal(argv[0], "machinectl");
                assert_string_equal(argv[3], "alice@m");
                env_done(&e);
                return;
        }
        env_init(&e);
        tests_write(e.root, "host/session.env", "SECRET=host\n");
        {
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                tests_write(e.machines, "m/" MACHINE_SESSION_ENV,
                            "# written by machinespawn-prepare\nWAYLAND_DISPLAY=wayland-0\nPULSE_SERVER=unix:/run/p\n");
                assert_int_equal(machine_enter_argv(e.machines, "m", "alice", STRV_MAKE("id", "-u"), false, &argv, &d),
                                 0);
                assert_int_equal(d.n, 0);
                assert_string_equal(argv[0], "systemd-run");
                assert_true(strv_contains(argv, "--setenv=WAYLAND_DISPLAY=wayland-0"));
                assert_true(strv_contains(argv, "--setenv=PULSE_SERVER=unix:/run/p"));
                assert_true(strv_contains(argv, "--pipe"));
                assert_true(strv_contains(argv, "--uid=alice"));
                assert_string_equal(argv[strv_length(argv) - 1], "-u");
        }
        {
                /* no file: nothing added, nothing said */
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                tests_write(e.machines, "n/etc/hostname", "n\n");
                assert_int_equal(machine_enter_argv(e.machines, "n", "alice", NULL, true, &argv, &d), 0);
                assert_int_equal(d.n, 0);
                STRV_FOREACH(a, argv)
                        assert_null(startswith(*a, "--setenv="));
        }
        static const struct {
                const char *content; /* "link": a link to the host's file; "fifo": a FIFO */
                const char *reason;  /* the warning's end */
        } bad[] = {
                { "WAYLAND_DISPLAY=wayland-0\nnot a line\n", "not what machinespawn-prepare writes" },
                { "LD_PRELOAD=/x\x01y\n", "not what machinespawn-prepare writes" },
                { "1X=y\n", "not what machinespawn-prepare writes" },
                /* a FIFO is never opened to wait on */
                { "fifo", "not a regular file (a FIFO, a device or a socket there is refused)" },
                /* the machine's link is never followed to the host's file */
                { "link", "a symbolic link where a file was expected (or a loop of links), refused" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_strv_free_ char **argv = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *tree = strjoin(e.machines, "/b"), *file = strjoin(tree, "/" MACHINE_SESSION_ENV),
                                    *want = NULL;
                tests_rm_rf(tree);
                tests_write(tree, "etc/hostname", "b\n");
                if (streq(bad[i].content, "link"))
                        assert_int_equal(symlink(strjoin_a(e.root, "/host/session.env"), file), 0);
                else if (streq(bad[i].content, "fifo"))
                        assert_int_equal(mkfifo(file, 0644), 0);
                else
                        tests_write(tree, MACHINE_SESSION_ENV, bad[i].content);
                assert_int_equal(machine_enter_argv(e.machines, "b", "alice", STRV_MAKE("id"), false, &argv, &d), 0);
                for (size_t j = 0; j < d.n; j++)
                        print_message("said: %s\n", d.items[j].message);
                assert_int_equal(d.n, 1);
                assert_int_equal(d.items[0].level, LOG_WARNING);
                assert_true(asprintf(&want, "Ignoring %s/%s: %s", tree, MACHINE_SESSION_ENV, bad[i].reason) > 0);
                assert_string_equal(d.items[0].message, want);
                /* nothing of the file, nor of the host's file behind the link */
                STRV_FOREACH(a, argv)
                        assert_null(startswith(*a, "--setenv="));
        }
        env_done(&e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_systemctl),    cmocka_unit_test(test_wait_answering),
                cmocka_unit_test(test_uninstall),    cmocka_unit_test(test_origin_first_line),
                cmocka_unit_test(test_list),         cmocka_unit_test(test_enter_argv),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
