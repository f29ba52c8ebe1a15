/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "machine-config.h"
#include "strv.h"

static const time_t NOW = 1795910400; /* 2026-11-29 */

static int load(const char *text, MachineConfig **ret, Diagnostics *d) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_fclose_ FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        assert_non_null(f);
        r = unit_file_parse(&u, "m.mspawn", f, d);
        if (r < 0)
                return r;
        return machine_config_from_unit("bread", "m.mspawn", &u, NOW, tests_paths()->distro_info_dir, ret, d);
}

static bool has_message(const Diagnostics *d, unsigned line, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].line == line && strstr(d->items[i].message, needle))
                        return true;
        return false;
}

static void test_full(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\n"
                              "Distribution=debian\n"
                              "Release=trixie\n"
                              "Architecture=arm64\n"
                              "Variant=buildd\n"
                              "Components=main contrib\n"
                              "Packages=vim less\n"
                              "Packages=vim curl\n"
                              "Mirror=http://mirror.example/debian\n"
                              "Hostname=bread.example\n"
                              "[User]\n"
                              "Name=alice\n"
                              "Groups=audio\n"
                              "Home=none\n"
                              "Sudo=yes\n"
                              "[Install]\n"
                              "WantedBy=machines.target\n",
                              &c, &d),
                         0);
        assert_int_equal(d.n, 0);
        assert_string_equal(c->name, "bread");
        assert_string_equal(c->distribution.value, "debian");
        assert_string_equal(c->release.value, "trixie");
        assert_int_equal(c->release.line, 3);
        assert_string_equal(c->architecture, "arm64");
        assert_string_equal(c->variant, "buildd");
        assert_int_equal(strv_length(c->components), 2);
        /* packages accumulate, each once */
        assert_int_equal(strv_length(c->packages), 3);
        assert_string_equal(c->packages[2], "curl");
        assert_string_equal(c->mirror.value, "http://mirror.example/debian");
        assert_string_equal(c->hostname, "bread.example");
        assert_string_equal(c->user.name, "alice");
        assert_int_equal(c->user.home, HOME_NONE);
        assert_int_equal(c->user.sudo, 1);
        assert_int_equal(c->user.display, -1);
        assert_string_equal(c->wanted_by[0], "machines.target");
        assert_null(c->image.value);
}

static void test_list_reset(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=sid\n"
                              "Packages=a1 b2\nPackages=\nPackages=c3\n"
                              "[Files]\nBind=/a\nBind=\nBind=/b\nBind=/c\n"
                              "[Service]\nEnvironment=\nEnvironment=X=1\n",
                              &c, &d),
                         0);
        assert_int_equal(strv_length(c->packages), 1);
        assert_string_equal(c->packages[0], "c3");
        assert_int_equal(c->files.n, 2);
        assert_string_equal(c->files.items[0].value, "/b");
        assert_int_equal(c->files.items[0].line, 10);
        assert_string_equal(c->files.items[1].value, "/c");
        /* [Service] keeps the empty assignment, it resets the template's list */
        assert_int_equal(c->service.n, 2);
        assert_string_equal(c->service.items[0].value, "");
}

/* Resets and duplicates are applied once at the end; the result must be what applying them in order gives. */
static void test_list_order_and_duplicates(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=sid\n"
                              "Packages=zz aa zz\nPackages=mm aa\nComponents=main\nComponents=\n"
                              "Components=contrib main contrib\n"
                              "[Files]\nBind=/a\nBindReadOnly=/r\nBind=\nBind=/b\nBindReadOnly=\nBind=/c\nBind=\nBind=/d\n"
                              "BindReadOnly=/s\nBind=/a\n"
                              "[Exec]\nEnvironment=A=1\nEnvironment=B=2\n",
                              &c, &d),
                         0);
        assert_int_equal(strv_length(c->packages), 3);
        assert_string_equal(c->packages[0], "zz");
        assert_string_equal(c->packages[1], "aa");
        assert_string_equal(c->packages[2], "mm");
        assert_int_equal(strv_length(c->components), 2);
        assert_string_equal(c->components[0], "contrib");
        assert_string_equal(c->components[1], "main");
        /* Bind= reset twice, the last after /c, BindReadOnly= after /r; the survivors in file order, repeats
         * kept */
        assert_int_equal(c->files.n, 3);
        assert_string_equal(c->files.items[0].value, "/d");
        assert_string_equal(c->files.items[1].key, "BindReadOnly");
        assert_string_equal(c->files.items[1].value, "/s");
        assert_string_equal(c->files.items[2].value, "/a");
        assert_int_equal(c->exec.n, 2);
        assert_string_equal(c->exec.items[1].value, "B=2");
}

/* An empty single-valued key returns to the default: a drop-in can turn an Image= machine into a bootstrapped one. */
static void test_single_reset(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\nImage=https://example.org/r.tar\nMirror=http://m.example/debian\n"
                              "Image=\nMirror=\nDistribution=debian\nRelease=12\n",
                              &c, &d),
                         0);
        assert_null(c->image.value);
        assert_null(c->mirror.value);
        assert_string_equal(c->distribution.value, "debian");
}

static void test_image(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\nImage=https://x.example/r.tar.zst\n"
                              "Verify=sha256:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\n",
                              &c, &d),
                         0);
        assert_int_equal(c->verify, VERIFY_SHA256);
        assert_string_equal(c->verify_sha256, "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08");
        machine_config_free(c);
        c = NULL;
        assert_int_equal(load("[Machine]\nImage=file:///srv/r.tar\nVerify=no\n", &c, &d), 0);
        assert_int_equal(c->verify, VERIFY_NO);
        assert_string_equal(verify_mode_to_string(c->verify), "no");
}

static void test_rejections(void **state) {
        static const struct {
                const char *text;
                unsigned line;
                const char *needle;
        } cases[] = {
                { "[Machine]\nDistribution=debian\nRelease=woody2\n", 3, "is not a release of debian" },
                { "[Machine]\nDistribution=debian\nRelease=12\nArchitecture=x86_64\n", 4, "not a Debian architecture" },
                { "[Machine]\nDistribution=debian\nRelease=12\nVariant=huge\n", 4, "Variant=huge" },
                { "[Machine]\nImage=https://x/y\nVerify=sha1:00\n", 3, "Verify=sha1:00" },
                { "[Machine]\nImage=gopher://x/y\n", 2, "is not an http://" },
                { "[Machine]\nDistribution=Debian!\n", 2, "not a distribution name" },
                { "[Machine]\nDistribution=debian\nRelease=12\nPackages=ok BAD\n", 4, "'BAD' is not a valid Debian package" },
                { "[Machine]\nDistribution=debian\nRelease=12\nHostname=a_b\n", 4, "not a valid host name" },
                { "[Machine]\nDistribution=debian\nRelease=12\nMirror=deb.debian.org\n", 4, "is not an http://" },
                { "[Machine]\nDistribution=debian\nRelease=12\n[User]\nName=root\n", 5, "Name=root" },
                { "[Machine]\nDistribution=debian\nRelease=12\n[User]\nName=alice\nDisplay=perhaps\n", 6, "not a boolean" },
                { "[Machine]\nDistribution=debian\nRelease=12\n[Install]\nWantedBy=foo\n", 5, "not a valid unit name" },
                { "[Machine]\nDistribution=debian\nRelease=12\nImage=https://x/y\n", 4, "both are set" },
                { "[Machine]\nRelease=12\n", 0, "neither is set" },
                { "[Machine]\nDistribution=arch\nRelease=rolling\n", 2, "needs Mirror=" },
                { "[Machine]\nImage=https://x/y\n[User]\nGroups=audio\n", 0, "need Name=" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(machine_config_freep) MachineConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};

                assert_int_equal(load(cases[i].text, &c, &d), -EBADMSG);
                assert_null(c);
                if (!has_message(&d, cases[i].line, cases[i].needle)) {
                        fprintf(stderr, "case %zu: no '%s' at line %u\n", i, cases[i].needle, cases[i].line);
                        fail();
                }
                assert_int_equal(d.items[0].level, LOG_ERR);
        }
}

static void test_warnings(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};

        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=12\nColour=blue\n"
                              "[Exec]\nBoot=yes\nBogus=1\n[Weird]\nA=b\n[X-Mine]\nA=b\n",
                              &c, &d),
                         0);
        assert_int_equal(d.n, 3);
        assert_true(has_message(&d, 4, "Unknown key 'Colour' in section [Machine]"));
        assert_true(has_message(&d, 7, "Unknown key 'Bogus' in section [Exec] for systemd-nspawn"));
        assert_true(has_message(&d, 9, "Unknown section [Weird]"));
        assert_int_equal(diagnostics_count(&d, LOG_ERR), 0);
        /* an unknown nspawn key is still passed on */
        assert_int_equal(c->exec.n, 2);
}

static void test_invalid_name(void **state) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MachineConfig *c = NULL;

        assert_int_equal(machine_config_from_unit("-x", "m.mspawn", &u, NOW, tests_paths()->distro_info_dir, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
}

/* [User] ExportApps=, ExportBins=, GPU= */
static void test_user_exports(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL, *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {}, e = {}, f = {};
        MachineConfig *bad = NULL;

        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=trixie\n"
                              "[User]\nName=alice\n"
                              "ExportApps=org.gnome.Calculator org.gnome.Calculator.desktop\n"
                              "ExportApps=htop\n"
                              "ExportBins=/usr/bin/htop /usr/local/bin/g++\n"
                              "GPU=yes\n",
                              &c, &d),
                         0);
        assert_int_equal(d.n, 0);
        /* ".desktop" or not, one ID */
        _cleanup_free_ char *apps = strv_join(c->user.export_apps, " "), *bins = strv_join(c->user.export_bins, " ");
        assert_string_equal(apps, "org.gnome.Calculator htop");
        assert_string_equal(bins, "/usr/bin/htop /usr/local/bin/g++");
        assert_true(c->user.gpu);

        /* GPU= is the machine's and needs no user; an empty assignment resets */
        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=trixie\n[User]\nGPU=yes\nGPU=\n", &g, &f), 0);
        assert_false(g->user.gpu);

        /* names that would leave their directory, and exports without a user */
        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=trixie\n[User]\nName=alice\n"
                              "ExportApps=../../etc/passwd\n"
                              "ExportBins=usr/bin/htop\n"
                              "ExportBins=/usr/bin/../../bin/sh\n"
                              "GPU=maybe\n",
                              &bad, &e),
                         -EBADMSG);
        assert_true(has_message(&e, 6, "ExportApps=: '../../etc/passwd' is not a valid desktop file ID"));
        assert_true(has_message(&e, 7, "ExportBins=: 'usr/bin/htop' is not a valid absolute path"));
        assert_true(has_message(&e, 8, "'/usr/bin/../../bin/sh'"));
        assert_true(has_message(&e, 9, "GPU=maybe is not a boolean"));
        diagnostics_done(&e);
        assert_int_equal(load("[Machine]\nDistribution=debian\nRelease=trixie\n[User]\nExportBins=/usr/bin/htop\n",
                              &bad, &e),
                         -EBADMSG);
        assert_true(has_message(&e, 0, "[User] settings need Name="));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full),        cmocka_unit_test(test_list_reset),
                cmocka_unit_test(test_list_order_and_duplicates),
                cmocka_unit_test(test_single_reset),
                cmocka_unit_test(test_user_exports),
                cmocka_unit_test(test_image),       cmocka_unit_test(test_rejections),
                cmocka_unit_test(test_warnings),    cmocka_unit_test(test_invalid_name),
        };
        char dir[4096];

        snprintf(dir, sizeof dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
