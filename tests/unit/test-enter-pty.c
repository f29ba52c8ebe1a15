/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* enter_run_in_pty() on a terminal of the test's own: the command gets a terminal of its own, its output
 * comes through, input reaches it, its exit status comes back; without a terminal, -ENOTTY. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests.h"

#include "enter.h"
#include "fileio.h"

/* Runs enter_run_in_pty(argv) in a child whose stdin and stdout are the slave of a pseudo terminal;
 * input is written to the master first. Returns what came out on the master; *ret_exit the child's exit
 * status, which is the command's status as enter_run_in_pty() reported it. sig: sent to the child (after a
 * SIGWINCH) once the command said "ready". */
static char *run_on_terminal(char **argv, const char *input, int sig, int *ret_exit) {
        char name[64], buf[4096], *out = NULL;
        size_t size = 0;
        int master, slave, status;
        pid_t pid;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(master >= 0);
        assert_int_equal(unlockpt(master), 0);
        assert_int_equal(ptsname_r(master, name, sizeof name), 0);
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        assert_true(slave >= 0);

        fflush(stdout);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int st = -1, r;
                if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0)
                        _exit(200);
                r = enter_run_in_pty(argv, (uid_t) -1, &st);
                /* exit(), not _exit(): a coverage build writes its counts at exit */
                exit(r < 0 ? 201 : st);
        }
        close(slave);
        if (input)
                assert_int_equal(write(master, input, strlen(input)), (ssize_t) strlen(input));
        /* everything until the child is gone and the terminal is closed */
        for (;;) {
                struct pollfd p = { .fd = master, .events = POLLIN };
                ssize_t k;

                if (poll(&p, 1, 10000) <= 0)
                        break;
                k = read(master, buf, sizeof buf);
                if (k <= 0)
                        break;
                out = realloc(out, size + k + 1);
                assert_non_null(out);
                memcpy(out + size, buf, k);
                size += k;
                out[size] = 0;
                if (sig && strstr(out, "ready")) {
                        assert_int_equal(kill(pid, SIGWINCH), 0);
                        assert_int_equal(kill(pid, sig), 0);
                        sig = 0;
                }
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        *ret_exit = WEXITSTATUS(status);
        close(master);
        return out ?: strdup("");
}

static void test_status_and_output(void **state) {
        _cleanup_free_ char *out = NULL;
        int st;

        /* a terminal of its own (not ours), the output through, the status back */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c",
                                           (char *) "[ -t 0 ] && [ -t 1 ] && echo on-a-terminal; exit 7", NULL },
                              NULL, 0, &st);
        print_message("out: %s\n", out);
        assert_int_equal(st, 7);
        assert_non_null(strstr(out, "on-a-terminal"));
        out = mfree(out);

        /* input reaches it */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "read l; echo got-$l", NULL },
                              "word\n", 0, &st);
        print_message("out: %s\n", out);
        assert_int_equal(st, 0);
        assert_non_null(strstr(out, "got-word"));
        out = mfree(out);

        /* killed by a signal: 128 + its number */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "kill -TERM $$", NULL }, NULL,
                              0, &st);
        assert_int_equal(st, 128 + SIGTERM);
        out = mfree(out);

        /* a command that cannot be run */
        out = run_on_terminal((char *[]) { (char *) "/nonexistent/command", NULL }, NULL, 0, &st);
        assert_int_equal(st, 127);
        out = mfree(out);

        /* a signal sent to us goes on to the command; a window size change does not end it */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "echo ready; exec sleep 20", NULL },
                              NULL, SIGTERM, &st);
        assert_int_equal(st, 128 + SIGTERM);
}

static void test_not_a_terminal(void **state) {
        int fds[2], saved, st = -1;

        /* stdin a pipe: nothing to hand over */
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        saved = dup(STDIN_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fds[0], STDIN_FILENO) >= 0);
        assert_int_equal(enter_run_in_pty((char *[]) { (char *) "true", NULL }, (uid_t) -1, &st), -ENOTTY);
        assert_true(dup2(saved, STDIN_FILENO) >= 0);
        close(saved);
        close(fds[0]);
        close(fds[1]);
        assert_int_equal(st, -1);
}

static void test_host_uid_of_no_machine(void **state) {
        uid_t u = 4242;

        assert_int_equal(enter_machine_host_uid("no-such-machine-here", 1000, &u), -ESRCH);
        assert_int_equal(u, 4242);
}

/* machined's record of a machine, in a /run of the child's own (a private mount namespace, root only): its
 * leader's uid_map gives the UID. The leader here is the test itself, mapped one to one. */
static void host_uid_child(void) {
        char rec[128];
        uid_t u = 4242;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", "/run", "tmpfs", 0, "mode=0755,size=1m") < 0 || mkdir("/run/systemd", 0755) < 0 ||
            mkdir("/run/systemd/machines", 0755) < 0)
                exit(90);
        snprintf(rec, sizeof rec, "# machined\nSCOPE=machine-m.scope\nLEADER=%d\nCLASS=container\n", (int) getpid());
        if (write_file_atomic("/run/systemd/machines/m", rec, strlen(rec), 0644, 0) < 0 ||
            write_file_atomic("/run/systemd/machines/one", "LEADER=1\n", 9, 0644, 0) < 0 ||
            write_file_atomic("/run/systemd/machines/none", "SCOPE=x\n", 8, 0644, 0) < 0)
                exit(91);
        if (enter_machine_host_uid("m", 1000, &u) != 0 || u != 1000)
                exit(92);
        /* not the host's init, and a record without a leader */
        if (enter_machine_host_uid("one", 1000, &u) != -ESRCH || enter_machine_host_uid("none", 1000, &u) != -ESRCH)
                exit(93);
        exit(0);
}

static void test_host_uid_from_record(void **state) {
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                tests_skip_part("reading machined's record needs a /run of our own: root only");
                return;
        }
        fflush(stdout);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                host_uid_child();
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_and_output),
                cmocka_unit_test(test_not_a_terminal),
                cmocka_unit_test(test_host_uid_of_no_machine),
                cmocka_unit_test(test_host_uid_from_record),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
