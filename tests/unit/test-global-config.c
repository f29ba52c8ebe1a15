/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "global-config.h"
#include "strv.h"

static char *path_in(const char *root, const char *rel) {
        char *p;
        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        return p;
}

/* The shipped defaults load cleanly and say what the issue asks for. */
static void test_shipped_defaults(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL, **comps = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *vendor = NULL;
        const DistroDefaults *deb, *ubu;
        DistroRelease bullseye = { .major = 11 }, bookworm = { .major = 12 }, sid = { .major = UINT32_MAX };

        assert_true(asprintf(&vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT")) > 0);
        assert_int_equal(global_config_files(vendor, root, &files), 0);
        assert_int_equal(strv_length(files), 1);
        assert_int_equal(global_config_load(files, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(c->bootstrapper, BOOTSTRAPPER_AUTO);
        assert_string_equal(strv_join(c->base_packages, " "), "systemd systemd-sysv dbus");
        assert_string_equal(c->proxy, "auto");
        assert_false(c->keep_proxy);
        assert_string_equal(c->cache_dir, "/var/cache/machinespawn");
        assert_int_equal(c->max_age_sec, 7 * 86400);

        deb = global_config_distro(c, "debian");
        assert_non_null(deb);
        assert_string_equal(deb->mirror, "http://deb.debian.org/debian");
        assert_string_equal(deb->keyring_package, "debian-archive-keyring");
        assert_int_equal(distro_defaults_components(deb, &bullseye, &comps), 0);
        assert_string_equal(strv_join(comps, " "), "main contrib non-free");
        comps = strv_free(comps);
        assert_int_equal(distro_defaults_components(deb, &bookworm, &comps), 0);
        assert_int_equal(strv_length(comps), 4);
        assert_string_equal(comps[3], "non-free-firmware");
        comps = strv_free(comps);
        assert_int_equal(distro_defaults_components(deb, &sid, &comps), 0);
        assert_int_equal(strv_length(comps), 4);

        ubu = global_config_distro(c, "ubuntu");
        assert_non_null(ubu);
        assert_int_equal(strv_length(ubu->components), 4);
        assert_string_equal(ubu->components[1], "restricted");
        assert_null(global_config_distro(c, "fedora"));

        /* where releases past their end of life come from */
        assert_string_equal(deb->archive_mirror, "http://archive.debian.org/debian");
        assert_null(deb->archive_security_mirror);
        assert_string_equal(deb->archive_keyring, "/usr/share/keyrings/debian-archive-removed-keys.gpg");
        assert_int_equal(deb->archive_after_sec, 365 * 86400);
        assert_string_equal(ubu->archive_mirror, "http://old-releases.ubuntu.com/ubuntu");
        assert_string_equal(ubu->archive_security_mirror, "http://old-releases.ubuntu.com/ubuntu");
        assert_null(ubu->archive_keyring);
        assert_int_equal(ubu->archive_after_sec, 30 * 86400);
        tests_rm_rf(root);
}

static void test_archive_keys(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL, *bad = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {}, dbad = {};
        _cleanup_strv_free_ char **files = NULL, **badfiles = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *a = path_in(root, "a.conf"), *b = path_in(root, "b.conf"),
                            *x = path_in(root, "x.conf");
        const DistroDefaults *deb;

        tests_write(root, "a.conf", "[debian]\nArchiveMirror=http://a/debian\nArchiveSecurityMirror=http://a/sec\n"
                                    "ArchiveKeyring=/k.gpg\nArchiveAfter=2w\n");
        /* an empty value takes a setting back */
        tests_write(root, "b.conf", "[debian]\nArchiveSecurityMirror=\nArchiveKeyring=\n");
        assert_int_equal(strv_extend(&files, a), 0);
        assert_int_equal(global_config_load(files, &c, &d), 0);
        deb = global_config_distro(c, "debian");
        assert_string_equal(deb->archive_mirror, "http://a/debian");
        assert_string_equal(deb->archive_security_mirror, "http://a/sec");
        assert_string_equal(deb->archive_keyring, "/k.gpg");
        assert_int_equal(deb->archive_after_sec, 14 * 86400);
        c = global_config_free(c);
        assert_int_equal(strv_extend(&files, b), 0);
        assert_int_equal(global_config_load(files, &c, &d), 0);
        deb = global_config_distro(c, "debian");
        assert_string_equal(deb->archive_mirror, "http://a/debian");
        assert_null(deb->archive_security_mirror);
        assert_null(deb->archive_keyring);
        assert_int_equal(d.n, 0);

        tests_write(root, "x.conf", "[debian]\nArchiveMirror=ftp://old\nArchiveKeyring=k.gpg\nArchiveAfter=later\n");
        assert_int_equal(strv_extend(&badfiles, x), 0);
        assert_int_equal(global_config_load(badfiles, &bad, &dbad), -EBADMSG);
        assert_int_equal(diagnostics_count(&dbad, LOG_ERR), 3);
        for (size_t i = 0; i < dbad.n; i++) {
                assert_string_equal(dbad.items[i].file, x);
                if (strstr(dbad.items[i].message, "archivemirror=ftp://old"))
                        assert_int_equal(dbad.items[i].line, 2);
                else if (strstr(dbad.items[i].message, "archivekeyring=k.gpg"))
                        assert_int_equal(dbad.items[i].line, 3);
                else if (strstr(dbad.items[i].message, "archiveafter=later"))
                        assert_int_equal(dbad.items[i].line, 4);
                else
                        fail_msg("unexpected message %s", dbad.items[i].message);
        }
        tests_rm_rf(root);
}

static void test_overrides_in_order(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *vendor = path_in(root, "vendor.conf"), *etc = path_in(root, "etc");

        tests_write(root, "vendor.conf", "[Bootstrap]\nProxy=auto\n[Cache]\nMaxAge=7d\n[debian]\nMirror=http://a/debian\n");
        tests_write(root, "etc/machinespawn.conf", "[Cache]\nMaxAge=1d\n");
        tests_write(root, "etc/machinespawn.conf.d/20-b.conf", "[Bootstrap]\nProxy=http://proxy.example:3142\n");
        tests_write(root, "etc/machinespawn.conf.d/10-a.conf", "[Bootstrap]\nProxy=none\nBootstrapper=mmdebstrap\n");
        tests_write(root, "etc/machinespawn.conf.d/30-c.txt", "[Bootstrap]\nProxy=ignored\n");

        assert_int_equal(global_config_files(vendor, etc, &files), 0);
        assert_int_equal(strv_length(files), 4);
        assert_non_null(endswith(files[2], "10-a.conf"));
        assert_int_equal(global_config_load(files, &c, &d), 0);
        assert_int_equal(c->max_age_sec, 86400);
        assert_string_equal(c->proxy, "http://proxy.example:3142");
        assert_int_equal(c->bootstrapper, BOOTSTRAPPER_MMDEBSTRAP);
        assert_string_equal(global_config_distro(c, "debian")->mirror, "http://a/debian");
        tests_rm_rf(root);
}

static void test_bad_values_name_file_line_key(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *f = path_in(root, "bad.conf");

        tests_write(root, "bad.conf", "[Bootstrap]\n# comment\nBootstrapper=cdebootstrap\n\n[Cache]\nMaxAge=soon\n"
                                      "Colour=red\n[debian]\nComponents=main non-free>=x\n");
        assert_int_equal(strv_extend(&files, f), 0);
        assert_int_equal(global_config_load(files, &c, &d), -EBADMSG);
        assert_null(c);
        assert_int_equal(diagnostics_count(&d, LOG_ERR), 3);
        for (size_t i = 0; i < d.n; i++) {
                assert_string_equal(d.items[i].file, f);
                if (strstr(d.items[i].message, "bootstrapper=cdebootstrap"))
                        assert_int_equal(d.items[i].line, 3);
                else if (strstr(d.items[i].message, "maxage=soon"))
                        assert_int_equal(d.items[i].line, 6);
                else if (strstr(d.items[i].message, "Unknown key 'colour'"))
                        assert_int_equal(d.items[i].line, 7);
                else if (strstr(d.items[i].message, "non-free>=x"))
                        assert_int_equal(d.items[i].line, 9);
                else
                        fail_msg("unexpected message %s", d.items[i].message);
        }
        tests_rm_rf(root);
}

/* Each bad value alone: an error naming the file, the line of the key and the key, and no configuration. */
static void test_each_bad_value(void **state) {
        static const struct {
                const char *text, *message;
                unsigned line;
        } cases[] = {
                { "[Bootstrap]\nPackages=systemd Bad_Name\n", "packages=systemd Bad_Name: 'Bad_Name' is not a package name.", 2 },
                { "[Bootstrap]\nProxy=ftp://proxy\n", "proxy=ftp://proxy: not auto, none or an http:// URL.", 2 },
                { "[Bootstrap]\nKeepProxy=perhaps\n", "keepproxy=perhaps: not a boolean.", 2 },
                { "[Cache]\n\nDirectory=var/cache\n", "directory=var/cache: not an absolute path.", 3 },
                { "[bad/name]\nMirror=http://a/\n", "[bad/name] is not a distribution name.", 2 },
                { "[debian]\nMirror=ftp://a/\n", "mirror=ftp://a/: not an http://, https:// or file:/// URL.", 2 },
                { "[debian]\nPortsMirror=a\n", "portsmirror=a: not an http", 2 },
                { "[debian]\nSecurityMirror=\n", "securitymirror=: not an http", 2 },
                { "[debian]\nArchiveSecurityMirror=gopher://x\n", "archivesecuritymirror=gopher://x: not an http", 2 },
                { "[debian]\nComponents=main Bad!\n", "components=main Bad!: 'Bad!' is not a component", 2 },
                { "[debian]\nComponents=main>=\n", "'main>=' is not a component", 2 },
                { "[debian]\nKeyring=keys.gpg\n", "keyring=keys.gpg: not an absolute path.", 2 },
                { "[debian]\nPackage=Keyring!\n", "package=Keyring!: not a package name.", 2 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(global_config_freep) GlobalConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_strv_free_ char **files = NULL;
                _cleanup_free_ char *root = tests_mkdtemp(), *f = path_in(root, "bad.conf");

                tests_write(root, "bad.conf", cases[i].text);
                assert_int_equal(strv_extend(&files, f), 0);
                int r = global_config_load(files, &c, &d);
                if (r != -EBADMSG)
                        fail_msg("%s: loaded with %i", cases[i].text, r);
                assert_null(c);
                if (d.n != 1 || !strstr(d.items[0].message, cases[i].message))
                        fail_msg("%s: want one error \"%s\", got %zu, first \"%s\"", cases[i].text, cases[i].message,
                                 d.n, d.n > 0 ? d.items[0].message : "");
                assert_int_equal(d.items[0].level, LOG_ERR);
                assert_string_equal(d.items[0].file, f);
                assert_int_equal(d.items[0].line, cases[i].line);
                tests_rm_rf(root);
        }
}

/* Empty archive settings mean none; good values of every kind are taken. */
static void test_every_key(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *f = path_in(root, "good.conf");
        const DistroDefaults *dd;

        tests_write(root, "good.conf",
                    "[Bootstrap]\nPackages=systemd dbus-broker\nKeepProxy=yes\nProxy=http://10.0.0.1:3142\n"
                    "[Cache]\nDirectory=/srv/cache\n"
                    "[debian]\nArchiveMirror=http://old/\nArchiveMirror=\nArchiveSecurityMirror=\nArchiveKeyring=\n"
                    "PortsMirror=https://ports/\nSecurityMirror=file:///srv/sec\nKeyring=/k.gpg\nPackage=my-keyring\n");
        assert_int_equal(strv_extend(&files, f), 0);
        assert_int_equal(global_config_load(files, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_true(c->keep_proxy);
        assert_string_equal(c->proxy, "http://10.0.0.1:3142");
        assert_string_equal(c->cache_dir, "/srv/cache");
        _cleanup_free_ char *pkgs = strv_join(c->base_packages, " ");
        assert_string_equal(pkgs, "systemd dbus-broker");
        dd = global_config_distro(c, "debian");
        assert_non_null(dd);
        assert_null(dd->archive_mirror);
        assert_null(dd->archive_security_mirror);
        assert_null(dd->archive_keyring);
        assert_string_equal(dd->ports_mirror, "https://ports/");
        assert_string_equal(dd->security_mirror, "file:///srv/sec");
        assert_string_equal(dd->keyring, "/k.gpg");
        assert_string_equal(dd->keyring_package, "my-keyring");
        assert_null(global_config_distro(c, "ubuntu"));
        tests_rm_rf(root);
}

/* A file that is not there or cannot be parsed is an error naming it; the others still count. */
static void test_unreadable_files(void **state) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *none = path_in(root, "none.conf"), *bad = path_in(root, "bad.conf");

        tests_write(root, "bad.conf", "[Bootstrap\nProxy=none\n");
        assert_int_equal(strv_extend(&files, none), 0);
        assert_int_equal(strv_extend(&files, bad), 0);
        assert_int_equal(global_config_load(files, &c, &d), -EBADMSG);
        assert_null(c);
        assert_int_equal(diagnostics_count(&d, LOG_ERR), 2);
        assert_string_equal(d.items[0].file, none);
        assert_non_null(strstr(d.items[0].message, "Cannot parse: "));
        assert_string_equal(d.items[1].file, bad);
        assert_non_null(strstr(d.items[1].message, "Cannot parse: "));
        tests_rm_rf(root);
}

/* The file list: vendor, main, drop-ins sorted; missing ones left out; hidden and other names ignored. */
static void test_file_list(void **state) {
        _cleanup_strv_free_ char **files = NULL, **none = NULL;
        _cleanup_free_ char *root = tests_mkdtemp(), *etc = path_in(root, "etc"), *vendor = path_in(root, "vendor.conf");

        tests_write(root, "etc/machinespawn.conf.d/b.conf", "");
        tests_write(root, "etc/machinespawn.conf.d/a.conf", "");
        tests_write(root, "etc/machinespawn.conf.d/.hidden.conf", "");
        tests_write(root, "etc/machinespawn.conf.d/c.conf~", "");
        assert_int_equal(global_config_files(vendor, etc, &files), 0);
        assert_int_equal(strv_length(files), 2);
        assert_non_null(endswith(files[0], "/machinespawn.conf.d/a.conf"));
        assert_non_null(endswith(files[1], "/machinespawn.conf.d/b.conf"));

        /* from the environment, through Paths */
        tests_write(root, "vendor.conf", "");
        tests_write(root, "etc2/machinespawn.conf", "");
        _cleanup_free_ char *etc2 = path_in(root, "etc2");
        setenv("MACHINESPAWN_VENDOR_CONF", vendor, 1);
        setenv("MACHINESPAWN_SYSCONFDIR", etc2, 1);
        const Paths *paths = tests_paths();
        assert_int_equal(global_config_files(paths->vendor_conf, paths->sysconf_dir, &none), 0);
        unsetenv("MACHINESPAWN_VENDOR_CONF");
        unsetenv("MACHINESPAWN_SYSCONFDIR");
        assert_int_equal(strv_length(none), 2);
        assert_string_equal(none[0], vendor);
        assert_non_null(endswith(none[1], "/etc2/machinespawn.conf"));
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shipped_defaults),
                cmocka_unit_test(test_overrides_in_order),
                cmocka_unit_test(test_bad_values_name_file_line_key),
                cmocka_unit_test(test_archive_keys),
                cmocka_unit_test(test_each_bad_value),
                cmocka_unit_test(test_every_key),
                cmocka_unit_test(test_unreadable_files),
                cmocka_unit_test(test_file_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
