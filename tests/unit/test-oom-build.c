/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocation failures in what runs around a machine's life (origin records, converge, rebuild recovery,
 * Keep=, exports, the listing): every allocation an operation makes is failed in turn (this program
 * replaces malloc and friends, as glibc allows); each time the operation must fail, or succeed with the
 * same result as without the failure, and not crash. The result is rendered as text (files and their
 * contents) after the failure window, so that what was lost on the way shows. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oom.h"
#include "tests.h"

#include "converge.h"
#include "export.h"
#include "fileio.h"
#include "machine-build.h"
#include "machine-manage.h"
#include "tree.h"
#include "origin.h"
#include "rebuild.h"
#include "strv.h"
#include "user.h"

#define STRV_MAKE(...) ((char *[]) { __VA_ARGS__, NULL })
/* a + b in a buffer that lives as long as the enclosing block */
#define strjoin_a(a, b) join_buf((char[PATH_MAX]) {}, (a), (b))

static char *join_buf(char *buf, const char *a, const char *b) {
        assert_true((size_t) snprintf(buf, PATH_MAX, "%s%s", a, b) < PATH_MAX);
        return buf;
}

/* Every file and link under root with its content, sorted: "PATH: CONTENT" or "PATH -> TARGET". */
static char **rendered;
static size_t render_skip;

static int render_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        _cleanup_free_ char *line = NULL, *text = NULL;
        char target[PATH_MAX];
        ssize_t n;

        /* export_sync()'s previous tree, exchanged for the new one: when its removal is what fails, it stays
         * behind as a temporary until the next sync or export_remove() (nothing names it; not counted) */
        if (strstr(path + render_skip, "/export/.#desk."))
                return 0;

        if (S_ISLNK(st->st_mode)) {
                n = readlink(path, target, sizeof target - 1);
                assert_true(n >= 0);
                target[n] = 0;
                assert_true(asprintf(&line, "%s -> %s", path + render_skip, target) > 0);
        } else if (S_ISREG(st->st_mode)) {
                char *t;
                assert_int_equal(read_full_file(path, &text, NULL), 0);
                /* a record names its tree by device and inode, new each time */
                if ((t = strstr(text, "\ntree=")))
                        for (t += strlen("\ntree="); *t && *t != '\n'; t++)
                                *t = 'X';
                /* ... and when it was made */
                if ((t = strstr(text, "\ncreated=")))
                        for (t += strlen("\ncreated="); *t && *t != '\n'; t++)
                                *t = 'X';
                /* ... and a Copy= by its text, which names this run's directory */
                if ((t = strstr(text, "\nhook=copy:")))
                        for (t += strlen("\nhook=copy:"); *t && *t != '\n'; t++)
                                *t = 'X';
                assert_true(asprintf(&line, "%s: %s", path + render_skip, text) > 0);
        } else
                assert_true(asprintf(&line, "%s/", path + render_skip) > 0);
        assert_int_equal(strv_extend(&rendered, line), 0);
        return 0;
}

static char *render(const char *root) {
        char *text;

        rendered = NULL;
        render_skip = strlen(root);
        assert_int_equal(nftw(root, render_one, 16, FTW_PHYS), 0);
        strv_sort(rendered);
        text = strv_join(rendered, "\n");
        strv_free(rendered);
        rendered = NULL;
        assert_non_null(text);
        return text;
}

static char data_dir[PATH_MAX], vendor[PATH_MAX], *base;

/* The same directory for every run of an operation (paths show in what it writes), empty at the start. */
static char *op_dir(void) {
        char *p = strjoin(base, "/op");
        tests_rm_rf(p);
        assert_int_equal(mkdir(p, 0755), 0);
        return p;
}
static const time_t NOW = 1795910400;

static MachineConfig *config(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("m", "m.mspawn", &u, NOW, data_dir, &c, &d), 0);
        c->source_path = strdup("m.mspawn");
        return c;
}

/* origin.c and origin_wanted(): the record written and read back, the difference, the message. */
static int op_origin(char **ret) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(
                "[Machine]\nDistribution=debian\nRelease=stable\nPackages=vim less\nRun=touch /a\n");
        _cleanup_(origin_done) Origin wanted = {}, built = {};
        _cleanup_(origin_diff_done) OriginDiff diff = {};
        _cleanup_free_ char *text = NULL, *msg = NULL, *id = NULL, *pending = NULL;
        _cleanup_strv_free_ char **p = NULL;
        BootstrapPlan plan = {
                .cache_key = (char *) "debian-trixie-amd64-minbase-x",
                .release = { .distribution = (char *) "debian", .codename = (char *) "trixie" },
                .architecture = (char *) "amd64",
                .variant = (char *) "minbase",
        };
        int r;

        oom_begin();
        r = origin_wanted(c, &plan, &wanted);
        if (r >= 0)
                r = origin_parse("base=k\ncreated=5\nformat=2\ntree=1:2\ndistribution=debian\nrelease=bookworm\n"
                                 "architecture=amd64\nvariant=buildd\npackages=vim curl\nhook=run:ab\n"
                                 "release-declared=stable\nfuture=x\n",
                                 &built);
        if (r >= 0)
                r = origin_diff(&built, &wanted, &diff);
        if (r >= 0)
                r = (msg = origin_change_message(&diff.blocking[0], "m")) ? 0 : -ENOMEM;
        if (r >= 0)
                r = (id = hook_id("run", "touch /a")) ? 0 : -ENOMEM;
        if (r >= 0)
                r = hooks_pending(&built, "run", c->life.run, &p);
        if (r >= 0)
                r = origin_format(&wanted, &text);
        oom_end();
        if (r < 0)
                return r;
        pending = strv_join(p, ",");
        assert_true(asprintf(ret, "%s\n%zu %s\n+%s -%s\n%s\n%s", text, diff.n_blocking, msg,
                             diff.added ? diff.added[0] : "", diff.removed ? diff.removed[0] : "", id,
                             strempty(pending)) > 0);
        return 0;
}

static const char fake_nspawn[] =
        "#!/bin/sh\n"
        "while [ $# -gt 0 ]; do\n"
        "  case \"$1\" in\n"
        "    -D) tree=$2; shift ;;\n"
        "    --) cmd=$4; break ;;\n"
        "  esac\n"
        "  shift\n"
        "done\n"
        "cd \"$tree\" && exec /bin/sh -c \"$cmd\"\n";

/* A stopped machine that follows its .mspawn: a package added (the stand-in apt-get is an echo), a Copy=,
 * a Run=, a RunOnStart=; then Keep= copied into a second tree. */
static int op_converge(char **ret) {
        _cleanup_free_ char *root = op_dir(), *machines = strjoin(root, "/machines"),
                            *run = strjoin(root, "/run"), *state = strjoin(root, "/state"), *conf = NULL,
                            *gconf = NULL, *path = NULL, *old_path = strdup(getenv("PATH")), *tree = NULL,
                            *other = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_(origin_done) Origin o = {};
        BuildOptions b = { .paths = *tests_paths() };
        int r;

        tests_write(root, "bin/systemd-nspawn", fake_nspawn);
        tests_write(root, "bin/apt-get", "#!/bin/sh\necho \"$*\" >>apt.log\n");
        tests_write(root, "host/motd", "motd\n");
        tests_write(root, "keyring.gpg", "keys");
        tests_write(machines, "m/etc/hostname", "m\n");
        tests_write(machines, "m/home/alice/notes", "kept\n");
        tests_write(machines, "other/etc/hostname", "other\n");
        path = strjoin(root, "/bin/systemd-nspawn");
        assert_int_equal(chmod(path, 0755), 0);
        free(path);
        path = strjoin(root, "/bin/apt-get");
        assert_int_equal(chmod(path, 0755), 0);
        free(path);
        path = strjoin(root, "/bin:", old_path);
        tree = strjoin(machines, "/m");
        other = strjoin(machines, "/other");
        assert_true(asprintf(&gconf, "[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n[debian]\nKeyring=%s/keyring.gpg\n",
                             root, root) > 0);
        tests_write(root, "etc.conf", gconf);
        free(gconf);
        gconf = strjoin(root, "/etc.conf");
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(strv_extend(&files, gconf), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        assert_true(asprintf(&conf,
                             "[Machine]\nDistribution=debian\nRelease=12\nPackages=vim curl\nCopy=%s/host/motd:/etc/motd\n"
                             "Run=cat etc/motd >>hooks.log\nRunOnStart=echo start >>start.log\n",
                             root) > 0);
        c = config(conf);
        /* the record of the build: vim only */
        assert_int_equal(mkdir(state, 0755), 0);
        o = (Origin) { .base = strdup("k"), .distribution = strdup("debian"), .release = strdup("bookworm"),
                       .architecture = strdup("amd64"), .variant = strdup("minbase") };
        assert_int_equal(strv_extend(&o.packages, "vim"), 0);
        assert_int_equal(origin_tree_id(tree, &o.tree), 0);
        free(conf);
        conf = strjoin(state, "/m.origin");
        assert_int_equal(origin_write(conf, &o), 0);

        b.paths.machines_dir = machines;
        b.paths.run_dir = run;
        b.paths.state_dir = state;
        b.paths.distro_info_dir = data_dir;
        setenv("PATH", path, 1);
        oom_begin();
        r = machine_converge(c, g, &b, false, &d);
        if (r >= 0)
                r = machine_keep_copy(tree, other, STRV_MAKE("/home"), &d);
        oom_end();
        setenv("PATH", old_path, 1);
        if (r >= 0) {
                _cleanup_free_ char *trees = render(machines), *records = render(state);
                assert_true(asprintf(ret, "%s\n%s", trees, records) > 0);
        }
        tests_rm_rf(root);
        return r;
}

static const char fake_debootstrap[] =
        "#!/bin/sh\n"
        "n=0\n"
        "for a; do case \"$a\" in --*) ;; *) n=$((n + 1)); [ $n = 2 ] && t=$a ;; esac; done\n"
        "mkdir -p \"$t/etc/apt/apt.conf.d\" \"$t/etc/default\" \"$t/var/lib/dbus\"\n"
        "echo base >\"$t/etc/base\"\n";

/* A machine made from a cached base (made before the failures start): cloned, finished, its record
 * written, put in place. (Each run spawns cp: the base's own build under failures is left to test-oom's
 * cache operations, or this would take minutes.) */
static int op_build(char **ret) {
        _cleanup_free_ char *root = op_dir(), *machines = strjoin(root, "/machines"), *run = strjoin(root, "/run"),
                            *state = strjoin(root, "/state"), *gconf = NULL, *path = NULL,
                            *old_path = strdup(getenv("PATH")), *tool = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(machine_config_freep) MachineConfig *c = config("[Machine]\nDistribution=debian\nRelease=12\n");
        _cleanup_(build_result_done) BuildResult res = {}, res2 = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        BuildOptions b = { .paths = *tests_paths() };
        int r;

        tests_write(root, "bin/debootstrap", fake_debootstrap);
        tests_write(root, "keyring.gpg", "keys");
        tool = strjoin(root, "/bin/debootstrap");
        assert_int_equal(chmod(tool, 0755), 0);
        path = strjoin(root, "/bin:", old_path);
        assert_true(asprintf(&gconf,
                             "[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\nBootstrapper=debootstrap\n"
                             "[debian]\nKeyring=%s/keyring.gpg\n",
                             root, root) > 0);
        tests_write(root, "etc.conf", gconf);
        free(gconf);
        gconf = strjoin(root, "/etc.conf");
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(strv_extend(&files, gconf), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        b.paths.machines_dir = machines;
        b.paths.run_dir = run;
        b.paths.state_dir = state;
        b.paths.distro_info_dir = data_dir;
        b.paths.cache_format = "tree";
        setenv("PATH", path, 1);
        /* the base, in the cache */
        assert_int_equal(machine_build(c, g, &b, &res, &d), 0);
        assert_int_equal(tree_remove(strjoin_a(machines, "/m"), NULL), 0);
        oom_begin();
        r = machine_build(c, g, &b, &res2, &d);
        oom_end();
        setenv("PATH", old_path, 1);
        if (r >= 0) {
                _cleanup_free_ char *trees = render(machines), *records = render(state);
                assert_true(asprintf(ret, "%s\n%s\n%s %i", trees, records, res2.cache_key, res2.base_built) > 0);
        }
        return r;
}

/* A rebuild killed after its exchange, recovered; then the machine listed and entered. */
static int op_recover_list(char **ret) {
        _cleanup_free_ char *root = op_dir(), *machines = strjoin(root, "/machines"),
                            *state = strjoin(root, "/state"), *etc = strjoin(root, "/etc"), *text = NULL,
                            *first = NULL, *key = NULL, *argv_text = NULL, *tree = NULL, *newt = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_(origin_done) Origin o = {};
        MachineListEntry *l = NULL;
        size_t n = 0;
        BuildOptions b = { .paths = *tests_paths() };
        int r;

        tree = strjoin(machines, "/m");
        newt = strjoin(machines, "/.m.new");
        tests_write(machines, "m/etc/hostname", "old\n");
        tests_write(machines, ".m.new/etc/hostname", "new\n");
        tests_write(machines, ".m.new/" MACHINE_SESSION_ENV, "WAYLAND_DISPLAY=wayland-0\n");
        tests_write(etc, "m.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        tests_write(etc, "d.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        tests_write(root, "cache/k.info", "built=1000\n");
        o = (Origin) { .base = strdup("k"), .release = strdup("old") };
        assert_int_equal(origin_tree_id(tree, &o.tree), 0);
        tests_write(state, ".keep", "");
        assert_int_equal(origin_write(strjoin_a(state, "/m.origin"), &o), 0);
        free(o.tree);
        free(o.release);
        o.release = strdup("new");
        assert_int_equal(origin_tree_id(newt, &o.tree), 0);
        assert_int_equal(origin_write(strjoin_a(state, "/m.origin.new"), &o), 0);
        assert_int_equal(renameat2(AT_FDCWD, tree, AT_FDCWD, newt, RENAME_EXCHANGE), 0);

        b.paths.machines_dir = machines;
        b.paths.state_dir = state;
        b.paths.sysconf_dir = etc;
        b.paths.config_path = etc;
        oom_begin();
        r = machine_state_recover(&b, "m", &d);
        if (r >= 0)
                r = machine_list(&b, strjoin_a(root, "/cache"), 3000, &l, &n);
        if (r >= 0)
                r = machine_origin_read(&b, "m", &first, &key);
        if (r >= 0)
                r = machine_enter_argv(machines, "m", "alice", STRV_MAKE("id"), false, &argv, &d);
        oom_end();
        if (r >= 0) {
                _cleanup_strv_free_ char **lines = NULL;
                for (size_t i = 0; i < n; i++) {
                        char line[512];
                        snprintf(line, sizeof line, "%s declared=%s origin=%s image=%i age=%lld", l[i].name,
                                 l[i].declared ? "yes" : "no", (l[i].origin ?: "(null)"), l[i].image, l[i].base_age);
                        assert_int_equal(strv_extend(&lines, line), 0);
                }
                text = strv_join(lines, "\n");
                argv_text = strv_join(argv, " ");
                _cleanup_free_ char *records = render(state), *trees = render(machines);
                assert_true(asprintf(ret, "%s\n%s %s\n%s\n%s\n%s", text, first, (key ?: "(null)"), argv_text, trees,
                                     records) > 0);
        }
        machine_list_free(l, n);
        tests_rm_rf(root);
        return r;
}

/* Apps and programs exported, then fewer, then removed with the machine. */
static int op_export(char **ret) {
        _cleanup_free_ char *root = op_dir(), *tree = strjoin(root, "/tree"), *home = strjoin(root, "/home"),
                            *state = strjoin(root, "/state"), *after_sync = NULL, *after_less = NULL,
                            *after_remove = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_close_ int tree_fd = -EBADF;
        ExportPaths p = { .state_dir = state, .launcher = "/usr/bin/machinespawn" };
        ExportUser u = { .name = "alice", .home = home, .uid = getuid(), .gid = getgid() };
        int r;

        tests_write(tree, "usr/share/applications/org.example.Calc.desktop",
                    "[Desktop Entry]\nType=Application\nName=Calc\nExec=calc %U\nIcon=org.example.Calc\n"
                    "[Desktop Action new]\nName=New\nExec=calc --new\n");
        tests_write(tree, "usr/share/applications/org.example.Draw.desktop",
                    "[Desktop Entry]\nType=Application\nName=Draw\nExec=draw\nIcon=/usr/share/draw/draw.png\n");
        tests_write(tree, "usr/share/draw/draw.png", "PNG");
        tests_write(tree, "usr/share/icons/hicolor/48x48/apps/org.example.Calc.png", "PNG48");
        tests_write(tree, "usr/share/pixmaps/org.example.Calc.xpm", "XPM");
        tests_write(home, ".profile", "# the user's\n");
        tree_fd = open(tree, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        assert_true(tree_fd >= 0);

        oom_begin();
        r = export_sync(&p, "desk", tree_fd, &u, STRV_MAKE("org.example.Calc", "org.example.Draw", "missing"),
                        STRV_MAKE("/usr/bin/htop", "/usr/bin/calc"), &d);
        oom_end();
        if (r >= 0) {
                after_sync = render(root);
                oom_begin();
                r = export_sync(&p, "desk", tree_fd, &u, STRV_MAKE("org.example.Calc"), NULL, &d);
                oom_end();
        }
        if (r >= 0) {
                after_less = render(root);
                oom_begin();
                r = export_remove(state, "desk", &d);
                oom_end();
        }
        if (r >= 0) {
                after_remove = render(root);
                /* no temporary outlives the machine's export */
                assert_int_equal(rmdir(strjoin_a(state, "/export")), 0);

                assert_true(asprintf(ret, "%s\n----\n%s\n----\n%s", after_sync, after_less, after_remove) > 0);
        }
        tests_rm_rf(root);
        return r;
}

static void test_origin(void **state) {
        oom_check_operation("origin", op_origin);
}
static void test_converge(void **state) {
        oom_check_operation("converge", op_converge);
}
static void test_recover_list(void **state) {
        oom_check_operation("recover-list", op_recover_list);
}
static void test_build(void **state) {
        oom_check_operation("build", op_build);
}
static void test_export(void **state) {
        oom_check_operation("export", op_export);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_origin),
                cmocka_unit_test(test_converge),
                cmocka_unit_test(test_recover_list),
                cmocka_unit_test(test_export),
                cmocka_unit_test(test_build),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        unsetenv("MACHINESPAWN_TEST_FAIL_AT");
        base = tests_mkdtemp();
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        tests_rm_rf(base);
        free(base);
        return r;
}
