/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "tests.h"

#include "fileio.h"
#include "finish.h"
#include "machine-build.h"
#include "machine-remove.h"
#include "strv.h"

static const time_t NOW = 1795910400;
static char data_dir[4096], vendor[4096];

static MachineConfig *config(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("m", "m.mspawn", &u, NOW, tests_paths()->distro_info_dir, &c, &d), 0);
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

static int build(const char *root, const char *mspawn, const char *extra, BuildResult *res, Diagnostics *d) {
        _cleanup_(machine_config_freep) MachineConfig *c = config(mspawn);
        _cleanup_(global_config_freep) GlobalConfig *g = global(root, extra);
        _cleanup_free_ char *machines = strjoin(root, "/machines"), *run = strjoin(root, "/run");
        _cleanup_free_ char *state = strjoin(root, "/state");
        BuildOptions o = { .paths = *tests_paths() };

        o.paths.machines_dir = machines;
        o.paths.run_dir = run;
        o.paths.state_dir = state;
        o.paths.distro_info_dir = data_dir;

        return machine_build(c, g, &o, res, d);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_existing_machine_is_left_alone),
                cmocka_unit_test(test_missing_tool_names_package),
                cmocka_unit_test(test_foreign_architecture_needs_binfmt),
                cmocka_unit_test(test_image_missing_leaves_nothing),
                cmocka_unit_test(test_running_is_seen_through_nspawns_lock),
                cmocka_unit_test(test_base_tidy),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
