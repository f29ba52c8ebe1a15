/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "bootstrap.h"
#include "mspawn-load.h"
#include "strv.h"

static const time_t NOW = 1795910400; /* 2026-11-29 */
static char data_dir[4096], full_dir[4096], vendor[4096];

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
        assert_int_equal(machine_config_from_unit("bread", "bread.mspawn", &u, NOW, tests_paths()->distro_info_dir, &c, &d), 0);
        c->source_path = strdup("bread.mspawn");
        return c;
}

static BootstrapPlan *plan_at(const char *text, const char *host_arch, bool mmdebstrap, time_t now,
                              const char *dir) {
        _cleanup_(global_config_freep) GlobalConfig *g = shipped_config();
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        HostFacts host = { .architecture = host_arch, .have_mmdebstrap = mmdebstrap, .now = now,
                           .distro_info_dir = dir };
        BootstrapPlan *p = NULL;

        /* the .mspawn parser checks Release= against the same data */
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", dir, 1);
        c = config(text);
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);

        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), 0);
        return p;
}

static BootstrapPlan *plan(const char *text, const char *host_arch, bool mmdebstrap) {
        return plan_at(text, host_arch, mmdebstrap, NOW, data_dir);
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
        /* 2023-01-01: buster in LTS, still on the regular mirrors */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *buster =
                plan_at("[Machine]\nDistribution=debian\nRelease=buster\nComponents=main\n", "amd64", false,
                        1672531200, data_dir);
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

static char *joined_argv(const BootstrapPlan *p) {
        _cleanup_strv_free_ char **a = NULL;
        assert_int_equal(bootstrap_plan_argv(p, "/t", NULL, &a), 0);
        return strv_join(a, " ");
}

static char *sources(const BootstrapPlan *p) {
        char *s = NULL;
        assert_int_equal(bootstrap_plan_sources_list(p, &s), 0);
        return s;
}

static char *apt_conf(const BootstrapPlan *p) {
        char *s = NULL;
        assert_int_equal(bootstrap_plan_apt_conf(p, &s), 0);
        return s;
}

/* Releases past their end of life (pinned distro-info-data, pinned today) come from the archive mirrors. */
static void test_archived_debian(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *jessie =
                plan_at("[Machine]\nDistribution=debian\nRelease=8\n", "amd64", false, NOW, full_dir);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *buster =
                plan_at("[Machine]\nDistribution=debian\nRelease=10\n", "amd64", true, NOW, full_dir);
        _cleanup_free_ char *js = sources(jessie), *ja = joined_argv(jessie), *jc = apt_conf(jessie),
                            *bs = sources(buster), *ba = NULL, *bc = apt_conf(buster);

        /* Bootstrapper=auto takes debootstrap even where mmdebstrap is installed: apt refuses signatures by
         * keys expired since */
        assert_int_equal(buster->tool, BOOTSTRAPPER_DEBOOTSTRAP);
        buster->tool = BOOTSTRAPPER_MMDEBSTRAP; /* as Bootstrapper=mmdebstrap gives */
        ba = joined_argv(buster);

        assert_true(jessie->archived);
        assert_string_equal(jessie->release.codename, "jessie");
        assert_string_equal(jessie->mirror, "http://archive.debian.org/debian");
        assert_null(jessie->security_mirror);
        assert_string_equal(jessie->keyring, "/usr/share/keyrings/debian-archive-removed-keys.gpg");
        assert_string_equal(jessie->keyring_package, "debian-archive-keyring");
        /* no -updates, no security suite */
        assert_string_equal(js, "deb http://archive.debian.org/debian jessie main contrib non-free\n");
        /* debootstrap never checks Valid-Until: nothing to tell it */
        assert_string_equal(ja, "debootstrap --variant=minbase --arch=amd64 --components=main,contrib,non-free "
                                "--include=dbus,systemd,systemd-sysv "
                                "--keyring=/usr/share/keyrings/debian-archive-removed-keys.gpg jessie /t "
                                "http://archive.debian.org/debian");
        assert_string_equal(jc, "// Written by machinespawn: debian jessie comes from an archive whose Release files "
                                "are past their Valid-Until.\nAcquire::Check-Valid-Until \"false\";\n");

        assert_true(buster->archived);
        assert_string_equal(buster->mirror, "http://archive.debian.org/debian");
        assert_null(buster->security_mirror);
        assert_string_equal(bs, "deb http://archive.debian.org/debian buster main contrib non-free\n");
        /* mmdebstrap fetches with apt, which checks */
        assert_non_null(strstr(ba, " --aptopt=Acquire::Check-Valid-Until \"false\" buster /t "
                                   "http://archive.debian.org/debian"));
        assert_non_null(strstr(ba, " --keyring=/usr/share/keyrings/debian-archive-removed-keys.gpg "));
        assert_non_null(bc);
        /* the same tree wherever it comes from */
        assert_non_null(startswith(buster->cache_key, "debian-buster-amd64-minbase-"));
}

static void test_archived_after_grace(void **state) {
        /* bullseye's LTS ended 2026-08-31; deb.debian.org keeps a release a while (ArchiveAfter=365d) */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *now =
                plan_at("[Machine]\nDistribution=debian\nRelease=11\n", "amd64", true, NOW, full_dir);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *later =
                plan_at("[Machine]\nDistribution=debian\nRelease=11\n", "amd64", true, 1819929600 /* 2027-09-02 */,
                        full_dir);
        /* an explicit Mirror= wins, the archive's apt settings stay */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *own =
                plan_at("[Machine]\nDistribution=debian\nRelease=10\nMirror=http://m.example/debian\n", "amd64",
                        true, NOW, full_dir);
        _cleanup_free_ char *na = joined_argv(now), *nc = apt_conf(now), *ls = sources(later);

        assert_false(now->archived);
        assert_string_equal(now->mirror, "http://deb.debian.org/debian");
        assert_null(strstr(na, "Valid-Until"));
        assert_null(nc);
        assert_true(later->archived);
        assert_string_equal(ls, "deb http://archive.debian.org/debian bullseye main contrib non-free\n");
        assert_true(own->archived);
        assert_string_equal(own->mirror, "http://m.example/debian");
        assert_null(own->security_mirror);
}

static void test_archived_ubuntu(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *kinetic =
                plan_at("[Machine]\nDistribution=ubuntu\nRelease=22.10\nComponents=main\n", "amd64", true, NOW,
                        full_dir);
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *kinetic_arm =
                plan_at("[Machine]\nDistribution=ubuntu\nRelease=kinetic\nArchitecture=arm64\n", "amd64", false, NOW,
                        full_dir);
        /* 16.04 is in Legacy support until 2028: still on archive.ubuntu.com */
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *xenial =
                plan_at("[Machine]\nDistribution=ubuntu\nRelease=16.04\nComponents=main\n", "amd64", false, NOW,
                        full_dir);
        _cleanup_free_ char *ks = sources(kinetic), *ka = NULL, *kc = apt_conf(kinetic), *xs = sources(xenial);

        kinetic->tool = BOOTSTRAPPER_MMDEBSTRAP;
        ka = joined_argv(kinetic);

        assert_true(kinetic->archived);
        assert_string_equal(kinetic->mirror, "http://old-releases.ubuntu.com/ubuntu");
        /* old-releases keeps every pocket */
        assert_string_equal(ks, "deb http://old-releases.ubuntu.com/ubuntu kinetic main\n"
                                "deb http://old-releases.ubuntu.com/ubuntu kinetic-updates main\n"
                                "deb http://old-releases.ubuntu.com/ubuntu kinetic-security main\n");
        assert_string_equal(kinetic->keyring, "/usr/share/keyrings/ubuntu-archive-keyring.gpg");
        assert_non_null(strstr(ka, "--aptopt=Acquire::Check-Valid-Until \"false\""));
        assert_non_null(kc);
        /* and every architecture: no ports mirror */
        assert_string_equal(kinetic_arm->mirror, "http://old-releases.ubuntu.com/ubuntu");
        assert_string_equal(kinetic_arm->security_mirror, "http://old-releases.ubuntu.com/ubuntu");

        assert_false(xenial->archived);
        assert_string_equal(xs, "deb http://archive.ubuntu.com/ubuntu xenial main\n"
                                "deb http://archive.ubuntu.com/ubuntu xenial-updates main\n"
                                "deb http://security.ubuntu.com/ubuntu xenial-security main\n");
}

/* A supported release is untouched by all this. */
static void test_current_release_unchanged(void **state) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p =
                plan_at("[Machine]\nDistribution=debian\nRelease=12\nComponents=main\n", "amd64", true, NOW,
                        full_dir);
        _cleanup_free_ char *s = sources(p), *a = joined_argv(p), *c = apt_conf(p);

        assert_false(p->archived);
        assert_string_equal(p->mirror, "http://deb.debian.org/debian");
        assert_string_equal(p->keyring, "/usr/share/keyrings/debian-archive-keyring.gpg");
        assert_string_equal(s, "deb http://deb.debian.org/debian bookworm main\n"
                               "deb http://deb.debian.org/debian bookworm-updates main\n"
                               "deb http://deb.debian.org/debian-security bookworm-security main\n");
        assert_string_equal(a, "mmdebstrap --mode=root --variant=minbase --architectures=amd64 --components=main "
                               "--include=dbus,systemd,systemd-sysv "
                               "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg --dpkgopt=force-unsafe-io "
                               "bookworm /t http://deb.debian.org/debian");
        assert_null(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_key),
                cmocka_unit_test(test_key_depends_on_what_changes_the_tree),
                cmocka_unit_test(test_components_by_release),
                cmocka_unit_test(test_sources_list),
                cmocka_unit_test(test_argv),
                cmocka_unit_test(test_unknown_release_lists_known),
                cmocka_unit_test(test_archived_debian),
                cmocka_unit_test(test_archived_after_grace),
                cmocka_unit_test(test_archived_ubuntu),
                cmocka_unit_test(test_current_release_unchanged),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(full_dir, sizeof full_dir, "%s/distro-info-full", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
