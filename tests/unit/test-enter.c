/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "enter.h"
#include "strv.h"

static char *line(const EnterOptions *o) {
        _cleanup_strv_free_ char **argv = NULL;
        assert_int_equal(enter_command_line(o, &argv), 0);
        char *s = strv_join(argv, " ");
        assert_non_null(s);
        return s;
}

static void test_root_command(void **state) {
        EnterOptions o = {
                .machine = "desk",
                .user = "alice",
                .command = (char *[]) { (char *) "false", (char *) "--x", NULL },
                .env = (char *[]) { (char *) "DISPLAY=:0", NULL },
                .privileged = true,
        };
        _cleanup_free_ char *pipe = line(&o);
        assert_string_equal(pipe, "systemd-run --machine=desk --quiet --wait --collect --property=WorkingDirectory=-~ "
                                  "--pipe --uid=alice --setenv=DISPLAY=:0 /usr/bin/env -- false --x");
        o.tty = true;
        _cleanup_free_ char *pty = line(&o);
        assert_string_equal(pty, "systemd-run --machine=desk --quiet --wait --collect --property=WorkingDirectory=-~ "
                                 "--pty --uid=alice --setenv=DISPLAY=:0 /usr/bin/env -- false --x");
}

static void test_root_shell(void **state) {
        EnterOptions o = { .machine = "desk", .user = "alice", .privileged = true, .tty = true };
        _cleanup_free_ char *s = line(&o);
        assert_string_equal(s, "machinectl shell --quiet alice@desk");
}

/* not root: machined and polkit, never systemd-run --machine (which needs to join namespaces) */
static void test_user(void **state) {
        EnterOptions o = {
                .machine = "desk",
                .user = "alice",
                .command = (char *[]) { (char *) "id", (char *) "-un", NULL },
        };
        _cleanup_free_ char *s = line(&o);
        assert_string_equal(s, "machinectl shell --quiet alice@desk /bin/sh -lc exec /usr/bin/env -- \"$$@\" sh id -un");
        o.command = NULL;
        _cleanup_free_ char *sh = line(&o);
        assert_string_equal(sh, "machinectl shell --quiet alice@desk");
}

/* the service manager expands $NAME in ExecStart=: every "$" of the command reaches it doubled, the
 * environment (--setenv, not expanded) as it is */
static void test_dollar(void **state) {
        EnterOptions o = {
                .machine = "desk",
                .user = "alice",
                .command = (char *[]) { (char *) "echo", (char *) "$(id)", (char *) "${HOME}$", (char *) "$$", NULL },
                .env = (char *[]) { (char *) "A=$x", NULL },
                .privileged = true,
        };
        _cleanup_free_ char *s = line(&o);
        assert_string_equal(s, "systemd-run --machine=desk --quiet --wait --collect --property=WorkingDirectory=-~ "
                               "--pipe --uid=alice --setenv=A=$x /usr/bin/env -- echo $$(id) $${HOME}$$ $$$$");
        o.privileged = false;
        _cleanup_free_ char *u = line(&o);
        assert_string_equal(u, "machinectl shell --quiet --setenv=A=$x alice@desk /bin/sh -lc exec /usr/bin/env -- \"$$@\" sh "
                               "echo $$(id) $${HOME}$$ $$$$");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root_command),
                cmocka_unit_test(test_root_shell),
                cmocka_unit_test(test_user),
                cmocka_unit_test(test_dollar),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
