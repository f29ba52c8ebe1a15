/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <poll.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "enter.h"
#include "fileio.h"
#include "macro.h"
#include "strv.h"

static int open_pty(int *ret_master, int *ret_slave) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF;
        char name[64];

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return -errno;
        if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
                return -errno;
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return -errno;
        *ret_master = TAKE_FD(master);
        *ret_slave = TAKE_FD(slave);
        return 0;
}

static int write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

static void copy_winsize(int from, int to) {
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) >= 0)
                (void) ioctl(to, TIOCSWINSZ, &ws);
}

/* what is left in the terminal once the process ended; never waits for a writer that stayed */
static void drain(int master) {
        char buf[4096];
        ssize_t k;

        (void) fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        while ((k = read(master, buf, sizeof buf)) > 0)
                if (write_all(STDOUT_FILENO, buf, (size_t) k) < 0)
                        return;
}

/* 1: the child ended (*status set), 0: go on */
static int on_signal(int sfd, int master, pid_t pid, int *status) {
        struct signalfd_siginfo si;

        if (read(sfd, &si, sizeof si) != sizeof si)
                return 0;
        if (si.ssi_signo == SIGWINCH)
                copy_winsize(STDIN_FILENO, master);
        else if (si.ssi_signo != SIGCHLD)
                (void) kill(pid, (int) si.ssi_signo);
        return waitpid(pid, status, WNOHANG) == pid;
}

static int forward(int master, int sfd, pid_t pid, int *status) {
        struct pollfd p[3] = {
                { .fd = STDIN_FILENO, .events = POLLIN },
                { .fd = master, .events = POLLIN },
                { .fd = sfd, .events = POLLIN },
        };
        char buf[4096];
        ssize_t k;

        for (;;) {
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[2].revents && on_signal(sfd, master, pid, status) > 0)
                        return 0;
                if (p[0].revents) {
                        k = read(STDIN_FILENO, buf, sizeof buf);
                        if (k > 0)
                                (void) write_all(master, buf, (size_t) k);
                        else if (k == 0 || errno != EINTR)
                                p[0].fd = -1; /* our input is gone: the command sees none, never an error */
                }
                if (p[1].revents) {
                        k = read(master, buf, sizeof buf);
                        if (k > 0)
                                (void) write_all(STDOUT_FILENO, buf, (size_t) k);
                        else if (k == 0 || errno != EINTR)
                                p[1].fd = -1; /* EIO: nobody holds the terminal any more */
                }
        }
}

/* uid of the machine's user namespace as the host sees it: the machine's leader from machined's record, its
 * uid_map from the kernel */
int enter_machine_host_uid(const char *machine, uid_t uid, uid_t *ret) {
        _cleanup_free_ char *p = strjoin("/run/systemd/machines/", machine), *rec = NULL, *map = NULL,
                            *mp = NULL;
        unsigned long long inside, outside, count;
        const char *l;
        int leader, n;

        if (!p)
                return -ENOMEM;
        if (read_full_file(p, &rec, NULL) < 0)
                return -ESRCH;
        l = strstr(rec, "\nLEADER=");
        if (!l || sscanf(l + strlen("\nLEADER="), "%d", &leader) != 1 || leader <= 1)
                return -ESRCH;
        if (asprintf(&mp, "/proc/%d/uid_map", leader) < 0)
                return -ENOMEM;
        if (read_full_file(mp, &map, NULL) < 0)
                return -ESRCH;
        for (const char *q = map; *q; q += strcspn(q, "\n"), q += *q == '\n')
                if (sscanf(q, "%llu %llu %llu%n", &inside, &outside, &count, &n) == 3 && uid >= inside &&
                    uid - inside < count) {
                        *ret = (uid_t) (outside + (uid - inside));
                        return 0;
                }
        return -ESRCH;
}

int enter_run_in_pty(char **argv, uid_t owner, int *ret_status) {
        _cleanup_close_ int master = -EBADF, slave = -EBADF, sfd = -EBADF;
        struct termios saved, raw;
        sigset_t mask, old;
        int status = 0, r;
        pid_t pid;

        if (tcgetattr(STDIN_FILENO, &saved) < 0)
                return -ENOTTY;
        r = open_pty(&master, &slave);
        if (r < 0)
                return r;
        /* the command's terminal starts as ours is, and is its user's already: systemd gives a terminal on
         * stdin to the service's user, which fails in a machine with private users for one of the host */
        (void) tcsetattr(slave, TCSANOW, &saved);
        if (owner != (uid_t) -1 && fchown(slave, owner, (gid_t) -1) < 0)
                return -errno;
        copy_winsize(STDIN_FILENO, slave);

        sigemptyset(&mask);
        for (int s = 0, sigs[] = { SIGCHLD, SIGWINCH, SIGHUP, SIGINT, SIGQUIT, SIGTERM }; s < 6; s++)
                sigaddset(&mask, sigs[s]);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return -errno;
        sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0) {
                r = -errno;
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                return r;
        }
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                return r;
        }
        if (pid == 0) {
                (void) sigprocmask(SIG_SETMASK, &old, NULL);
                if (dup2(slave, STDIN_FILENO) < 0 || dup2(slave, STDOUT_FILENO) < 0 || dup2(slave, STDERR_FILENO) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(TAKE_FD(slave));
        raw = saved;
        cfmakeraw(&raw);
        (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        r = forward(master, sfd, pid, &status);
        if (r >= 0)
                drain(master);
        else {
                /* nobody serves its terminal any more: hang it up, as a terminal that goes away does, rather
                 * than wait for a command that may wait for input (or for room for its output) for ever */
                close(TAKE_FD(master));
                (void) kill(pid, SIGHUP);
                (void) waitpid(pid, &status, 0);
        }
        (void) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        *ret_status = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        return 0;
}
