/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A machine following its .mspawn (converge.c) and being rebuilt beside itself (rebuild.c), with
 * stand-ins first on PATH for debootstrap and systemd-nspawn: the stand-in nspawn runs the command with
 * /bin/sh in the tree's directory, with an apt-get of its own that records what it was asked. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests.h"

#include "converge.h"
#include "fileio.h"
#include "machine-build.h"
#include "origin.h"
#include "rebuild.h"
#include "strv.h"

#define STRV_MAKE(...) ((char *[]) { __VA_ARGS__, NULL })
/* a + b in a buffer that lives as long as the enclosing block */
#define strjoin_a(a, b) join_buf((char[PATH_MAX]) {}, (a), (b))

static char *join_buf(char *buf, const char *a, const char *b) {
        assert_true((size_t) snprintf(buf, PATH_MAX, "%s%s", a, b) < PATH_MAX);
        return buf;
}

static const time_t NOW = 1795910400;
static char data_dir[PATH_MAX], vendor[PATH_MAX], saved_path[8192];

/* debootstrap: SUITE TARGET MIRROR after the options; a small tree that says which suite it is. */
static const char fake_debootstrap[] =
        "#!/bin/sh\n"
        "echo \"debootstrap $*\" >>\"$FAKE_STATE/debootstrap.log\"\n"
        "[ -n \"$FAKE_FAIL\" ] && exit \"$FAKE_FAIL\"\n"
        "n=0\n"
        "for a; do case \"$a\" in --*) ;; *) n=$((n + 1)); eval \"pos$n=\\$a\" ;; esac; done\n"
        "t=$pos2\n"
        "[ -d \"$t\" ] || exit 4\n"
        "mkdir -p \"$t/etc/apt/apt.conf.d\" \"$t/etc/default\" \"$t/home\"\n"
        "echo \"$pos1\" >\"$t/etc/suite\"\n"
        "echo \"$pos1\" >\"$t/home/skel\"\n";

/* systemd-nspawn as tree_run_command() calls it: the arguments logged, the command run in the tree's
 * directory with http_proxy from --setenv=. */
static const char fake_nspawn[] =
        "#!/bin/sh\n"
        "echo \"$*\" >>\"$FAKE_STATE/nspawn.log\"\n"
        "tree= cmd= proxy=\n"
        "while [ $# -gt 0 ]; do\n"
        "  case \"$1\" in\n"
        "    -D) tree=$2; shift ;;\n"
        "    --setenv=http_proxy=*) proxy=${1#--setenv=http_proxy=} ;;\n"
        "    --) [ \"$2\" = /bin/sh ] && [ \"$3\" = -c ] || exit 90; cmd=$4; break ;;\n"
        "  esac\n"
        "  shift\n"
        "done\n"
        "[ -d \"$tree\" ] || exit 91\n"
        "cd \"$tree\" && PATH=\"$FAKE_STATE/inner:$PATH\" http_proxy=$proxy exec /bin/sh -c \"$cmd\"\n";

static const char fake_apt[] =
        "#!/bin/sh\n"
        "echo \"apt-get $* http_proxy=$http_proxy\" >>apt.log\n"
        "[ \"$1\" = install ] && [ -n \"$FAKE_APT_FAIL\" ] && exit \"$FAKE_APT_FAIL\"\n"
        "exit 0\n";

typedef struct Env {
        char *root, *machines, *run, *state, *tree;
        GlobalConfig *g;
        BuildOptions o;
} Env;

static void make_exec(const char *root, const char *rel, const char *text) {
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        tests_write(root, rel, text);
        assert_int_equal(chmod(p, 0755), 0);
}

static GlobalConfig *global(const char *root, const char *proxy) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *text = NULL, *p = strjoin(root, "/etc.conf");
        GlobalConfig *g = NULL;

        assert_true(asprintf(&text,
                             "[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=%s\nBootstrapper=debootstrap\n"
                             "[debian]\nKeyring=%s/keyring.gpg\n[ubuntu]\nKeyring=%s/keyring.gpg\n",
                             root, proxy, root, root) > 0);
        tests_write(root, "etc.conf", text);
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(strv_extend(&files, p), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        return g;
}

static void env_init(Env *e) {
        _cleanup_free_ char *path = NULL;

        *e = (Env) { .root = tests_mkdtemp() };
        e->machines = strjoin(e->root, "/machines");
        e->run = strjoin(e->root, "/run");
        e->state = strjoin(e->root, "/state");
        e->tree = strjoin(e->machines, "/m");
        make_exec(e->root, "bin/debootstrap", fake_debootstrap);
        make_exec(e->root, "bin/systemd-nspawn", fake_nspawn);
        make_exec(e->root, "inner/apt-get", fake_apt);
        tests_write(e->root, "keyring.gpg", "keys");
        snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH"));
        path = strjoin(e->root, "/bin:/usr/bin:/bin");
        setenv("PATH", path, 1);
        setenv("FAKE_STATE", e->root, 1);
        unsetenv("FAKE_FAIL");
        unsetenv("FAKE_APT_FAIL");
        e->g = global(e->root, "none");
        e->o = (BuildOptions) { .paths = *tests_paths() };
        e->o.paths.machines_dir = e->machines;
        e->o.paths.run_dir = e->run;
        e->o.paths.state_dir = e->state;
        e->o.paths.distro_info_dir = data_dir;
        e->o.paths.cache_format = "tree";
}

static void env_done(Env *e) {
        setenv("PATH", saved_path, 1);
        unsetenv("FAKE_FAIL");
        unsetenv("FAKE_APT_FAIL");
        global_config_free(e->g);
        tests_rm_rf(e->root);
        free(e->root);
        free(e->machines);
        free(e->run);
        free(e->state);
        free(e->tree);
}

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

static void build_machine(Env *e, const char *text) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(text);
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(machine_build(c, e->g, &e->o, &res, &d), 0);
        assert_false(res.existed);
        tests_write(e->tree, "marker", "first\n");
}

static int converge(Env *e, const char *text, bool fresh, Diagnostics *d) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(text);
        return machine_converge(c, e->g, &e->o, fresh, d);
}

static void test_origin_wanted(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(
                "[Machine]\nDistribution=debian\nRelease=stable\nPackages=vim less\n"),
                                        *img = config("[Machine]\nImage=https://example.org/r.tar.xz\n");
        _cleanup_(origin_done) Origin o = {}, i = {}, back = {};
        BootstrapPlan p = {
                .cache_key = (char *) "debian-trixie-amd64-minbase-x",
                .release = { .distribution = (char *) "debian", .codename = (char *) "trixie" },
                .architecture = (char *) "amd64",
                .variant = (char *) "minbase",
        };
        _cleanup_free_ char *root = tests_mkdtemp(), *path = strjoin(root, "/m.origin"), *link = NULL, *id = NULL;

        assert_int_equal(origin_wanted(c, &p, &o), 0);
        assert_string_equal(o.base, "debian-trixie-amd64-minbase-x");
        assert_string_equal(o.release, "trixie");
        /* the alias as written, for "stable moved on" later */
        assert_string_equal(o.release_declared, "stable");
        assert_string_equal(o.architecture, "amd64");
        assert_string_equal(o.variant, "minbase");
        assert_int_equal(strv_length(o.packages), 2);
        assert_null(o.image);
        assert_null(o.tree);
        assert_null(o.hooks);

        /* an Image= machine: the URL and nothing of a bootstrap */
        assert_int_equal(origin_wanted(img, NULL, &i), 0);
        assert_string_equal(i.image, "https://example.org/r.tar.xz");
        assert_null(i.base);
        assert_null(i.release);
        assert_null(i.packages);

        assert_int_equal(origin_read(path, &back), -ENOENT);
        assert_int_equal(origin_write(path, &o), 0);
        assert_int_equal(origin_read(path, &back), 0);
        assert_string_equal(back.release_declared, "stable");
        assert_string_equal(back.packages[1], "less");

        /* the tree's identity: a directory, never through a link */
        assert_int_equal(origin_tree_id(root, &id), 0);
        assert_non_null(strchr(id, ':'));
        id = mfree(id);
        link = strjoin(root, "/link");
        assert_int_equal(symlink(root, link), 0);
        assert_int_equal(origin_tree_id(link, &id), -ENOTDIR);
        assert_int_equal(origin_tree_id(path, &id), -ENOTDIR);
        free(link);
        link = strjoin(root, "/none");
        assert_int_equal(origin_tree_id(link, &id), -ENOENT);
        assert_null(id);
        tests_rm_rf(root);
}

static void test_run_command(void **state) {
        Env e;
        _cleanup_free_ char *log = NULL;

        env_init(&e);
        tests_write(e.tree, "etc/hostname", "m\n");
        /* the command's exit status, the command run in the tree */
        assert_int_equal(tree_run_command(e.tree, "m", NULL, "echo in >here; exit 3"), 3);
        log = tests_read(e.tree, "here");
        assert_string_equal(log, "in\n");
        log = mfree(log);
        log = tests_read(e.root, "nspawn.log");
        assert_non_null(log);
        /* unregistered, in our unit, the tree and the name given, no proxy */
        assert_non_null(strstr(log, "--quiet --register=no --keep-unit --pipe -D "));
        assert_non_null(strstr(log, " --machine=m --setenv=DEBIAN_FRONTEND=noninteractive --quiet -- /bin/sh -c "));
        assert_null(strstr(log, "http_proxy"));
        log = mfree(log);

        assert_int_equal(tree_run_command(e.tree, "m", "http://127.0.0.1:9", "echo $http_proxy >proxy"), 0);
        log = tests_read(e.tree, "proxy");
        assert_string_equal(log, "http://127.0.0.1:9\n");
        log = mfree(log);

        /* no systemd-nspawn at all */
        setenv("PATH", "/nonexistent", 1);
        assert_int_equal(tree_run_command(e.tree, "m", NULL, "true"), -ENOENT);
        env_done(&e);
}

static void test_copy_in_refusals(void **state) {
        Env e;
        struct stat st;
        _cleanup_free_ char *text = NULL, *spec = NULL, *fifo = NULL, *big = NULL;
        int fd;

        env_init(&e);
        tests_write(e.tree, "etc/hostname", "m\n");
        tests_write(e.root, "host/secret", "host secret\n");
        tests_write(e.root, "host/motd", "motd\n");
        fifo = strjoin(e.root, "/host/fifo");
        assert_int_equal(mkfifo(fifo, 0644), 0);
        big = strjoin(e.root, "/host/big");
        fd = open(big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 64 * 1024 * 1024 + 1), 0);
        close(fd);

        static const struct {
                const char *source, *dest, *message;
        } cases[] = {
                { "host/motd", NULL, "Copy=%s is not SOURCE:DEST." },
                { "host/none", "/etc/x", "Copy=%s: cannot open %s/host/none: No such file or directory" },
                { "host", "/etc/x", "Copy=%s: %s/host is not a regular file." },
                /* a FIFO is never waited on */
                { "host/fifo", "/etc/x", "Copy=%s: %s/host/fifo is not a regular file." },
                { "host/big", "/etc/x", "Copy=%s: cannot read %s/host/big: File too large" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *want = NULL;

                spec = mfree(spec);
                if (cases[i].dest)
                        assert_true(asprintf(&spec, "%s/%s:%s", e.root, cases[i].source, cases[i].dest) > 0);
                else
                        spec = strjoin(e.root, "/", cases[i].source);
                /* the table's formats take the spec and the directory, in that order */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                assert_true(asprintf(&want, cases[i].message, spec, e.root) > 0);
#pragma GCC diagnostic pop
                assert_true(tree_copy_in(e.tree, spec, &d) < 0);
                tests_said_only(&d, LOG_ERR, want);
                assert_false(tests_exists(e.tree, "etc/x"));
        }

        /* a tree that is not there */
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *none = strjoin(e.machines, "/none"), *want = NULL;
                spec = mfree(spec);
                spec = strjoin(e.root, "/host/motd:/etc/motd");
                assert_true(tree_copy_in(none, spec, &d) < 0);
                assert_true(asprintf(&want, "Copy=%s: cannot open %s: ", spec, none) > 0);
                assert_int_equal(d.n, 1);
                assert_true(startswith(d.items[0].message, want));
        }

        /* a link at the destination is replaced, its target on the host untouched; the mode comes along */
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *victim = strjoin(e.root, "/host/secret"), *link = strjoin(e.tree, "/etc/motd"),
                                    *src = strjoin(e.root, "/host/motd");
                assert_int_equal(symlink(victim, link), 0);
                assert_int_equal(chmod(src, 0600), 0);
                spec = mfree(spec);
                spec = strjoin(src, ":/etc/motd");
                assert_int_equal(tree_copy_in(e.tree, spec, &d), 0);
                assert_int_equal(d.n, 0);
                text = tests_read(e.root, "host/secret");
                assert_string_equal(text, "host secret\n");
                text = mfree(text);
                assert_int_equal(lstat(link, &st), 0);
                assert_true(S_ISREG(st.st_mode));
                assert_int_equal(st.st_mode & 07777, 0600);
                text = tests_read(e.tree, "etc/motd");
                assert_string_equal(text, "motd\n");
                text = mfree(text);
                /* parents made as needed */
                spec = mfree(spec);
                spec = strjoin(src, ":/usr/local/share/motd");
                assert_int_equal(tree_copy_in(e.tree, spec, &d), 0);
                text = tests_read(e.tree, "usr/local/share/motd");
                assert_string_equal(text, "motd\n");
        }
        env_done(&e);
}

/* Copy= before Run=, each done once and recorded; one no longer listed is forgotten, so it runs again when
 * it comes back; a failing one stops and is not recorded. */
static void test_run_hooks(void **state) {
        Env e;
        _cleanup_free_ char *text = NULL, *conf = NULL, *opath = NULL, *cid = NULL, *rid = NULL;
        _cleanup_(origin_done) Origin o = {}, back = {};

        env_init(&e);
        tests_write(e.tree, "etc/hostname", "m\n");
        tests_write(e.root, "host/motd", "from the host\n");
        opath = strjoin(e.state, "/m.origin");
        assert_int_equal(mkdir(e.state, 0755), 0);
        assert_true(asprintf(&conf,
                             "[Machine]\nDistribution=debian\nRelease=12\nCopy=%s/host/motd:/etc/motd\n"
                             "Run=cat etc/motd >>hooks.log\n",
                             e.root) > 0);
        {
                _cleanup_(machine_config_freep) MachineConfig *c = config(conf);
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), 0);
                assert_int_equal(d.n, 0);
                /* the file was there when the command ran */
                text = tests_read(e.tree, "hooks.log");
                assert_string_equal(text, "from the host\n");
                text = mfree(text);
                assert_int_equal(origin_read(opath, &back), 0);
                assert_int_equal(strv_length(back.hooks), 2);
                assert_true(startswith(back.hooks[0], "copy:"));
                assert_true(startswith(back.hooks[1], "run:"));
                cid = strdup(back.hooks[0]);
                rid = strdup(back.hooks[1]);
                origin_done(&back);

                /* done: nothing runs again */
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), 0);
                text = tests_read(e.tree, "hooks.log");
                assert_string_equal(text, "from the host\n");
                text = mfree(text);
        }
        {
                /* Run= dropped: forgotten, Copy= stays done */
                _cleanup_(machine_config_freep) MachineConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *only_copy = NULL;
                assert_true(asprintf(&only_copy, "[Machine]\nDistribution=debian\nRelease=12\nCopy=%s/host/motd:/etc/motd\n",
                                     e.root) > 0);
                c = config(only_copy);
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), 0);
                assert_int_equal(origin_read(opath, &back), 0);
                /* nothing new ran, so the record on disk is the last one written */
                assert_int_equal(strv_length(o.hooks), 1);
                assert_string_equal(o.hooks[0], cid);
                origin_done(&back);
        }
        {
                /* ... and back: it runs again */
                _cleanup_(machine_config_freep) MachineConfig *c = config(conf);
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), 0);
                text = tests_read(e.tree, "hooks.log");
                assert_string_equal(text, "from the host\nfrom the host\n");
                text = mfree(text);
                assert_int_equal(origin_read(opath, &back), 0);
                assert_true(strv_contains(back.hooks, rid));
                origin_done(&back);
        }
        {
                /* a failing one: named with its status, not recorded; the one before it is */
                _cleanup_(machine_config_freep) MachineConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *failing = NULL, *ok_id = hook_id("run", "echo ok >>hooks.log"),
                                    *bad_id = hook_id("run", "exit 7");
                assert_true(asprintf(&failing,
                                     "[Machine]\nDistribution=debian\nRelease=12\nRun=echo ok >>hooks.log\nRun=exit 7\n"
                                     "Run=echo never >>hooks.log\n") > 0);
                c = config(failing);
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), -EIO);
                tests_said_only(&d, LOG_ERR,
                                "Run=exit 7 failed in m with exit status 7 (its output is above).");
                text = tests_read(e.tree, "hooks.log");
                assert_string_equal(text, "from the host\nfrom the host\nok\n");
                text = mfree(text);
                assert_int_equal(origin_read(opath, &back), 0);
                assert_true(strv_contains(back.hooks, ok_id));
                assert_false(strv_contains(back.hooks, bad_id));
                origin_done(&back);
        }
        {
                /* no systemd-nspawn */
                _cleanup_(machine_config_freep) MachineConfig *c = config(
                        "[Machine]\nDistribution=debian\nRelease=12\nRun=true\n");
                _cleanup_(diagnostics_done) Diagnostics d = {};
                setenv("PATH", "/nonexistent", 1);
                assert_int_equal(machine_run_hooks(c, e.tree, NULL, &o, opath, &d), -ENOENT);
                tests_said_only(&d, LOG_ERR,
                                "Run=true: cannot run systemd-nspawn: No such file or directory");
        }
        env_done(&e);
}

#define BOOKWORM "[Machine]\nDistribution=debian\nRelease=12\n"

static void test_converge_packages(void **state) {
        Env e;
        _cleanup_free_ char *text = NULL, *before = NULL;
        _cleanup_(origin_done) Origin o = {};

        env_init(&e);
        build_machine(&e, BOOKWORM "Packages=vim\n");
        {
                /* nothing changed: nothing runs */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "Packages=vim\n", false, &d), 0);
                assert_int_equal(d.n, 0);
                assert_false(tests_exists(e.root, "nspawn.log"));
        }
        {
                /* added: installed through the machine's apt, then recorded */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "Packages=vim curl\n", false, &d), 0);
                assert_int_equal(d.n, 0);
                text = tests_read(e.tree, "apt.log");
                assert_string_equal(text, "apt-get update -q http_proxy=\n"
                                          "apt-get install -q -y --no-install-recommends curl http_proxy=\n");
                text = mfree(text);
                text = tests_read(e.state, "m.origin");
                assert_non_null(strstr(text, "\npackages=vim curl\n"));
                text = mfree(text);
                /* and not again */
                assert_int_equal(converge(&e, BOOKWORM "Packages=vim curl\n", false, &d), 0);
                text = tests_read(e.tree, "apt.log");
                assert_null(strstr(strstr(text, "curl") + 1, "curl"));
                text = mfree(text);
        }
        {
                /* removed: reported, kept installed (no apt-get remove), recorded */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_true(unlink(strjoin_a(e.tree, "/apt.log")) >= 0);
                assert_int_equal(converge(&e, BOOKWORM "Packages=curl\n", false, &d), 0);
                tests_said_only(&d, LOG_WARNING,
                          "Packages= no longer lists vim; m keeps them installed, since removing them could take "
                          "along what was installed inside by hand (RemoveUnlistedPackages=yes removes them at the "
                          "next start; or remove them inside with apt-get remove).");
                assert_string_equal(d.items[0].file, "m.mspawn");
                assert_false(tests_exists(e.tree, "apt.log"));
                assert_int_equal(origin_read(strjoin_a(e.state, "/m.origin"), &o), 0);
                assert_int_equal(strv_length(o.packages), 1);
                assert_string_equal(o.packages[0], "curl");
                origin_done(&o);
        }
        {
                /* apt fails: said so, the record unchanged so that the next start tries again */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                before = tests_read(e.state, "m.origin");
                setenv("FAKE_APT_FAIL", "100", 1);
                assert_int_equal(converge(&e, BOOKWORM "Packages=curl htop\n", false, &d), -EIO);
                unsetenv("FAKE_APT_FAIL");
                tests_said_only(&d, LOG_ERR,
                          "Installing htop (added to Packages=) in m failed with exit status 100 (apt's output is "
                          "above); the machine is left as it was.");
                text = tests_read(e.state, "m.origin");
                assert_string_equal(text, before);
                text = mfree(text);
                assert_true(tests_exists(e.tree, "marker"));
        }
        {
                /* through the configured proxy */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                global_config_free(e.g);
                e.g = global(e.root, "http://127.0.0.1:9");
                assert_true(unlink(strjoin_a(e.tree, "/apt.log")) >= 0);
                assert_int_equal(converge(&e, BOOKWORM "Packages=curl htop\n", false, &d), 0);
                text = tests_read(e.tree, "apt.log");
                assert_string_equal(text,
                                    "apt-get update -q http_proxy=http://127.0.0.1:9\n"
                                    "apt-get install -q -y --no-install-recommends htop http_proxy=http://127.0.0.1:9\n");
        }
        env_done(&e);
}

/* What needs a new tree stops the start with the change and the command that applies it; nothing moves. */
static void test_converge_blocking(void **state) {
        static const struct {
                const char *mspawn, *message;
        } cases[] = {
                { "[Machine]\nDistribution=debian\nRelease=13\n",
                  "Release= changed from bookworm to trixie: machine m cannot follow it in place; apply it with "
                  "\"machinespawn rebuild m\" (Keep= lists what it carries over) or set RebuildOnChange=yes." },
                { BOOKWORM "Variant=buildd\n",
                  "Variant= changed from minbase to buildd: machine m cannot follow it in place; apply it with "
                  "\"machinespawn rebuild m\" (Keep= lists what it carries over) or set RebuildOnChange=yes." },
                { BOOKWORM "Architecture=arm64\n",
                  "Architecture= changed from amd64 to arm64: machine m cannot follow it in place; apply it with "
                  "\"machinespawn rebuild m\" (Keep= lists what it carries over) or set RebuildOnChange=yes." },
                { "[Machine]\nDistribution=ubuntu\nRelease=noble\n",
                  "Distribution= changed from debian to ubuntu: machine m cannot follow it in place; apply it with "
                  "\"machinespawn rebuild m\" (Keep= lists what it carries over) or set RebuildOnChange=yes." },
                { "[Machine]\nImage=https://example.org/rootfs.tar.xz\n",
                  "Distribution= changed from debian to (none): machine m cannot follow it in place; apply it with "
                  "\"machinespawn rebuild m\" (Keep= lists what it carries over) or set RebuildOnChange=yes." },
        };
        Env e;

        env_init(&e);
        build_machine(&e, BOOKWORM);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *before = tests_read(e.state, "m.origin"), *after = NULL, *marker = NULL,
                                    *suite = NULL;

                print_message("%s", cases[i].mspawn);
                assert_int_equal(converge(&e, cases[i].mspawn, false, &d), -EBUSY);
                assert_true(d.n >= 1);
                assert_int_equal(d.items[0].level, LOG_ERR);
                assert_string_equal(d.items[0].message, cases[i].message);
                assert_string_equal(d.items[0].file, "m.mspawn");
                after = tests_read(e.state, "m.origin");
                assert_string_equal(before, after);
                marker = tests_read(e.tree, "marker");
                assert_string_equal(marker, "first\n");
                suite = tests_read(e.tree, "etc/suite");
                assert_string_equal(suite, "bookworm\n");
                assert_false(tests_exists(e.root, "nspawn.log"));
                assert_false(tests_exists(e.machines, ".m.new"));
        }
        env_done(&e);
}

static void progress_record(void *userdata, const char *status, int percent) {
        char ***lines = userdata;
        assert_int_equal(strv_extend(lines, status), 0);
}

/* RebuildOnChange=yes: the change is applied by a rebuild, Keep= carried over, the hooks run in the new
 * tree, the old one kept for rollback. */
static void test_converge_rebuild_on_change(void **state) {
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *text = NULL, *id = NULL;
        _cleanup_(origin_done) Origin o = {};
        Env e;

        env_init(&e);
        build_machine(&e, BOOKWORM "Keep=/home\n");
        tests_write(e.tree, "home/alice/notes", "kept\n");
        e.o.progress = progress_record;
        e.o.userdata = &lines;
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, "[Machine]\nDistribution=debian\nRelease=13\nKeep=/home\n"
                                              "RebuildOnChange=yes\nRun=echo hook >>hooks.log\n",
                                          false, &d),
                                 0);
                assert_int_equal(d.n, 0);
        }
        assert_true(strv_contains(lines, "Rebuilding m: Release= changed from bookworm to trixie"));
        text = tests_read(e.tree, "etc/suite");
        assert_string_equal(text, "trixie\n");
        text = mfree(text);
        text = tests_read(e.tree, "home/alice/notes");
        assert_string_equal(text, "kept\n");
        text = mfree(text);
        /* replaced by the old tree's /home, not merged with the new one's */
        text = tests_read(e.tree, "home/skel");
        assert_string_equal(text, "bookworm\n");
        text = mfree(text);
        assert_false(tests_exists(e.tree, "marker"));
        /* the hook ran once, in the new tree */
        text = tests_read(e.tree, "hooks.log");
        assert_string_equal(text, "hook\n");
        text = mfree(text);
        text = tests_read(e.machines, ".m.previous/marker");
        assert_string_equal(text, "first\n");
        text = mfree(text);
        assert_int_equal(origin_read(strjoin_a(e.state, "/m.origin"), &o), 0);
        assert_string_equal(o.release, "trixie");
        assert_int_equal(origin_tree_id(e.tree, &id), 0);
        assert_string_equal(o.tree, id);
        assert_false(tests_exists(e.machines, ".m.new"));
        assert_false(tests_exists(e.state, "m.origin.new"));
        assert_true(tests_exists(e.state, "m.origin.previous"));
        env_done(&e);
}

/* A machine without a record (built before records) is adopted: the .mspawn as it is now is the truth,
 * its hooks count as done; an old-style record keeps its creation time. */
static void test_converge_adopt(void **state) {
        _cleanup_free_ char *text = NULL, *run_id = hook_id("run", "echo hook >>hooks.log");
        _cleanup_(origin_done) Origin o = {};
        Env e;

        env_init(&e);
        build_machine(&e, BOOKWORM);
        assert_int_equal(unlink(strjoin_a(e.state, "/m.origin")), 0);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "Packages=vim\nRun=echo hook >>hooks.log\n", false, &d), 0);
                assert_int_equal(d.n, 0);
        }
        assert_false(tests_exists(e.tree, "hooks.log"));
        assert_false(tests_exists(e.tree, "apt.log"));
        assert_int_equal(origin_read(strjoin_a(e.state, "/m.origin"), &o), 0);
        assert_false(o.legacy);
        assert_string_equal(o.release, "bookworm");
        assert_string_equal(o.packages[0], "vim");
        assert_true(strv_contains(o.hooks, run_id));
        assert_non_null(o.tree);
        assert_true(isempty(o.created));
        origin_done(&o);

        tests_write(e.state, "m.origin", "base=debian-bookworm\ncreated=12345\n");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM, false, &d), 0);
        }
        assert_int_equal(origin_read(strjoin_a(e.state, "/m.origin"), &o), 0);
        assert_false(o.legacy);
        assert_string_equal(o.created, "12345");
        assert_null(o.hooks);
        origin_done(&o);

        /* a record that is not one: said, nothing runs */
        tests_write(e.state, "m.origin", "nonsense\n");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *want = NULL;
                assert_int_equal(converge(&e, BOOKWORM "Run=echo hook >>hooks.log\n", false, &d), -EBADMSG);
                assert_true(asprintf(&want, "Cannot read %s/m.origin: Bad message", e.state) > 0);
                tests_said_only(&d, LOG_ERR, want);
                assert_false(tests_exists(e.tree, "hooks.log"));
        }
        env_done(&e);
}

/* The first start's hooks fail: no machine is left that they did not finish. Later, the machine stays. */
static void test_converge_fresh_failure(void **state) {
        Env e;

        env_init(&e);
        build_machine(&e, BOOKWORM);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "Run=exit 3\n", false, &d), -EIO);
                tests_said_only(&d, LOG_ERR,
                                "Run=exit 3 failed in m with exit status 3 (its output is above).");
                assert_true(tests_exists(e.tree, "marker"));
                assert_true(tests_exists(e.state, "m.origin"));
        }
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "Run=exit 3\n", true, &d), -EIO);
                assert_false(tests_exists(e.machines, "m"));
                assert_false(tests_exists(e.machines, ".#m.failed"));
                assert_false(tests_exists(e.state, "m.origin"));
        }
        {
                /* nothing there (or a .raw image): nothing to follow */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(unlink(strjoin_a(e.root, "/nspawn.log")), 0);
                assert_int_equal(converge(&e, BOOKWORM "Run=exit 3\n", false, &d), 0);
                tests_write(e.machines, "m", "not a tree");
                assert_int_equal(converge(&e, BOOKWORM "Run=exit 3\n", false, &d), 0);
                assert_int_equal(d.n, 0);
                assert_false(tests_exists(e.root, "nspawn.log"));
        }
        env_done(&e);
}

static void test_converge_run_on_start(void **state) {
        _cleanup_free_ char *text = NULL;
        Env e;

        env_init(&e);
        build_machine(&e, BOOKWORM);
        for (int i = 0; i < 2; i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "RunOnStart=echo start >>start.log\n", false, &d), 0);
        }
        /* every start, not once */
        text = tests_read(e.tree, "start.log");
        assert_string_equal(text, "start\nstart\n");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, BOOKWORM "RunOnStart=exit 4\nRunOnStart=echo no >>start.log\n", false,
                                          &d),
                                 -EIO);
                tests_said_only(&d, LOG_ERR,
                                "RunOnStart=exit 4 failed in m with exit status 4 (its output is above).");
        }
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                setenv("PATH", "/nonexistent", 1);
                assert_int_equal(converge(&e, BOOKWORM "RunOnStart=true\n", false, &d), -ENOENT);
                tests_said_only(&d, LOG_ERR,
                                "RunOnStart=true: cannot run systemd-nspawn: No such file or directory");
        }
        env_done(&e);
}

/* Release=stable unchanged in the file while stable moved on: a warning, the machine stays where it is. */
static void test_converge_alias_moved(void **state) {
        _cleanup_(origin_done) Origin o = {};
        _cleanup_free_ char *opath = NULL;
        Env e;

        env_init(&e);
        build_machine(&e, "[Machine]\nDistribution=debian\nRelease=stable\n");
        opath = strjoin(e.state, "/m.origin");
        assert_int_equal(origin_read(opath, &o), 0);
        assert_string_equal(o.release_declared, "stable");
        assert_string_equal(o.release, "trixie");
        free(o.release);
        o.release = strdup("bookworm");
        assert_int_equal(origin_write(opath, &o), 0);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(converge(&e, "[Machine]\nDistribution=debian\nRelease=stable\n", false, &d), 0);
                tests_said_only(&d, LOG_WARNING,
                          "Release=stable now means trixie; m stays on bookworm until \"machinespawn rebuild m\".");
                assert_int_equal(d.items[0].line, 3);
        }
        env_done(&e);
}

/* The child's end: killed at the step asked for, or (step NULL) a normal exit. */
static void run_child(void (*f)(Env *e), Env *e, const char *step) {
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                if (step)
                        setenv("MACHINESPAWN_TEST_FAIL_AT", step, 1);
                f(e);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (step) {
                /* the step was reached: a test that never kills proves nothing */
                assert_true(WIFSIGNALED(status));
                assert_int_equal(WTERMSIG(status), SIGKILL);
        } else
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static const char *rebuild_text = BOOKWORM "Keep=/home\nRun=echo hook >>hooks.log\n";

static void do_rebuild(Env *e) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(rebuild_text);
        _cleanup_(diagnostics_done) Diagnostics d = {};
        (void) machine_rebuild(c, e->g, &e->o, &d);
}

/* A record that belongs to the tree beside it. */
static void assert_record_matches(const char *origin, const char *tree) {
        _cleanup_(origin_done) Origin o = {};
        _cleanup_free_ char *id = NULL;

        assert_int_equal(origin_read(origin, &o), 0);
        assert_int_equal(origin_tree_id(tree, &id), 0);
        assert_string_equal(o.tree, id);
}

/* Killed at each step of a rebuild, then recovered: the old machine or the new one, whole, with its own
 * record, never neither; nothing half-built left. */
static void test_rebuild_killed(void **state) {
        static const struct {
                const char *step;
                bool new;
        } steps[] = {
                { "build", false },        { "keep", false },          { "hooks", false },
                { "drop-previous", false }, { "exchange", true },      { "keep-previous", true },
                { "origin-previous", true }, { "done", true },          { NULL, true },
        };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *text = NULL, *notes = NULL, *hooks = NULL;
                Env e;

                print_message("killed at %s\n", steps[i].step ?: "(not killed)");
                env_init(&e);
                build_machine(&e, BOOKWORM);
                tests_write(e.tree, "home/alice/notes", "kept\n");
                run_child(do_rebuild, &e, steps[i].step);
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                assert_int_equal(d.n, 0);

                text = tests_read(e.tree, "marker");
                notes = tests_read(e.tree, "home/alice/notes");
                hooks = tests_read(e.tree, "hooks.log");
                assert_string_equal(notes, "kept\n");
                if (steps[i].new) {
                        assert_null(text);
                        assert_string_equal(hooks, "hook\n");
                        free(text);
                        text = tests_read(e.tree, "home/skel");
                        assert_string_equal(text, "bookworm\n");
                        free(text);
                        text = tests_read(e.machines, ".m.previous/marker");
                        assert_string_equal(text, "first\n");
                        assert_record_matches(strjoin_a(e.state, "/m.origin.previous"),
                                              strjoin_a(e.machines, "/.m.previous"));
                } else {
                        assert_string_equal(text, "first\n");
                        assert_null(hooks);
                        assert_false(tests_exists(e.machines, ".m.previous"));
                }
                assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
                assert_false(tests_exists(e.machines, ".m.new"));
                assert_false(tests_exists(e.state, "m.origin.new"));
                env_done(&e);
        }
}

/* A rebuild that cannot finish leaves the machine as it was and nothing beside it. */
static void test_rebuild_failures(void **state) {
        static const struct {
                const char *mspawn, *fail, *message;
        } cases[] = {
                /* the new base cannot be made */
                { "[Machine]\nDistribution=debian\nRelease=13\n", "5", NULL },
                /* a Keep= path whose parent the new tree has as a file */
                { BOOKWORM "Keep=/etc/suite/x\n", NULL,
                  "Keep=/etc/suite/x: cannot make its parent in the new tree: " },
                { BOOKWORM "Run=exit 9\n", NULL, "Run=exit 9 failed in m with exit status 9 (its output is above)." },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(machine_config_freep) MachineConfig *c = config(cases[i].mspawn);
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *before = NULL, *after = NULL, *text = NULL;
                Env e;

                env_init(&e);
                build_machine(&e, BOOKWORM);
                /* the old tree has a directory where the new one has a file */
                assert_int_equal(unlink(strjoin_a(e.tree, "/etc/suite")), 0);
                tests_write(e.tree, "etc/suite/x", "old\n");
                before = tests_read(e.state, "m.origin");
                if (cases[i].fail)
                        setenv("FAKE_FAIL", cases[i].fail, 1);
                assert_true(machine_rebuild(c, e.g, &e.o, &d) < 0);
                unsetenv("FAKE_FAIL");
                assert_true(d.n >= 1);
                if (cases[i].message)
                        assert_true(startswith(d.items[d.n - 1].message, cases[i].message));
                after = tests_read(e.state, "m.origin");
                assert_string_equal(before, after);
                text = tests_read(e.tree, "marker");
                assert_string_equal(text, "first\n");
                assert_false(tests_exists(e.machines, ".m.new"));
                assert_false(tests_exists(e.state, "m.origin.new"));
                assert_false(tests_exists(e.machines, ".m.previous"));
                env_done(&e);
        }
}

static void hold_running(Env *e, int *fd) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        _cleanup_free_ char *lck = strjoin(e->machines, "/.#m.lck");

        *fd = open(lck, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(*fd >= 0);
        assert_int_equal(fcntl(*fd, F_OFD_SETLK, &fl), 0);
}

static void test_rebuild_refused(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(BOOKWORM);
        _cleanup_free_ char *want = NULL;
        Env e;
        int fd;

        env_init(&e);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_rebuild(c, e.g, &e.o, &d), -ENOENT);
                assert_true(asprintf(&want, "Machine m has no tree in %s to rebuild (its first start builds it).",
                                     e.machines) > 0);
                tests_said_only(&d, LOG_ERR, want);
        }
        build_machine(&e, BOOKWORM);
        hold_running(&e, &fd);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_rebuild(c, e.g, &e.o, &d), -EBUSY);
                tests_said_only(&d, LOG_ERR, "Machine m is running; stop it first (machinectl stop m).");
                assert_false(tests_exists(e.machines, ".m.new"));
        }
        close(fd);
        env_done(&e);
}

static void do_rollback(Env *e) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        assert_int_equal(machine_rollback(&e->o, "m", &d), 0);
}

static void test_rollback(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(rebuild_text);
        _cleanup_free_ char *text = NULL;
        Env e;
        int fd;

        env_init(&e);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_rollback(&e.o, "m", &d), -ENOENT);
                tests_said_only(&d, LOG_ERR, "Machine m does not exist.");
        }
        build_machine(&e, BOOKWORM);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_rollback(&e.o, "m", &d), -ENOENT);
                tests_said_only(&d, LOG_ERR,
                          "Machine m has no previous tree to return to: the tree a rebuild or rollback replaced "
                          "is kept only until the machine has started once.");
        }
        run_child(do_rebuild, &e, NULL);
        hold_running(&e, &fd);
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_rollback(&e.o, "m", &d), -EBUSY);
                tests_said_only(&d, LOG_ERR, "Machine m is running; stop it first (machinectl stop m).");
        }
        close(fd);
        text = tests_read(e.tree, "hooks.log");
        assert_string_equal(text, "hook\n");
        text = mfree(text);

        /* back, killed between the trees and their records, recovered: the old machine with its record */
        run_child(do_rollback, &e, "rollback-exchange");
        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
        }
        text = tests_read(e.tree, "marker");
        assert_string_equal(text, "first\n");
        text = mfree(text);
        assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
        assert_record_matches(strjoin_a(e.state, "/m.origin.previous"), strjoin_a(e.machines, "/.m.previous"));
        /* and forth */
        run_child(do_rollback, &e, NULL);
        assert_false(tests_exists(e.tree, "marker"));
        assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
        env_done(&e);
}

/* Left behind by a killed rebuild or rollback, each state recovered to one whole machine. */
static void test_state_recover(void **state) {
        Env e;

        env_init(&e);
        {
                /* nothing at all */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                assert_int_equal(d.n, 0);
        }
        build_machine(&e, BOOKWORM);
        {
                /* an abandoned half-built tree and a record that is not the machine's: both go */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *text = NULL;
                tests_write(e.machines, ".m.new/etc/suite", "trixie\n");
                tests_write(e.state, "m.origin.new", "base=x\nformat=2\ntree=1:1\n");
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                assert_false(tests_exists(e.machines, ".m.new"));
                assert_false(tests_exists(e.state, "m.origin.new"));
                text = tests_read(e.tree, "marker");
                assert_string_equal(text, "first\n");
        }
        {
                /* exchanged, the old tree still named .m.new: it becomes the previous one */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_(origin_done) Origin o = {};
                _cleanup_free_ char *text = NULL, *newt = strjoin(e.machines, "/.m.new"), *oldorigin = NULL;
                tests_write(newt, "marker", "second\n");
                assert_int_equal(origin_read(strjoin_a(e.state, "/m.origin"), &o), 0);
                oldorigin = tests_read(e.state, "m.origin");
                free(o.tree);
                assert_int_equal(origin_tree_id(newt, &o.tree), 0);
                assert_int_equal(origin_write(strjoin_a(e.state, "/m.origin.new"), &o), 0);
                assert_int_equal(renameat2(AT_FDCWD, e.tree, AT_FDCWD, newt, RENAME_EXCHANGE), 0);
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                text = tests_read(e.tree, "marker");
                assert_string_equal(text, "second\n");
                text = mfree(text);
                text = tests_read(e.machines, ".m.previous/marker");
                assert_string_equal(text, "first\n");
                text = mfree(text);
                text = tests_read(e.state, "m.origin.previous");
                assert_string_equal(text, oldorigin);
                assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
                assert_false(tests_exists(e.state, "m.origin.new"));
                assert_false(tests_exists(e.machines, ".m.new"));
                /* done: a second recovery changes nothing */
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
                assert_record_matches(strjoin_a(e.state, "/m.origin.previous"),
                                      strjoin_a(e.machines, "/.m.previous"));
        }
        {
                /* trees exchanged by a rollback, records not yet */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *text = NULL;
                assert_int_equal(renameat2(AT_FDCWD, e.tree, AT_FDCWD, strjoin_a(e.machines, "/.m.previous"),
                                           RENAME_EXCHANGE),
                                 0);
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                text = tests_read(e.tree, "marker");
                assert_string_equal(text, "first\n");
                assert_record_matches(strjoin_a(e.state, "/m.origin"), e.tree);
                assert_record_matches(strjoin_a(e.state, "/m.origin.previous"),
                                      strjoin_a(e.machines, "/.m.previous"));
        }
        env_done(&e);
}

/* Keep= against hostile trees: links in the old tree are copied as links, never followed; links in the
 * new tree are replaced, never written through. */
static void test_keep_hostile(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *old = strjoin(root, "/old"), *new = strjoin(root, "/new"),
                            *victim = strjoin(root, "/victim"), *text = NULL;
        char buf[PATH_MAX];
        struct stat st;
        ssize_t n;

        tests_write(root, "victim/secret", "host secret\n");
        tests_write(root, "victim/file", "host file\n");
        tests_write(old, "var/lib/db/rows", "rows\n");
        tests_write(old, "etc/app.conf", "old conf\n");
        tests_write(old, "srv/www/index", "old index\n");
        tests_write(new, "etc/hostname", "m\n");
        tests_write(new, "srv/www/stale", "new\n");
        /* the old tree: /data a link to a host directory, /opt a link to one by its absolute name */
        assert_int_equal(symlink(victim, strjoin_a(old, "/data")), 0);
        assert_int_equal(symlink(victim, strjoin_a(old, "/opt")), 0);
        /* the new tree: /var a link out of it, /etc/app.conf a link to a host file */
        assert_int_equal(symlink(victim, strjoin_a(new, "/var")), 0);
        assert_int_equal(symlink(strjoin_a(victim, "/file"), strjoin_a(new, "/etc/app.conf")), 0);

        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_keep_copy(old, new,
                                                   STRV_MAKE("/data", "/opt/secret", "/etc/app.conf", "/srv/www"),
                                                   &d),
                                 0);
                /* /opt/secret resolves inside the old tree, where there is nothing */
                tests_said_only(&d, LOG_WARNING,
                                "Keep=/opt/secret: the machine has nothing there, ignoring.");
        }
        /* the link itself, its target never read */
        assert_int_equal(lstat(strjoin_a(new, "/data"), &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        n = readlink(strjoin_a(new, "/data"), buf, sizeof buf - 1);
        assert_true(n > 0);
        buf[n] = 0;
        assert_string_equal(buf, victim);
        assert_false(tests_exists(new, "opt"));
        {
                /* the new tree's /var leads out of it: inside, where it points there is nothing to make
                 * a parent in, so the copy is refused; the host directory stays untouched */
                _cleanup_(diagnostics_done) Diagnostics d = {};
                assert_int_equal(machine_keep_copy(old, new, STRV_MAKE("/var/lib/db"), &d), -ENOENT);
                tests_said_only(&d, LOG_ERR,
                          "Keep=/var/lib/db: cannot make its parent in the new tree: No such file or directory");
                assert_false(tests_exists(victim, "lib"));
                assert_false(tests_exists(victim, "db"));
                assert_false(tests_exists(victim, "rows"));
                assert_int_equal(lstat(strjoin_a(new, "/var"), &st), 0);
                assert_true(S_ISLNK(st.st_mode));
        }
        /* the host file behind the new tree's link is untouched; the link replaced by the old file */
        text = tests_read(victim, "file");
        assert_string_equal(text, "host file\n");
        text = mfree(text);
        assert_int_equal(lstat(strjoin_a(new, "/etc/app.conf"), &st), 0);
        assert_true(S_ISREG(st.st_mode));
        text = tests_read(new, "etc/app.conf");
        assert_string_equal(text, "old conf\n");
        text = mfree(text);
        /* a directory replaced, not merged */
        assert_false(tests_exists(new, "srv/www/stale"));
        assert_true(tests_exists(new, "srv/www/index"));

        {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *want = NULL, *none = strjoin(root, "/none");
                assert_int_equal(machine_keep_copy(old, new, NULL, &d), 0);
                assert_true(machine_keep_copy(none, new, STRV_MAKE("/home"), &d) < 0);
                assert_true(asprintf(&want, "Cannot open %s: ", none) > 0);
                assert_int_equal(d.n, 1);
                assert_true(startswith(d.items[0].message, want));
                diagnostics_done(&d);
                assert_true(machine_keep_copy(old, none, STRV_MAKE("/home"), &d) < 0);
                assert_int_equal(d.n, 1);
                assert_true(startswith(d.items[0].message, want));
        }
        tests_rm_rf(root);
}

/* A machine whose record cannot be written is not left in place: its first start would take its hooks for
 * done. */
static void test_build_without_record(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(BOOKWORM "Run=echo hook >>hooks.log\n");
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *want = NULL;
        Env e;

        env_init(&e);
        tests_write(e.root, "state", "a file where the state directory should be");
        assert_int_equal(machine_build(c, e.g, &e.o, &res, &d), -ENOTDIR);
        assert_true(asprintf(&want, "Cannot write the record of m in %s: Not a directory", e.state) > 0);
        assert_true(d.n >= 1);
        assert_string_equal(d.items[d.n - 1].message, want);
        assert_false(tests_exists(e.machines, "m"));
        assert_false(tests_exists(e.machines, ".#m.record"));
        env_done(&e);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_origin_wanted),
                cmocka_unit_test(test_run_command),
                cmocka_unit_test(test_copy_in_refusals),
                cmocka_unit_test(test_run_hooks),
                cmocka_unit_test(test_converge_packages),
                cmocka_unit_test(test_converge_blocking),
                cmocka_unit_test(test_converge_rebuild_on_change),
                cmocka_unit_test(test_converge_adopt),
                cmocka_unit_test(test_converge_fresh_failure),
                cmocka_unit_test(test_converge_run_on_start),
                cmocka_unit_test(test_converge_alias_moved),
                cmocka_unit_test(test_rebuild_killed),
                cmocka_unit_test(test_rebuild_failures),
                cmocka_unit_test(test_rebuild_refused),
                cmocka_unit_test(test_rollback),
                cmocka_unit_test(test_state_recover),
                cmocka_unit_test(test_keep_hostile),
                cmocka_unit_test(test_build_without_record),
        };
        char *top;
        int r;

        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        unsetenv("MACHINESPAWN_TEST_FAIL_AT");
        r = tests_btrfs_from_args(argc, argv, &top);
        if (r < 0)
                return 77;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        tests_btrfs_done(top);
        return r;
}
