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
        /* a terminal: our own pseudo terminal handed over as a pipe would be, with our $TERM */
        o.tty = true;
        o.term = "xterm-256color";
        _cleanup_free_ char *pty = line(&o);
        assert_string_equal(pty, "systemd-run --machine=desk --quiet --wait --collect --property=WorkingDirectory=-~ "
                                 "--pipe --uid=alice --setenv=DISPLAY=:0 --setenv=TERM=xterm-256color "
                                 "/usr/bin/env -- false --x");
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

/* the [User] user's command: pkexec, our helper, the name, the command as given (pkexec and the helper pass
 * it on; the helper escapes it as root's enter does) */
static void test_pkexec_line(void **state) {
        _cleanup_strv_free_ char **argv = NULL, **wait = NULL, **none = NULL;
        char *cmd[] = { (char *) "echo", (char *) "$HOME", (char *) "--wait", NULL };

        assert_int_equal(enter_pkexec_command_line("desk", false, cmd, &argv), 0);
        _cleanup_free_ char *s = strv_join(argv, " ");
        assert_string_equal(s, "pkexec --disable-internal-agent " ENTER_HELPER " desk -- echo $HOME --wait");
        assert_int_equal(enter_pkexec_command_line("desk", true, cmd, &wait), 0);
        _cleanup_free_ char *w = strv_join(wait, " ");
        assert_string_equal(w, "pkexec --disable-internal-agent " ENTER_HELPER " desk --wait -- echo $HOME --wait");
        assert_int_equal(enter_pkexec_command_line("desk", false, (char *[]) { NULL }, &none), -EINVAL);
        assert_int_equal(enter_pkexec_command_line("../x", false, cmd, &none), -EINVAL);
        assert_null(none);
}

static void test_helper_parse(void **state) {
        EnterHelperArgs a;
        char *plain[] = { (char *) "h", (char *) "desk", (char *) "--", (char *) "false", (char *) "--wait", NULL };
        char *wait[] = { (char *) "h", (char *) "desk", (char *) "--wait", (char *) "--", (char *) "--", NULL };

        assert_int_equal(enter_helper_parse(5, plain, &a), 0);
        assert_string_equal(a.machine, "desk");
        assert_false(a.wait);
        assert_ptr_equal(a.command, plain + 3);
        assert_int_equal(enter_helper_parse(5, wait, &a), 0);
        assert_true(a.wait);
        assert_ptr_equal(a.command, wait + 4);

        /* nothing else: no command, no "--", an option, a name that is no machine's */
        char *bad[][5] = {
                { (char *) "h", (char *) "desk", (char *) "--", NULL },
                { (char *) "h", (char *) "desk", (char *) "--wait", (char *) "--", NULL },
                { (char *) "h", (char *) "desk", (char *) "false", (char *) "x", NULL },
                { (char *) "h", (char *) "desk", (char *) "--user=root", (char *) "--", (char *) "id" },
                { (char *) "h", (char *) "--wait", (char *) "desk", (char *) "--", (char *) "id" },
                { (char *) "h", (char *) "../x", (char *) "--", (char *) "id", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int n = 0;
                while (n < 5 && bad[i][n])
                        n++;
                assert_int_equal(enter_helper_parse(n, bad[i], &a), -EINVAL);
        }
}

static void test_caller_uid(void **state) {
        uid_t u = 7;

        assert_int_equal(enter_caller_uid("1234", &u), 0);
        assert_int_equal(u, 1234);
        /* root needs no helper; anything but a plain decimal is refused */
        const char *bad[] = { NULL, "", "0", "01234", "-1", "+5", " 5", "5 ", "12x", "4294967295", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                u = 7;
                assert_int_equal(enter_caller_uid(bad[i], &u), -EINVAL);
                assert_int_equal(u, 7);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root_command),
                cmocka_unit_test(test_root_shell),
                cmocka_unit_test(test_user),
                cmocka_unit_test(test_dollar),
                cmocka_unit_test(test_pkexec_line),
                cmocka_unit_test(test_helper_parse),
                cmocka_unit_test(test_caller_uid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
