/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "bootstrap.h"
#include "mspawn-load.h"
#include "strv.h"

static const time_t NOW = 1795910400; /* 2026-11-29 */
static char data_dir[4096], vendor[4096];

static GlobalConfig *shipped_config(void) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        GlobalConfig *g = NULL;

        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        return g;
}

static MachineConfig *config(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "bread.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("bread", "bread.mspawn", &u, NOW, &c, &d), 0);
        c->source_path = strdup("bread.mspawn");
        return c;
}

static BootstrapPlan *plan(const char *text, const char *host_arch, bool mmdebstrap) {
        _cleanup_(global_config_freep) GlobalConfig *g = shipped_config();
        _cleanup_(machine_config_freep) MachineConfig *c = config(text);
        _cleanup_(diagnostics_done) Diagnostics d = {};
        HostFacts host = { .architecture = host_arch, .have_mmdebstrap = mmdebstrap, .now = NOW,
                           .distro_info_dir = data_dir };
        BootstrapPlan *p = NULL;

        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), 0);
        return p;
}

static void test_defaults_and_key(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p =
                plan("[Machine]\nDistribution=debian\nRelease=12\nPackages=vim\n", "amd64", false);

        assert_string_equal(p->release.codename, "bookworm");
        assert_string_equal(p->architecture, "amd64");
        assert_false(p->foreign);
        assert_string_equal(p->variant, "minbase");
        assert_string_equal(p->mirror, "http://deb.debian.org/debian");
        assert_string_equal(strv_join(p->components, " "), "main contrib non-free non-free-firmware");
        assert_string_equal(strv_join(p->packages, " "), "dbus systemd systemd-sysv vim");
        assert_int_equal(p->tool, BOOTSTRAPPER_DEBOOTSTRAP);
        assert_string_equal(p->hostname, "bread");
        /* readable prefix, then 8 hex digits */
        assert_non_null(startswith(p->cache_key, "debian-bookworm-amd64-minbase-"));
        assert_int_equal(strlen(p->cache_key), strlen("debian-bookworm-amd64-minbase-") + 8);
}

static void test_key_depends_on_what_changes_the_tree(void **state) {
        const char *base = "[Machine]\nDistribution=debian\nRelease=bookworm\n";
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *a = plan(base, "amd64", false);
        /* the same release by version, another mirror, packages in another order: same tree, same key */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *b =
                plan("[Machine]\nDistribution=debian\nRelease=12\nMirror=http://mirror.example/debian\n", "amd64",
                     false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *c1 =
                plan("[Machine]\nDistribution=debian\nRelease=12\nPackages=vim less\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *c2 =
                plan("[Machine]\nDistribution=debian\nRelease=12\nPackages=less\nPackages=vim dbus\n", "amd64", false);
        /* what does change it */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *tool = plan(base, "amd64", true);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *arch =
                plan("[Machine]\nDistribution=debian\nRelease=12\nArchitecture=arm64\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *comps =
                plan("[Machine]\nDistribution=debian\nRelease=12\nComponents=main\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *variant =
                plan("[Machine]\nDistribution=debian\nRelease=12\nVariant=buildd\n", "amd64", false);

        assert_string_equal(a->cache_key, b->cache_key);
        assert_string_equal(c1->cache_key, c2->cache_key);
        assert_string_not_equal(a->cache_key, c1->cache_key);
        assert_string_not_equal(a->cache_key, tool->cache_key);
        assert_int_equal(tool->tool, BOOTSTRAPPER_MMDEBSTRAP);
        assert_non_null(startswith(arch->cache_key, "debian-bookworm-arm64-minbase-"));
        assert_true(arch->foreign);
        assert_string_not_equal(a->cache_key, comps->cache_key);
        assert_non_null(startswith(variant->cache_key, "debian-bookworm-amd64-buildd-"));
}

static void test_components_by_release(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *bullseye =
                plan("[Machine]\nDistribution=debian\nRelease=bullseye\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *sid =
                plan("[Machine]\nDistribution=debian\nRelease=sid\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *jammy =
                plan("[Machine]\nDistribution=ubuntu\nRelease=22.04\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *jammy_arm =
                plan("[Machine]\nDistribution=ubuntu\nRelease=jammy\nArchitecture=arm64\n", "amd64", false);

        assert_string_equal(strv_join(bullseye->components, " "), "main contrib non-free");
        assert_string_equal(strv_join(sid->components, " "), "main contrib non-free non-free-firmware");
        assert_string_equal(strv_join(jammy->components, " "), "main restricted universe multiverse");
        assert_string_equal(jammy->mirror, "http://archive.ubuntu.com/ubuntu");
        assert_string_equal(jammy->keyring, "/usr/share/keyrings/ubuntu-archive-keyring.gpg");
        assert_string_equal(jammy_arm->mirror, "http://ports.ubuntu.com/ubuntu-ports");
}

static void test_sources_list(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *bookworm =
                plan("[Machine]\nDistribution=debian\nRelease=bookworm\nComponents=main\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *buster =
                plan("[Machine]\nDistribution=debian\nRelease=buster\nComponents=main\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *sid =
                plan("[Machine]\nDistribution=debian\nRelease=unstable\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *forky =
                plan("[Machine]\nDistribution=debian\nRelease=testing\nComponents=main\n", "amd64", false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *jammy =
                plan("[Machine]\nDistribution=ubuntu\nRelease=jammy\nComponents=main\n", "amd64", false);
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *e = NULL, *f = NULL;

        assert_int_equal(bootstrap_plan_sources_list(bookworm, &a), 0);
        assert_string_equal(a, "deb http://deb.debian.org/debian bookworm main\n"
                               "deb http://deb.debian.org/debian bookworm-updates main\n"
                               "deb http://deb.debian.org/debian-security bookworm-security main\n");
        assert_int_equal(bootstrap_plan_sources_list(buster, &b), 0);
        assert_non_null(strstr(b, "deb http://deb.debian.org/debian-security buster/updates main\n"));
        /* sid and testing have no updates or security suites */
        assert_int_equal(bootstrap_plan_sources_list(sid, &c), 0);
        assert_string_equal(c, "deb http://deb.debian.org/debian sid main contrib non-free non-free-firmware\n");
        assert_int_equal(bootstrap_plan_sources_list(forky, &e), 0);
        assert_string_equal(e, "deb http://deb.debian.org/debian forky main\n");
        assert_int_equal(bootstrap_plan_sources_list(jammy, &f), 0);
        assert_non_null(strstr(f, "deb http://security.ubuntu.com/ubuntu jammy-security main\n"));
}

static void test_argv(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p =
                plan("[Machine]\nDistribution=debian\nRelease=bookworm\nVariant=default\nComponents=main\n", "amd64",
                     false);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *m =
                plan("[Machine]\nDistribution=debian\nRelease=bookworm\nVariant=default\nComponents=main\n", "amd64",
                     true);
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        _cleanup_free_ char *ja = NULL, *jb = NULL;

        assert_int_equal(bootstrap_plan_argv(p, "/t", NULL, &a), 0);
        ja = strv_join(a, " ");
        assert_string_equal(ja, "debootstrap --arch=amd64 --components=main --include=dbus,systemd,systemd-sysv "
                                "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg bookworm /t "
                                "http://deb.debian.org/debian");
        assert_int_equal(bootstrap_plan_argv(m, "/t", "http://127.0.0.1:3142", &b), 0);
        jb = strv_join(b, " ");
        assert_string_equal(jb, "mmdebstrap --mode=root --variant=debootstrap --architectures=amd64 --components=main "
                                "--include=dbus,systemd,systemd-sysv "
                                "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg --dpkgopt=force-unsafe-io "
                                "--aptopt=Acquire::http::Proxy \"http://127.0.0.1:3142\" bookworm /t "
                                "http://deb.debian.org/debian");
}

static void test_unknown_release_lists_known(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *g = shipped_config();
        _cleanup_(machine_config_freep) MachineConfig *c = config("[Machine]\nDistribution=debian\nRelease=sid\n");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        HostFacts host = { .architecture = "amd64", .now = NOW, .distro_info_dir = data_dir };
        BootstrapPlan *p = NULL;

        /* valid when the file was read, gone from distro-info since: one line naming the known ones */
        free(c->release.value);
        c->release.value = strdup("hamm2");
        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), -EINVAL);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.items[0].message, "known: stretch buster bullseye bookworm trixie forky duke sid"));
        assert_null(strchr(d.items[0].message, '\n'));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_key),
                cmocka_unit_test(test_key_depends_on_what_changes_the_tree),
                cmocka_unit_test(test_components_by_release),
                cmocka_unit_test(test_sources_list),
                cmocka_unit_test(test_argv),
                cmocka_unit_test(test_unknown_release_lists_known),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
