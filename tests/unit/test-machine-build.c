/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "tests.h"

#include "fileio.h"
#include "bootstrap.h"
#include "cache-maintain.h"
#include "cache.h"
#include "finish.h"
#include "machine-build.h"
#include "machine-manage.h"
#include "machine-remove.h"
#include "strv.h"
#include "tree.h"

static const time_t NOW = 1795910400;
static bool on_btrfs; /* --btrfs: everything below a btrfs of the test's own */
static char data_dir[4096], vendor[4096];

static MachineConfig *config(const char *name, const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit(name, "m.mspawn", &u, NOW, tests_paths()->distro_info_dir, &c, &d), 0);
        c->source_path = strdup("m.mspawn");
        return c;
}

static GlobalConfig *global(const char *root, const char *extra) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *cache = NULL, *text = NULL, *p = NULL;
        GlobalConfig *g = NULL;

        assert_true(asprintf(&text, "[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n%s", root, extra) > 0);
        tests_write(root, "etc.conf", text);
        p = strjoin(root, "/etc.conf");
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(strv_extend(&files, p), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        return g;
}

static int build_full(const char *root, const char *name, const char *mspawn, const char *extra,
                      BuildProgress progress, void *userdata, BuildResult *res, Diagnostics *d) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(name, mspawn);
        _cleanup_(global_config_freep) GlobalConfig *g = global(root, extra);
        _cleanup_free_ char *machines = strjoin(root, "/machines"), *run = strjoin(root, "/run");
        _cleanup_free_ char *state = strjoin(root, "/state");
        BuildOptions o = { .paths = *tests_paths(), .progress = progress, .userdata = userdata };

        o.paths.machines_dir = machines;
        o.paths.run_dir = run;
        o.paths.state_dir = state;
        o.paths.distro_info_dir = data_dir;

        return machine_build(c, g, &o, res, d);
}

static int build(const char *root, const char *mspawn, const char *extra, BuildResult *res, Diagnostics *d) {
        return build_full(root, "m", mspawn, extra, NULL, NULL, res, d);
}

static bool said(const Diagnostics *d, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, needle))
                        return true;
        return false;
}

static void test_existing_machine_is_left_alone(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp();
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_free_ char *text = NULL, *p = NULL;

        tests_write(root, "machines/m/etc/hostname", "mine\n");
        assert_int_equal(build(root, "[Machine]\nDistribution=debian\nRelease=12\n", "", &res, &d), 0);
        assert_true(res.existed);
        p = strjoin(root, "/machines/m/etc/hostname");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "mine\n");
        tests_rm_rf(root);
}

static void test_missing_tool_names_package(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *old_path = strdup(getenv("PATH"));
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_free_ char *stale = NULL, *bin = NULL;

        /* a build killed earlier left a temporary: cleaned before anything else */
        tests_write(root, "machines/.#m.abc123/etc/partial", "x");
        bin = strjoin(root, "/bin");
        tests_write(root, "bin/.keep", "");
        setenv("PATH", bin, 1);
        assert_int_equal(build(root, "[Machine]\nDistribution=debian\nRelease=12\n", "Bootstrapper=mmdebstrap\n",
                               &res, &d),
                         -ENOENT);
        setenv("PATH", old_path, 1);
        assert_true(said(&d, "mmdebstrap is not installed (apt-get install mmdebstrap)."));
        assert_int_equal(d.n, 1);
        stale = strjoin(root, "/machines/.#m.abc123");
        assert_int_equal(access(stale, F_OK), -1);
        _cleanup_free_ char *m = strjoin(root, "/machines/m");
        assert_int_equal(access(m, F_OK), -1);
        tests_rm_rf(root);
}

/* Whether this process sees no qemu-s390x binfmt_misc entry. As root, in a mount namespace of its own, an
 * empty binfmt_misc hides the host's entries, so the refusal is checked on hosts with qemu-user-static too;
 * otherwise such a host cannot check it and says so. */
static bool hide_binfmt(void) {
        const char *qemu = "/proc/sys/fs/binfmt_misc/qemu-s390x";

        if (geteuid() == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/proc/sys/fs/binfmt_misc", "tmpfs", 0, "mode=0755,size=64k") < 0)
                        printf("Cannot hide binfmt_misc in a mount namespace: %m\n");
        }
        if (access(qemu, F_OK) >= 0) {
                printf("SKIP: %s exists and cannot be hidden (needs root): the refusal of a foreign architecture "
                       "without qemu is not checked\n", qemu);
                return false;
        }
        return true;
}

static void test_foreign_architecture_needs_binfmt(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp();
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        if (!hide_binfmt()) {
                tests_rm_rf(root);
                skip();
        }
        /* the tool check comes first: a debootstrap that must never run, and cp */
        _cleanup_free_ char *bin = strjoin(root, "/bin"), *tool = strjoin(root, "/bin/debootstrap"),
                            *old_path = strdup(getenv("PATH")), *path = NULL;
        tests_write(root, "bin/debootstrap", "#!/bin/sh\nexit 99\n");
        assert_int_equal(chmod(tool, 0755), 0);
        path = strjoin(bin, ":/usr/bin:/bin");
        setenv("PATH", path, 1);
        int r = build(root, "[Machine]\nDistribution=debian\nRelease=12\nArchitecture=s390x\n",
                      "Bootstrapper=debootstrap\n", &res, &d);
        setenv("PATH", old_path, 1);
        assert_int_equal(r, -ENOEXEC);
        assert_true(said(&d, "Architecture=s390x needs qemu-user-static with binfmt support"));
        tests_rm_rf(root);
}

static void test_image_missing_leaves_nothing(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *text = NULL, *m = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        /* a file:// image that is not there, with a checksum given inline */
        assert_true(asprintf(&text, "[Machine]\nImage=file://%s/none.tar\nVerify=sha256:%064d\n", root, 0) > 0);
        assert_true(build(root, text, "", &res, &d) < 0);
        assert_true(said(&d, "Cannot download"));
        m = strjoin(root, "/machines");
        /* no machine, no temporary */
        assert_int_equal(rmdir(m), 0);
        tests_rm_rf(root);
}

/* systemd-nspawn holds an OFD lock on machines_dir/.#NAME.lck while the machine runs */
static void test_running_is_seen_through_nspawns_lock(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *lck = NULL;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int fd;

        assert_int_equal(machine_is_running(root, "m"), 0); /* no lock file */
        lck = strjoin(root, "/.#m.lck");
        fd = open(lck, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(machine_is_running(root, "m"), 0); /* a file, nobody holding it */
        assert_int_equal(fcntl(fd, F_OFD_SETLK, &fl), 0);
        assert_int_equal(machine_is_running(root, "m"), 1);
        close(fd);
        assert_int_equal(machine_is_running(root, "m"), 0);
        tests_rm_rf(root);
}

/* A base keeps nothing of the host that built it: no machine-id, no downloaded packages or lists, no
 * build-time apt configuration (mmdebstrap's, with the build host's proxy). */
static void test_base_tidy(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *p = NULL, *text = NULL;

        tests_write(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        tests_write(root, "etc/apt/apt.conf.d/99mmdebstrap", "Acquire::http::Proxy \"http://127.0.0.1:3142\";\n");
        tests_write(root, "etc/apt/apt.conf.d/70debconf", "kept\n");
        tests_write(root, "var/cache/apt/archives/less_590-2_amd64.deb", "deb");
        tests_write(root, "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "list");
        tests_write(root, "var/lib/apt/lists/lock", "");
        tests_write(root, "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n");
        assert_int_equal(base_tidy(root, NULL), 0);

        assert_true(asprintf(&p, "%s/etc/machine-id", root) > 0);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "");
        const char *gone[] = { "etc/apt/apt.conf.d/99mmdebstrap", "var/cache/apt/archives/less_590-2_amd64.deb",
                               "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                               "var/lib/dbus/machine-id" };
        for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
                free(p);
                assert_true(asprintf(&p, "%s/%s", root, gone[i]) > 0);
                if (access(p, F_OK) >= 0)
                        fail_msg("%s is still there", gone[i]);
        }
        const char *kept[] = { "etc/apt/apt.conf.d/70debconf", "var/lib/apt/lists/lock" };
        for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
                free(p);
                assert_true(asprintf(&p, "%s/%s", root, kept[i]) > 0);
                assert_int_equal(access(p, F_OK), 0);
        }
        tests_rm_rf(root);
}

/* ---- machine_build end to end, with a stand-in for the bootstrap tool ---- */

/* debootstrap and mmdebstrap as the build runs them: SUITE TARGET MIRROR after the options. The stand-in
 * records every run and its arguments, makes a small tree with what a real bootstrap leaves behind (a
 * machine-id, downloaded packages and lists, mmdebstrap's --aptopt file), and obeys FAKE_FAIL (exit
 * status), FAKE_SLEEP and FAKE_HOSTILE (etc a file, etc/default a file). */
static const char fake_tool[] =
        "#!/bin/sh\n"
        "echo \"$(basename \"$0\") $*\" >>\"$FAKE_STATE/runs\"\n"
        "[ -n \"$FAKE_FAIL\" ] && exit \"$FAKE_FAIL\"\n"
        "n=0\n"
        "for a; do case \"$a\" in --*) ;; *) n=$((n + 1)); eval \"pos$n=\\$a\" ;; esac; done\n"
        "[ \"$n\" = 3 ] || { echo \"fake: want SUITE TARGET MIRROR\" >&2; exit 2; }\n"
        "t=$pos2\n"
        "[ -d \"$t\" ] || exit 4\n"
        "mkdir -p \"$t/etc/apt/apt.conf.d\" \"$t/etc/default\" \"$t/var/cache/apt/archives\" \"$t/var/lib/apt/lists\" \"$t/var/lib/dbus\"\n"
        "printf '%s\\n' \"$@\" >\"$t/etc/bootstrap-args\"\n"
        "echo \"$pos1 $pos3\" >\"$t/etc/suite-mirror\"\n"
        "echo \"http_proxy=$http_proxy DEBIAN_FRONTEND=$DEBIAN_FRONTEND\" >\"$t/etc/bootstrap-env\"\n"
        "echo 0123456789abcdef0123456789abcdef >\"$t/etc/machine-id\"\n"
        "cp \"$t/etc/machine-id\" \"$t/var/lib/dbus/machine-id\"\n"
        "echo deb >\"$t/var/cache/apt/archives/dbus_1.14_amd64.deb\"\n"
        "echo list >\"$t/var/lib/apt/lists/deb.debian.org_InRelease\"\n"
        "for a; do case \"$a\" in --aptopt=*) echo \"${a#--aptopt=};\" >>\"$t/etc/apt/apt.conf.d/99mmdebstrap\" ;; esac; done\n"
        "case \"$FAKE_HOSTILE\" in\n"
        "etc-file) rm -rf \"$t/etc\"; echo x >\"$t/etc\" ;;\n"
        "default-file) rm -rf \"$t/etc/default\"; echo x >\"$t/etc/default\" ;;\n"
        "esac\n"
        "sleep \"${FAKE_SLEEP:-0}\"\n";

static char saved_path[8192];

/* The stand-ins first on PATH (cp, tar and zstd from the system), a keyring file of our own. */
static char *fake_tools(const char *root) {
        _cleanup_free_ char *p = NULL;
        char *extra = NULL;

        tests_write(root, "bin/debootstrap", fake_tool);
        tests_write(root, "bin/mmdebstrap", fake_tool);
        tests_write(root, "keyring.gpg", "keys");
        for (const char *t = "debootstrap"; t; t = streq(t, "debootstrap") ? "mmdebstrap" : NULL) {
                free(p);
                p = strjoin(root, "/bin/", t);
                assert_int_equal(chmod(p, 0755), 0);
        }
        snprintf(saved_path, sizeof saved_path, "%s", getenv("PATH"));
        free(p);
        p = strjoin(root, "/bin:/usr/bin:/bin");
        setenv("PATH", p, 1);
        setenv("FAKE_STATE", root, 1);
        unsetenv("FAKE_FAIL");
        unsetenv("FAKE_SLEEP");
        unsetenv("FAKE_HOSTILE");
        unsetenv("MACHINESPAWN_CACHE_FORMAT");
        assert_true(asprintf(&extra, "Bootstrapper=debootstrap\n[debian]\nKeyring=%s/keyring.gpg\n", root) > 0);
        return extra;
}

static void fake_tools_done(const char *root) {
        setenv("PATH", saved_path, 1);
        unsetenv("FAKE_FAIL");
        unsetenv("FAKE_SLEEP");
        unsetenv("FAKE_HOSTILE");
        unsetenv("MACHINESPAWN_CACHE_FORMAT");
        tests_rm_rf(root);
}

static unsigned runs(const char *root) {
        _cleanup_free_ char *text = tests_read(root, "runs");
        unsigned n = 0;

        for (const char *s = text; s && *s; s++)
                n += *s == '\n';
        return n;
}

/* The names in dir, sorted, space-separated, "" if empty or missing. */
static char *listing(const char *root, const char *rel) {
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        _cleanup_strv_free_ char **names = NULL;
        struct dirent **de = NULL;
        int n = scandir(p, &de, NULL, alphasort);

        for (int i = 0; i < n; i++) {
                if (!streq(de[i]->d_name, ".") && !streq(de[i]->d_name, ".."))
                        assert_int_equal(strv_extend(&names, de[i]->d_name), 0);
                free(de[i]);
        }
        free(de);
        return strv_join(names, " ") ?: strdup("");
}

typedef struct Phases {
        char text[2048];
} Phases;

static void record_phase(void *userdata, const char *status, int percent) {
        Phases *ph = userdata;
        size_t n = strlen(ph->text);

        snprintf(ph->text + n, sizeof ph->text - n, "%s|", status);
}

static const char bookworm[] = "[Machine]\nDistribution=debian\nRelease=12\nPackages=less\n";

static void test_build_through_fake_debootstrap(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL, *key = NULL, *p = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {}, res2 = {};
        Phases ph = {};
        struct stat st;

        assert_int_equal(build_full(root, "m", bookworm, extra, record_phase, &ph, &res, &d), 0);
        assert_int_equal(d.n, 0);
        assert_true(res.base_built);
        assert_false(res.existed);
        assert_null(res.proxy);
        assert_non_null(res.cache_key);
        assert_non_null(startswith(res.cache_key, "debian-bookworm-"));
        key = strdup(res.cache_key);
        assert_int_equal(runs(root), 1);
        assert_non_null(strstr(ph.text, "Resolving debian 12|Bootstrapping debian bookworm"));
        assert_non_null(strstr(ph.text, "|Caching base "));
        assert_non_null(strstr(ph.text, "|Copying base "));
        assert_non_null(strstr(ph.text, "|Finishing m|"));

        /* what the tool was given: the suite, a temporary of the cache as target, the mirror, options */
        text = tests_read(root, "machines/m/etc/suite-mirror");
        assert_string_equal(text, "bookworm http://deb.debian.org/debian\n");
        free(text);
        text = tests_read(root, "machines/m/etc/bootstrap-args");
        assert_non_null(text);
        assert_non_null(strstr(text, "--components=main,contrib,non-free,non-free-firmware\n"));
        assert_non_null(strstr(text, "dbus"));
        assert_non_null(strstr(text, "less"));
        free(p);
        p = strjoin("--keyring=", root, "/keyring.gpg\n");
        assert_non_null(strstr(text, p));
        free(p);
        p = strjoin("\n", root, "/cache/.tmp-", key, "-");
        assert_non_null(strstr(text, p));
        free(text);
        text = tests_read(root, "machines/m/etc/bootstrap-env");
        assert_string_equal(text, "http_proxy= DEBIAN_FRONTEND=noninteractive\n");

        /* finished for this machine */
        free(text);
        text = tests_read(root, "machines/m/etc/hostname");
        assert_string_equal(text, "m\n");
        free(text);
        text = tests_read(root, "machines/m/etc/machine-id");
        assert_string_equal(text, "");
        free(text);
        text = tests_read(root, "machines/m/etc/apt/sources.list");
        assert_non_null(text);
        assert_non_null(strstr(text, "bookworm-security"));
        assert_false(tests_exists(root, "machines/m/etc/apt/apt.conf.d/01machinespawn-proxy"));
        assert_false(tests_exists(root, "machines/m/etc/apt/apt.conf.d/" BOOTSTRAP_APT_CONF_ARCHIVE));
        free(p);
        p = strjoin(root, "/machines/m");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        /* tidied as a base: nothing the build host downloaded */
        assert_false(tests_exists(root, "machines/m/var/cache/apt/archives/dbus_1.14_amd64.deb"));
        assert_false(tests_exists(root, "machines/m/var/lib/apt/lists/deb.debian.org_InRelease"));
        assert_false(tests_exists(root, "machines/m/var/lib/dbus/machine-id"));

        /* where it came from */
        free(text);
        text = tests_read(root, "state/m.origin");
        free(p);
        p = strjoin("base=", key, "\ncreated=");
        assert_non_null(text);
        assert_non_null(startswith(text, p));

        /* the cache: the base and its record, no temporaries; the machines: only m */
        free(p);
        p = strjoin("cache/", key, ".info");
        free(text);
        text = tests_read(root, p);
        assert_non_null(text);
        assert_non_null(strstr(text, "\ntool=debootstrap\n"));
        assert_non_null(strstr(text, "\nrelease=bookworm\n"));
        free(text);
        text = listing(root, "machines");
        assert_string_equal(text, "m");

        /* a second machine of the same kind is a copy: no second bootstrap */
        assert_int_equal(build_full(root, "two", "[Machine]\nDistribution=debian\nRelease=bookworm\nPackages=less\n",
                                    extra, NULL, NULL, &res2, &d),
                         0);
        assert_false(res2.base_built);
        assert_string_equal(res2.cache_key, key);
        assert_int_equal(runs(root), 1);
        free(text);
        text = tests_read(root, "machines/two/etc/hostname");
        assert_string_equal(text, "two\n");
        free(text);
        text = listing(root, "machines");
        assert_string_equal(text, "m two");

        /* on btrfs the base is a subvolume and each machine a snapshot of it (a subvolume's top is inode 256) */
        if (on_btrfs) {
                free(p);
                p = strjoin(root, "/cache/", key);
                assert_int_equal(stat(p, &st), 0);
                assert_int_equal(st.st_ino, 256);
        }
        free(p);
        p = strjoin(root, "/machines/two");
        assert_int_equal(stat(p, &st), 0);
        assert_true(on_btrfs == (st.st_ino == 256));
        assert_int_equal(st.st_mode & 07777, 0755);
        fake_tools_done(root);
}

/* The tool fails: no machine, no cache entry, no temporary anywhere. */
static void test_tool_failure_leaves_nothing(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        setenv("FAKE_FAIL", "3", 1);
        assert_int_equal(build(root, bookworm, extra, &res, &d), -EIO);
        assert_true(said(&d, "debootstrap failed with exit status 3"));
        assert_int_equal(runs(root), 1);
        text = listing(root, "machines");
        assert_string_equal(text, "");
        free(text);
        /* only the lock file of the key remains */
        text = listing(root, "cache");
        assert_non_null(endswith(text, ".lock"));
        assert_null(strchr(text, ' '));
        assert_false(tests_exists(root, "state/m.origin"));
        fake_tools_done(root);
}

/* A base whose etc is a file cannot be tidied: it is not published. */
static void test_untidy_base_is_not_published(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        setenv("FAKE_HOSTILE", "etc-file", 1);
        assert_true(build(root, bookworm, extra, &res, &d) < 0);
        assert_true(said(&d, "Cannot tidy the new base: etc/machine-id"));
        text = listing(root, "cache");
        assert_non_null(endswith(text, ".lock"));
        assert_null(strchr(text, ' '));
        free(text);
        text = listing(root, "machines");
        assert_string_equal(text, "");
        fake_tools_done(root);
}

/* The base is fine but the machine cannot be finished (etc/default is a file): no machine, no temporary,
 * and the base stays for the next try. */
static void test_unfinishable_machine_leaves_no_machine(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL, *info = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        setenv("FAKE_HOSTILE", "default-file", 1);
        assert_true(build(root, bookworm, extra, &res, &d) < 0);
        assert_true(said(&d, "etc/default/locale"));
        text = listing(root, "machines");
        assert_string_equal(text, "");
        assert_false(tests_exists(root, "state/m.origin"));
        free(text);
        text = listing(root, "cache");
        assert_non_null(strstr(text, ".info"));
        fake_tools_done(root);
}

/* mmdebstrap through a configured proxy that the machine keeps; the base kept as an archive. */
static void test_mmdebstrap_proxy_and_archive(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = NULL, *text = NULL, *p = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {}, res2 = {};
        _cleanup_free_ char *fake = fake_tools(root);

        assert_true(asprintf(&extra, "[Bootstrap]\nBootstrapper=mmdebstrap\nProxy=http://127.0.0.1:9/\nKeepProxy=yes\n"
                                     "[debian]\nKeyring=%s/keyring.gpg\n", root) > 0);
        setenv("MACHINESPAWN_CACHE_FORMAT", "archive", 1);
        assert_int_equal(build(root, bookworm, extra, &res, &d), 0);
        assert_true(res.base_built);
        assert_string_equal(res.proxy, "http://127.0.0.1:9/");
        assert_string_equal(res.proxy_how, "configured");
        text = tests_read(root, "runs");
        assert_non_null(startswith(text, "mmdebstrap --mode=root --variant=minbase "));
        assert_non_null(strstr(text, " --aptopt=Acquire::http::Proxy \"http://127.0.0.1:9/\" "));
        free(text);
        text = tests_read(root, "machines/m/etc/bootstrap-env");
        assert_string_equal(text, "http_proxy=http://127.0.0.1:9/ DEBIAN_FRONTEND=noninteractive\n");
        /* mmdebstrap's own apt settings (the build host's proxy) are not in the base; the configured proxy
         * is in the machine, because KeepProxy=yes */
        assert_false(tests_exists(root, "machines/m/etc/apt/apt.conf.d/99mmdebstrap"));
        free(text);
        text = tests_read(root, "machines/m/etc/apt/apt.conf.d/01machinespawn-proxy");
        assert_non_null(text);
        assert_non_null(strstr(text, "Acquire::http::Proxy \"http://127.0.0.1:9/\";"));
        free(text);
        text = tests_read(root, "machines/m/etc/hostname");
        assert_string_equal(text, "m\n");
        /* the base is an archive, not a tree */
        p = strjoin("cache/", res.cache_key, CACHE_ARCHIVE_SUFFIX);
        assert_true(tests_exists(root, p));
        free(p);
        p = strjoin("cache/", res.cache_key);
        assert_false(tests_exists(root, p));

        /* and a second machine is unpacked from it */
        assert_int_equal(build(root, "[Machine]\nDistribution=debian\nRelease=12\nPackages=less\n", extra, &res2,
                               &d),
                         0);
        assert_false(res2.base_built);
        assert_int_equal(runs(root), 1);
        free(text);
        text = listing(root, "machines");
        assert_string_equal(text, "m");
        fake_tools_done(root);
}

/* A base older than MaxAge= is built again. */
static void test_stale_base_is_rebuilt(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *p = NULL, *q = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {}, res2 = {};

        assert_int_equal(build(root, bookworm, extra, &res, &d), 0);
        p = strjoin(root, "/cache/", res.cache_key, ".info");
        assert_int_equal(write_file_atomic(p, "built=1000\n", 11, 0644, 0), 0);
        q = strjoin(root, "/machines/m");
        assert_int_equal(tree_remove(q, NULL), 0);
        assert_int_equal(build(root, bookworm, extra, &res2, &d), 0);
        assert_true(res2.base_built);
        assert_int_equal(runs(root), 2);
        fake_tools_done(root);
}

/* The cache directory cannot be made: nothing is built. */
static void test_cache_lock_failure(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        tests_write(root, "cache", "a file where the cache directory should be");
        assert_true(build(root, bookworm, extra, &res, &d) < 0);
        assert_true(said(&d, "Cannot lock the cache in"));
        assert_int_equal(runs(root), 0);
        text = listing(root, "machines");
        assert_string_equal(text, "");
        fake_tools_done(root);
}

/* A missing keyring is named with its package before anything runs. */
static void test_missing_keyring_names_package(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *fake = fake_tools(root), *extra = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        assert_true(asprintf(&extra, "Bootstrapper=debootstrap\n[debian]\nKeyring=%s/none.gpg\n", root) > 0);
        assert_int_equal(build(root, bookworm, extra, &res, &d), -ENOENT);
        assert_true(said(&d, "keyring"));
        assert_true(said(&d, "is missing (apt-get install debian-archive-keyring)."));
        assert_int_equal(runs(root), 0);
        fake_tools_done(root);
}

/* An archived release: from the archive mirror, and the machine's apt is told about Valid-Until. */
static void test_archived_release(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *fake = fake_tools(root), *extra = NULL, *text = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        assert_true(asprintf(&extra, "Bootstrapper=debootstrap\n[debian]\nArchiveKeyring=%s/keyring.gpg\n", root) > 0);
        assert_int_equal(build(root, "[Machine]\nDistribution=debian\nRelease=buster\n", extra, &res, &d), 0);
        text = tests_read(root, "machines/m/etc/suite-mirror");
        assert_string_equal(text, "buster http://archive.debian.org/debian\n");
        free(text);
        text = tests_read(root, "machines/m/etc/apt/apt.conf.d/" BOOTSTRAP_APT_CONF_ARCHIVE);
        assert_non_null(text);
        assert_non_null(strstr(text, "Valid-Until"));
        fake_tools_done(root);
}

typedef struct Racer {
        const char *root, *name, *mspawn, *extra;
        int r;
        BuildResult res;
        Diagnostics d;
} Racer;

static void *race(void *userdata) {
        Racer *x = userdata;
        x->r = build_full(x->root, x->name, x->mspawn, x->extra, NULL, NULL, &x->res, &x->d);
        return NULL;
}

/* Three builds at once, two of the same machine, all of the same base: one bootstrap, each machine once. */
static void test_concurrent_builds(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *text = NULL;
        Racer x[3] = {
                { root, "m", bookworm, extra },
                { root, "m", bookworm, extra },
                { root, "n", "[Machine]\nDistribution=debian\nRelease=bookworm\nPackages=less\n", extra },
        };
        pthread_t t[3];

        /* A reader of the base holds it while all three start: each finds it missing and queues for the
         * exclusive lock, so the ones after the first must see that it has just been built. */
        _cleanup_(machine_config_freep) MachineConfig *c = config("m", bookworm);
        _cleanup_(global_config_freep) GlobalConfig *g = global(root, extra);
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        HostFacts host = { .architecture = host_debian_architecture(), .now = time(NULL), .distro_info_dir = data_dir };
        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), 0);
        int reader = cache_lock(g->cache_dir, p->cache_key, LOCK_SH);
        assert_true(reader >= 0);

        setenv("FAKE_SLEEP", "0.5", 1);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(pthread_create(&t[i], NULL, race, &x[i]), 0);
        usleep(1000 * 1000);
        assert_int_equal(runs(root), 0);
        close(reader);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(x[i].r, 0);
        assert_int_equal(runs(root), 1);
        assert_true(x[0].res.existed != x[1].res.existed);
        assert_false(x[2].res.existed);
        assert_int_equal(x[0].res.base_built + x[1].res.base_built + x[2].res.base_built, 1);
        text = listing(root, "machines");
        assert_string_equal(text, "m n");
        for (size_t i = 0; i < 3; i++) {
                build_result_done(&x[i].res);
                diagnostics_done(&x[i].d);
        }
        fake_tools_done(root);
}

/* The cache's upkeep: a stale base of a declared machine is built again, a fresh one is not; Image=
 * machines and unusable declarations are passed over. */
static void test_cache_maintain_refreshes_declared(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *info = NULL, *conf = NULL;
        _cleanup_free_ char *machines = strjoin(root, "/machines"), *run = strjoin(root, "/run"), *st = strjoin(root, "/state");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_strv_free_ char **pruned = NULL, **refreshed = NULL, **pruned2 = NULL, **refreshed2 = NULL;

        assert_int_equal(build(root, bookworm, extra, &res, &d), 0);
        assert_int_equal(runs(root), 1);
        info = strjoin(root, "/cache/", res.cache_key, ".info");
        assert_int_equal(write_file_atomic(info, "built=1000\n", 11, 0644, 0), 0);

        tests_write(root, "conf/m.mspawn", bookworm);
        tests_write(root, "conf/img.mspawn", "[Machine]\nImage=https://example.org/r.tar\nVerify=no\n");
        tests_write(root, "conf/bad.mspawn", "[Machine]\nRelease=12\n");
        conf = strjoin(root, "/conf");
        setenv("MACHINESPAWN_CONFIG_PATH", conf, 1);
        /* pruning by last use is another test's; here every base counts as used */
        _cleanup_free_ char *keep = strjoin(extra, "[Cache]\nPruneUnusedAfter=infinity\n");
        _cleanup_(global_config_freep) GlobalConfig *g = global(root, keep);
        BuildOptions o = { .paths = *tests_paths() };
        o.paths.machines_dir = machines;
        o.paths.run_dir = run;
        o.paths.state_dir = st;
        o.paths.distro_info_dir = data_dir;

        assert_int_equal(cache_maintain(g, &o, time(NULL), &pruned, &refreshed, &d), 0);
        assert_int_equal(strv_length(pruned), 0);
        assert_int_equal(strv_length(refreshed), 1);
        assert_string_equal(refreshed[0], res.cache_key);
        assert_int_equal(runs(root), 2);
        assert_int_equal(cache_base(g->cache_dir, res.cache_key, NULL, NULL), 0);

        /* fresh now: nothing to do */
        assert_int_equal(cache_maintain(g, &o, time(NULL), &pruned2, &refreshed2, &d), 0);
        assert_int_equal(strv_length(refreshed2), 0);
        assert_int_equal(runs(root), 2);
        unsetenv("MACHINESPAWN_CONFIG_PATH");
        fake_tools_done(root);
}

/* A built machine as the command sees it: listed with its origin and base, then uninstalled with the
 * declaration "bootstrap" saved for it; a hand-written declaration of another stays. */
static void test_list_and_uninstall(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *extra = fake_tools(root), *origin = NULL, *key = NULL;
        _cleanup_free_ char *machines = strjoin(root, "/machines"), *run = strjoin(root, "/run"), *st = strjoin(root, "/state");
        _cleanup_free_ char *etc = strjoin(root, "/etc"), *nspawn = strjoin(root, "/nspawn");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_(machine_uninstall_result_done) MachineUninstallResult un = {}, un2 = {};
        MachineListEntry *l = NULL;
        size_t n = 0;

        assert_int_equal(build(root, bookworm, extra, &res, &d), 0);
        tests_write(root, "etc/m.mspawn", "# Written by \"machinespawn bootstrap\".\n[Machine]\nDistribution=debian\nRelease=12\n");
        tests_write(root, "etc/hand.mspawn", "[Machine]\nDistribution=debian\nRelease=12\n");
        setenv("MACHINESPAWN_CONFIG_PATH", etc, 1);
        _cleanup_(global_config_freep) GlobalConfig *g = global(root, extra);
        BuildOptions o = { .paths = *tests_paths() };
        o.paths.machines_dir = machines;
        o.paths.run_dir = run;
        o.paths.state_dir = st;
        o.paths.sysconf_dir = etc;
        o.paths.nspawn_dir = nspawn;
        o.paths.distro_info_dir = data_dir;

        assert_int_equal(machine_origin_read(&o, "m", &origin, &key), 0);
        assert_non_null(startswith(origin, "base="));
        assert_string_equal(key, res.cache_key);

        assert_int_equal(machine_list(&o, g->cache_dir, time(NULL), &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].name, "hand");
        assert_null(l[0].origin);
        assert_string_equal(l[1].name, "m");
        assert_non_null(l[1].declared);
        assert_non_null(l[1].origin);
        assert_false(l[1].running);
        assert_true(l[1].size > 0);
        assert_true(l[1].base_age >= 0);
        machine_list_free(l, n);

        assert_int_equal(machine_uninstall("m", &o, 0, &un, &d), 0);
        assert_non_null(un.config_removed);
        assert_false(tests_exists(root, "machines/m"));
        assert_false(tests_exists(root, "etc/m.mspawn"));
        assert_false(tests_exists(root, "state/m.origin"));
        /* a machine with no tree: an error, and the hand-written declaration stays */
        assert_true(machine_uninstall("hand", &o, 0, &un2, &d) < 0);
        assert_true(tests_exists(root, "etc/hand.mspawn"));
        unsetenv("MACHINESPAWN_CONFIG_PATH");
        fake_tools_done(root);
}

/* An Image= machine from a local tarball: unpacked, finished as the machine's own, its origin recorded. */
static void make_tarball(const char *root, const char *name, const char *etc_kind) {
        _cleanup_free_ char *cmd = NULL, *src = strjoin(root, "/src-", name);

        if (streq(etc_kind, "file"))
                tests_write(src, "etc", "not a directory");
        else {
                tests_write(src, "etc/hostname", "image\n");
                tests_write(src, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
                tests_write(src, "usr/lib/os-release", "ID=debian\n");
        }
        assert_true(asprintf(&cmd, "tar -C '%s' -cf '%s/%s' .", src, root, name) > 0);
        assert_int_equal(system(cmd), 0);
}

static void test_image_build(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *mspawn = NULL, *text = NULL, *url = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        Phases ph = {};

        make_tarball(root, "img.tar", "dir");
        url = strjoin("file://", root, "/img.tar");
        assert_true(asprintf(&mspawn, "[Machine]\nImage=%s\nVerify=no\nHostname=box\n", url) > 0);
        assert_int_equal(build_full(root, "m", mspawn, "", record_phase, &ph, &res, &d), 0);
        assert_true(res.pulled);
        assert_false(res.base_built);
        assert_true(said(&d, "Verify=no: "));
        assert_non_null(strstr(ph.text, "Downloading file://"));
        assert_non_null(strstr(ph.text, "|Finishing m|"));
        text = tests_read(root, "machines/m/etc/hostname");
        assert_string_equal(text, "box\n");
        free(text);
        text = tests_read(root, "machines/m/etc/machine-id");
        assert_string_equal(text, "");
        free(text);
        text = tests_read(root, "machines/m/usr/lib/os-release");
        assert_string_equal(text, "ID=debian\n");
        free(text);
        text = tests_read(root, "state/m.origin");
        assert_non_null(text);
        free(mspawn);
        mspawn = strjoin("image=", url, "\ncreated=");
        assert_non_null(startswith(text, mspawn));
        free(text);
        text = listing(root, "machines");
        assert_string_equal(text, "m");
        tests_rm_rf(root);
}

/* An image whose etc is a file cannot be finished: no machine, no temporary. */
static void test_image_unfinishable(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *mspawn = NULL, *text = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};

        make_tarball(root, "img.tar", "file");
        assert_true(asprintf(&mspawn, "[Machine]\nImage=file://%s/img.tar\nVerify=no\n", root) > 0);
        assert_true(build(root, mspawn, "", &res, &d) < 0);
        assert_true(said(&d, "Cannot finish m: etc/hostname"));
        text = listing(root, "machines");
        assert_string_equal(text, "");
        assert_false(tests_exists(root, "state/m.origin"));
        tests_rm_rf(root);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_existing_machine_is_left_alone),
                cmocka_unit_test(test_missing_tool_names_package),
                cmocka_unit_test(test_foreign_architecture_needs_binfmt),
                cmocka_unit_test(test_image_missing_leaves_nothing),
                cmocka_unit_test(test_running_is_seen_through_nspawns_lock),
                cmocka_unit_test(test_base_tidy),
                cmocka_unit_test(test_build_through_fake_debootstrap),
                cmocka_unit_test(test_tool_failure_leaves_nothing),
                cmocka_unit_test(test_untidy_base_is_not_published),
                cmocka_unit_test(test_unfinishable_machine_leaves_no_machine),
                cmocka_unit_test(test_mmdebstrap_proxy_and_archive),
                cmocka_unit_test(test_stale_base_is_rebuilt),
                cmocka_unit_test(test_cache_lock_failure),
                cmocka_unit_test(test_missing_keyring_names_package),
                cmocka_unit_test(test_archived_release),
                cmocka_unit_test(test_concurrent_builds),
                cmocka_unit_test(test_cache_maintain_refreshes_declared),
                cmocka_unit_test(test_list_and_uninstall),
                cmocka_unit_test(test_image_build),
                cmocka_unit_test(test_image_unfinishable),
        };
        char *top;
        int r;

        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        r = tests_btrfs_from_args(argc, argv, &top);
        if (r < 0)
                return 77;
        on_btrfs = r > 0;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        tests_btrfs_done(top);
        return r;
}
