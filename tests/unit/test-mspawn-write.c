/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "machine-config.h"
#include "mspawn-write.h"
#include "strv.h"

static const time_t NOW = 1795910400; /* 2026-11-29 */

/* text -> model, through the loader the generator uses */
static MachineConfig *load(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        MachineConfig *c = NULL;

        assert_non_null(buf);
        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("bread", "m.mspawn", &u, NOW, tests_paths()->distro_info_dir, &c, &d), 0);
        for (size_t i = 0; i < d.n; i++)
                fail_msg("unexpected message: %s", d.items[i].message);
        return c;
}

static void assert_strv_equal(char **a, char **b) {
        assert_int_equal(strv_length(a), strv_length(b));
        for (size_t i = 0; a && a[i]; i++)
                assert_string_equal(a[i], b[i]);
}

static void assert_ptr_string_equal(const char *a, const char *b) {
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_settings_equal(const SettingList *a, const SettingList *b) {
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                assert_string_equal(a->items[i].key, b->items[i].key);
                assert_string_equal(a->items[i].value, b->items[i].value);
        }
}

/* Every field of the model (not where each came from). */
static void assert_config_equal(const MachineConfig *a, const MachineConfig *b) {
        assert_string_equal(a->name, b->name);
        assert_ptr_string_equal(a->distribution.value, b->distribution.value);
        assert_ptr_string_equal(a->release.value, b->release.value);
        assert_ptr_string_equal(a->image.value, b->image.value);
        assert_ptr_string_equal(a->mirror.value, b->mirror.value);
        assert_ptr_string_equal(a->architecture, b->architecture);
        assert_ptr_string_equal(a->variant, b->variant);
        assert_strv_equal(a->components, b->components);
        assert_strv_equal(a->packages, b->packages);
        assert_int_equal(a->verify, b->verify);
        assert_ptr_string_equal(a->verify_sha256, b->verify_sha256);
        assert_ptr_string_equal(a->hostname, b->hostname);
        assert_ptr_string_equal(a->user.name, b->user.name);
        assert_strv_equal(a->user.groups, b->user.groups);
        assert_int_equal(a->user.home, b->user.home);
        assert_int_equal(a->user.sudo, b->user.sudo);
        assert_int_equal(a->user.display, b->user.display);
        assert_int_equal(a->user.audio, b->user.audio);
        assert_strv_equal(a->user.export_apps, b->user.export_apps);
        assert_strv_equal(a->user.export_bins, b->user.export_bins);
        assert_int_equal(a->user.gpu, b->user.gpu);
        assert_settings_equal(&a->exec, &b->exec);
        assert_settings_equal(&a->files, &b->files);
        assert_settings_equal(&a->network, &b->network);
        assert_settings_equal(&a->unit, &b->unit);
        assert_settings_equal(&a->service, &b->service);
        assert_strv_equal(a->wanted_by, b->wanted_by);
        assert_strv_equal(a->required_by, b->required_by);
}

/* model -> text -> model: the same model, and the same text again */
static void round_trip(const MachineConfig *c) {
        _cleanup_(machine_config_freep) MachineConfig *back = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        const char *bad = NULL;

        assert_int_equal(mspawn_format(c, "Written by a test.", &text, &bad), 0);
        assert_true(startswith(text, "# Written by a test.\n"));
        back = load(text);
        assert_config_equal(c, back);
        assert_int_equal(mspawn_format(back, "Written by a test.", &again, &bad), 0);
        assert_string_equal(text, again);
}

static void test_round_trip_full(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = load(
                "[Machine]\n"
                "Distribution=debian\n"
                "Release=trixie\n"
                "Architecture=arm64\n"
                "Variant=buildd\n"
                "Components=main contrib non-free-firmware\n"
                "Packages=vim less\n"
                "Packages=curl libc6:i386\n"
                "Mirror=http://mirror.example/debian\n"
                "Hostname=bread.example\n"
                "[User]\n"
                "Name=alice\n"
                "Groups=audio video\n"
                "Home=none\n"
                "Sudo=yes\n"
                "Display=no\n"
                "Audio=yes\n"
                "[Exec]\n"
                "Parameters=--foo \"bar baz\" #not-a-comment\n"
                "Environment=A=1\n"
                "[Files]\n"
                "Bind=/srv/bread:/srv\n"
                "Bind=/srv/caf\xc3\xa9:/caf\xc3\xa9\n"
                "[Network]\n"
                "VirtualEthernet=yes\n"
                "[Unit]\n"
                "Description=Bread; with a semicolon\n"
                "After=\n"
                "[Service]\n"
                "Environment=X=a\\\\b\n"
                "[Install]\n"
                "WantedBy=machines.target multi-user.target\n"
                "RequiredBy=foo@bar.service\n");

        round_trip(c);
}

static void test_round_trip_image(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = load(
                "[Machine]\n"
                "Image=https://images.example/rootfs.tar.zst\n"
                "Verify=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                "[User]\n"
                "Name=bob\n"
                "Home=bind\n"
                "ExportApps=org.example.Calc htop.desktop\n"
                "ExportBins=/usr/bin/htop\n"
                "GPU=yes\n");
        _cleanup_(machine_config_freep) MachineConfig *d = load(
                "[Machine]\nImage=file:///srv/rootfs.tar\nVerify=no\n");

        round_trip(c);
        round_trip(d);
}

/* A model built by hand, as "machinespawn bootstrap" builds it, with no file behind it. */
static MachineConfig *bootstrap_model(const char *arch) {
        MachineConfig *c = calloc(1, sizeof(MachineConfig));

        assert_non_null(c);
        c->user.sudo = c->user.display = c->user.audio = -1;
        c->name = strdup("bread");
        c->distribution.value = strdup("debian");
        c->release.value = strdup("12");
        c->architecture = arch ? strdup(arch) : NULL;
        c->variant = strdup("minbase");
        assert_int_equal(strv_split(&c->packages, "vim less", " "), 0);
        return c;
}

static void test_round_trip_bootstrap(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = bootstrap_model("amd64");
        _cleanup_free_ char *text = NULL;

        round_trip(c);
        assert_int_equal(mspawn_format(c, "Written by \"machinespawn bootstrap\".", &text, NULL), 0);
        assert_string_equal(text, "# Written by \"machinespawn bootstrap\".\n"
                                  "[Machine]\n"
                                  "Distribution=debian\n"
                                  "Release=12\n"
                                  "Architecture=amd64\n"
                                  "Variant=minbase\n"
                                  "Packages=vim less\n");
}

static void expect_refused(MachineConfig *c, const char *key) {
        _cleanup_free_ char *text = NULL;
        const char *bad = NULL;

        assert_int_equal(mspawn_format(c, NULL, &text, &bad), -EINVAL);
        assert_null(text);
        assert_non_null(bad);
        assert_string_equal(bad, key);
}

static void replace(char **field, const char *value) {
        free(*field);
        *field = strdup(value);
        assert_non_null(*field);
}

/* Values that would be read back as something else: refused, and nothing comes out. */
static void test_refused(void **state) {
        static const char *const hostile[] = {
                "amd64\n[Service]\nExecStartPre=/bin/evil", /* new lines, a section, a key */
                "amd64\r[Service]",                         /* a bare CR ends a line for systemd */
                "--foo \\",                                 /* continues into the next line */
                "--foo \\ ",                                /* the same once stripped */
                " amd64",                                   /* leading and trailing space are stripped */
                "amd64\t",
                "a\tb",    /* control characters */
                "a\x7f",
                "a\x1b[1m",
                "caf\xe9", /* not UTF-8 */
                "\xc0\xaf",
                "\xed\xa0\x80",
        };
        _cleanup_(machine_config_freep) MachineConfig *c = bootstrap_model("amd64");
        _cleanup_free_ char *text = NULL;

        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                assert_false(mspawn_value_is_writable(hostile[i]));
                replace(&c->architecture, hostile[i]);
                expect_refused(c, "Architecture");
        }
        replace(&c->architecture, "amd64");
        assert_true(mspawn_value_is_writable(""));
        assert_true(mspawn_value_is_writable("caf\xc3\xa9 \xf0\x9f\x8d\x9e"));
        assert_true(mspawn_value_is_writable("a\\\\b"));
        assert_false(mspawn_value_is_writable("a\\\\")); /* even: not a continuation, but no need to care */

        /* a list word with a blank in it would come back as two */
        replace(&c->packages[0], "vim less");
        expect_refused(c, "Packages");
        replace(&c->packages[0], "");
        expect_refused(c, "Packages");
        replace(&c->packages[0], "vim");

        /* a pass-through setting: its key as well as its value */
        c->service.items = calloc(1, sizeof(Setting));
        assert_non_null(c->service.items);
        c->service.n = 1;
        c->service.items[0].key = strdup("ExecStartPre");
        c->service.items[0].value = strdup("/bin/true\nExecStartPre=/bin/evil");
        expect_refused(c, "ExecStartPre");
        replace(&c->service.items[0].value, "/bin/true");
        replace(&c->service.items[0].key, "Exec\n[Service]\nExecStartPre");
        expect_refused(c, "Exec\n[Service]\nExecStartPre");
        replace(&c->service.items[0].key, "A=B");
        expect_refused(c, "A=B");
        replace(&c->service.items[0].key, "[Unit]");
        expect_refused(c, "[Unit]");
        replace(&c->service.items[0].key, "ExecStartPre");

        /* the comment too */
        assert_int_equal(mspawn_format(c, "x\n[Service]", &text, NULL), -EINVAL);
        assert_null(text);
        assert_int_equal(mspawn_format(c, "fine", &text, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_full),      cmocka_unit_test(test_round_trip_image),
                cmocka_unit_test(test_round_trip_bootstrap), cmocka_unit_test(test_refused),
        };
        _cleanup_free_ char *data = NULL;

        /* releases from the pinned tables, not from whatever the host has today */
        assert_true(asprintf(&data, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA") ?: "tests/data") > 0);
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
