/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "tests.h"

#include "fileio.h"
#include "generator.h"
#include "nspawn-settings.h"
#include "oci-exec.h"
#include "strv.h"

static OciExec *sample(int boot) {
        OciExec *e = calloc(1, sizeof(OciExec));

        assert_non_null(e);
        e->environment = strv_copy((char *[]) { (char *) "PATH=/usr/bin", (char *) "A=b c", NULL });
        e->argv = strv_copy((char *[]) { (char *) "/entry", (char *) "it's", (char *) "", (char *) "a\\b", NULL });
        e->working_directory = strdup("/srv");
        e->user = strdup("daemon");
        e->boot = boot;
        return e;
}

static char *nspawn_text(const OciExec *e, const SettingList *exec, int *ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        *ret = oci_exec_write_nspawn(e, exec, f);
        fclose(f);
        return buf;
}

static void test_roundtrip(void **state) {
        _cleanup_(oci_exec_freep) OciExec *e = sample(1);
        _cleanup_(oci_exec_done) OciExec back = {};
        _cleanup_free_ char *text = NULL, *text2 = NULL;

        assert_int_equal(oci_exec_format(e, &text), 0);
        assert_string_equal(text, "boot=yes\nenv=PATH=/usr/bin\nenv=A=b c\nworkdir=/srv\nuser=daemon\narg=/entry\n"
                                  "arg=it's\narg=\narg=a\\b\n");
        assert_int_equal(oci_exec_parse(text, &back), 0);
        assert_int_equal(oci_exec_format(&back, &text2), 0);
        assert_string_equal(text, text2);

        /* a newline would read back as two values */
        free(e->user);
        e->user = strdup("a\nuser=root");
        char *bad = NULL;
        assert_int_equal(oci_exec_format(e, &bad), -EINVAL);
        assert_null(bad);
}

static void test_nspawn_run(void **state) {
        _cleanup_(oci_exec_freep) OciExec *e = sample(0);
        _cleanup_free_ char *text = NULL;
        int r;

        text = nspawn_text(e, NULL, &r);
        assert_int_equal(r, 0);
        assert_string_equal(text, "Boot=no\nEnvironment='PATH=/usr/bin'\nEnvironment='A=b c'\nWorkingDirectory=/srv\n"
                                  "User=daemon\nParameters='/entry'\nParameters=\"it's\"\nParameters=''\n"
                                  "Parameters='a\\b'\n");
}

static void test_nspawn_boot(void **state) {
        _cleanup_(oci_exec_freep) OciExec *e = sample(1);
        _cleanup_free_ char *text = NULL, *over = NULL, *forced = NULL;
        Setting no = { .key = (char *) "Boot", .value = (char *) "no" };
        Setting yes = { .key = (char *) "Boot", .value = (char *) "yes" };
        SettingList l_no = { .items = &no, .n = 1 }, l_yes = { .items = &yes, .n = 1 };
        int r;

        /* init takes over: no entrypoint */
        text = nspawn_text(e, NULL, &r);
        assert_int_equal(r, 0);
        assert_string_equal(text, "Boot=yes\nEnvironment='PATH=/usr/bin'\nEnvironment='A=b c'\n");

        /* the .mspawn's Boot=no: the image's entrypoint runs, and Boot= is left to the .mspawn's line */
        over = nspawn_text(e, &l_no, &r);
        assert_int_equal(r, 0);
        assert_null(strstr(over, "Boot="));
        assert_non_null(strstr(over, "Parameters='/entry'\n"));

        e->boot = 0;
        forced = nspawn_text(e, &l_yes, &r);
        assert_int_equal(r, 0);
        assert_null(strstr(forced, "Boot="));
        assert_null(strstr(forced, "Parameters"));
}

static void test_nspawn_unsafe(void **state) {
        _cleanup_(oci_exec_freep) OciExec *e = sample(0);
        _cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL;
        int r;

        strv_free(e->argv);
        e->argv = strv_copy((char *[]) { (char *) "both ' and \"", NULL });
        t1 = nspawn_text(e, NULL, &r);
        assert_int_equal(r, -EINVAL);
        strv_free(e->argv);
        e->argv = NULL;
        free(e->working_directory);
        e->working_directory = strdup("/srv\\");
        t2 = nspawn_text(e, NULL, &r);
        assert_int_equal(r, -EINVAL);
        free(e->working_directory);
        e->working_directory = NULL;
        strv_free(e->environment);
        e->environment = strv_copy((char *[]) { (char *) "A=\x01", NULL });
        t3 = nspawn_text(e, NULL, &r);
        assert_int_equal(r, -EINVAL);
}

/* The whole .nspawn as machinespawn-prepare writes it for a registry machine. */
static void test_settings_write(void **state) {
        _cleanup_(machine_config_freep) MachineConfig *c = calloc(1, sizeof(MachineConfig));
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        assert_non_null(c);
        c->name = strdup("web");
        c->source_path = strdup("/etc/machinespawn/web.mspawn");
        c->user.sudo = c->user.display = c->user.audio = -1;
        c->oci = sample(0);
        f = open_memstream(&buf, &size);
        assert_non_null(f);
        assert_int_equal(nspawn_settings_write(c, NULL, NULL, f), 0);
        fclose(f);
        assert_non_null(strstr(buf, "\n[Exec]\nBoot=no\nEnvironment='PATH=/usr/bin'\n"));
        assert_non_null(strstr(buf, "User=daemon\nParameters='/entry'\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_nspawn_run),
                cmocka_unit_test(test_nspawn_boot),   cmocka_unit_test(test_nspawn_unsafe),
                cmocka_unit_test(test_settings_write),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
