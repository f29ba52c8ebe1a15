/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* enter_run_in_pty() on a terminal of the test's own: the command gets a terminal of its own, its output
 * comes through, input reaches it, its exit status comes back; without a terminal, -ENOTTY. Where it
 * fails (no descriptor left, no process, a terminal it cannot give away, the copying stopped), the error
 * comes back with no descriptor, child, blocked signal or changed terminal left behind. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tests.h"

#include "enter.h"
#include "fileio.h"

/* How enter_run_in_pty() is made to fail, for real: limits of the process it runs in. */
typedef enum Fault {
        FAULT_NONE,
        FAULT_OPENPT,   /* RLIMIT_NOFILE: no descriptor for the terminal's master */
        FAULT_SLAVE,    /* ... one for the master, none for the slave */
        FAULT_SIGNALFD, /* ... none for the signalfd */
        FAULT_FCHOWN,   /* not root: the terminal cannot be given to root */
        FAULT_FORK,     /* not root, RLIMIT_NPROC 0: no process for the command */
        FAULT_POLL,     /* RLIMIT_NOFILE lowered from outside once the command runs: poll() refuses */
} Fault;

static const int fault_error[] = {
        [FAULT_OPENPT] = -EMFILE, [FAULT_SLAVE] = -EMFILE, [FAULT_SIGNALFD] = -EMFILE,
        [FAULT_FCHOWN] = -EPERM, [FAULT_FORK] = -EAGAIN, [FAULT_POLL] = -EINVAL,
};

static bool same_terminal(const struct termios *a, const struct termios *b) {
        return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
               a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof a->c_cc) == 0;
}

/* Runs enter_run_in_pty(argv) under fault (the child of run_on_terminal()), and exits 0 if it failed as it
 * should and cleanly; 77 if the fault cannot be set up here. */
static void _noreturn_ faulty_child(char **argv, Fault fault, int slave) {
        struct termios before, after;
        sigset_t mask_before, mask_after;
        struct rlimit nofile;
        struct timespec t0, t1;
        uid_t owner = (uid_t) -1;
        int st = -1, r, bad = 0;

        /* only 0, 1 and 2 open: the limits below count from there */
        if ((fcntl(STDERR_FILENO, F_GETFD) < 0 && dup2(slave, STDERR_FILENO) < 0) || close_range(3, ~0U, 0) < 0 ||
            tcgetattr(STDIN_FILENO, &before) < 0 || sigprocmask(SIG_SETMASK, NULL, &mask_before) < 0 ||
            getrlimit(RLIMIT_NOFILE, &nofile) < 0)
                _exit(200);
        switch (fault) {
        case FAULT_OPENPT:
        case FAULT_SLAVE:
        case FAULT_SIGNALFD:
                if (setrlimit(RLIMIT_NOFILE, &(struct rlimit) { 3 + fault - FAULT_OPENPT, nofile.rlim_max }) < 0)
                        _exit(200);
                break;
        case FAULT_FCHOWN:
        case FAULT_FORK:
                /* root may chown and fork past any limit: nobody then */
                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                                       setresuid(65534, 65534, 65534) < 0))
                        _exit(77);
                if (fault == FAULT_FCHOWN)
                        owner = 0;
                else if (setrlimit(RLIMIT_NPROC, &(struct rlimit) { 0, 0 }) < 0)
                        _exit(200);
                break;
        default:
                break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = enter_run_in_pty(argv, owner, &st);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        (void) setrlimit(RLIMIT_NOFILE, &nofile);

        if (r != fault_error[fault])
                bad = fprintf(stderr, "returned %d (%s), not %d\n", r, strerror(-r), fault_error[fault]);
        if (st != -1)
                bad = fprintf(stderr, "set a status (%d) on failure\n", st);
        for (int fd = 3; fd < 256; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        bad = fprintf(stderr, "descriptor %d left open\n", fd);
        if (sigprocmask(SIG_SETMASK, NULL, &mask_after) < 0)
                _exit(200);
        for (int sig = 1; sig < SIGRTMIN; sig++)
                if (sigismember(&mask_before, sig) != sigismember(&mask_after, sig))
                        bad = fprintf(stderr, "signal %d left %s\n", sig,
                                      sigismember(&mask_after, sig) ? "blocked" : "unblocked");
        if (tcgetattr(STDIN_FILENO, &after) < 0 || !same_terminal(&before, &after))
                bad = fprintf(stderr, "terminal settings not restored\n");
        if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
                bad = fprintf(stderr, "a child left\n");
        /* the command stopped with the copying, not waited for until it ends by itself */
        if (t1.tv_sec - t0.tv_sec > 10)
                bad = fprintf(stderr, "took %lld s\n", (long long) (t1.tv_sec - t0.tv_sec));
        exit(bad ? 1 : 0);
}

/* Runs enter_run_in_pty(argv) in a child whose stdin and stdout are the slave of a pseudo terminal;
 * input is written to the master first. Returns what came out on the master; *ret_exit the child's exit
 * status, which is the command's status as enter_run_in_pty() reported it (with a fault: faulty_child()'s
 * verdict). sig: sent to the child (after a SIGWINCH) once the command said "ready"; with FAULT_POLL, the
 * child's descriptor limit is lowered then instead, and a line written. */
static char *run_on_terminal(char **argv, const char *input, int sig, Fault fault, int *ret_exit) {
        char name[64], buf[4096], *out = NULL;
        size_t size = 0;
        int master, slave, status;
        bool ready = false;
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
                if (fault != FAULT_NONE)
                        faulty_child(argv, fault, slave);
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
                if (!ready && strstr(out, "ready")) {
                        ready = true;
                        if (sig) {
                                assert_int_equal(kill(pid, SIGWINCH), 0);
                                assert_int_equal(kill(pid, sig), 0);
                        }
                        if (fault == FAULT_POLL) {
                                struct rlimit l;
                                assert_int_equal(getrlimit(RLIMIT_NOFILE, &l), 0);
                                assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &(struct rlimit) { 2, l.rlim_max }, NULL), 0);
                                assert_int_equal(write(master, "x\n", 2), 2);
                        }
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
                              NULL, 0, FAULT_NONE, &st);
        print_message("out: %s\n", out);
        assert_int_equal(st, 7);
        assert_non_null(strstr(out, "on-a-terminal"));
        out = mfree(out);

        /* input reaches it */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "read l; echo got-$l", NULL },
                              "word\n", 0, FAULT_NONE, &st);
        print_message("out: %s\n", out);
        assert_int_equal(st, 0);
        assert_non_null(strstr(out, "got-word"));
        out = mfree(out);

        /* killed by a signal: 128 + its number */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "kill -TERM $$", NULL }, NULL,
                              0, FAULT_NONE, &st);
        assert_int_equal(st, 128 + SIGTERM);
        out = mfree(out);

        /* a command that cannot be run */
        out = run_on_terminal((char *[]) { (char *) "/nonexistent/command", NULL }, NULL, 0, FAULT_NONE, &st);
        assert_int_equal(st, 127);
        out = mfree(out);

        /* a signal sent to us goes on to the command; a window size change does not end it */
        out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c", (char *) "echo ready; exec sleep 20", NULL },
                              NULL, SIGTERM, FAULT_NONE, &st);
        assert_int_equal(st, 128 + SIGTERM);
}

static void test_failures(void **state) {
        static const struct {
                Fault fault;
                const char *name;
        } cases[] = {
                { FAULT_OPENPT, "no descriptor for the master" },
                { FAULT_SLAVE, "no descriptor for the slave" },
                { FAULT_SIGNALFD, "no descriptor for the signalfd" },
                { FAULT_FCHOWN, "the terminal cannot be given away" },
                { FAULT_FORK, "no process for the command" },
                /* the command reads, then would outlast the test if it were waited for */
                { FAULT_POLL, "copying stopped while the command runs" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;
                int st;

                print_message("%s\n", cases[i].name);
                out = run_on_terminal((char *[]) { (char *) "sh", (char *) "-c",
                                                   (char *) "echo ready; read l; echo got-$l; exec sleep 20", NULL },
                                      NULL, 0, cases[i].fault, &st);
                print_message("out: %s\n", out);
                if (st == 77) {
                        tests_skip_part("cannot become nobody to make chown() or fork() fail");
                        continue;
                }
                assert_int_equal(st, 0);
                /* nothing ran, or it ran until the copying stopped */
                assert_true(cases[i].fault == FAULT_POLL ? strstr(out, "ready") != NULL : strstr(out, "ready") == NULL);
        }
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
                cmocka_unit_test(test_failures),
                cmocka_unit_test(test_host_uid_of_no_machine),
                cmocka_unit_test(test_host_uid_from_record),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
