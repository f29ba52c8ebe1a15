/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "enter": a shell or a command in a running machine, as root or as the machine's [User] user (enter.h). */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "enter.h"
#include "log.h"
#include "machine-manage.h"
#include "machine-remove.h"
#include "mspawn-load.h"
#include "strv.h"
#include "user.h"
#include "verbs-enter.h"

static bool machine_is_registered(const char *name) {
        _cleanup_free_ char *p = strjoin("/run/systemd/machines/", name);
        return p && access(p, F_OK) >= 0;
}

/* Started is not yet answering: without root, machined (polkit) is asked, as a shell will. */
static int wait_for_machine_as_user(const char *name, const char *user) {
        _cleanup_free_ char *target = strjoin(user, "@", name);

        if (!target)
                return log_oom();
        for (unsigned i = 0;; i++) {
                /* its pty would put a line end on our output */
                int r = spawn_wait((char *[]) { (char *) "sh", (char *) "-c",
                                                (char *) "exec machinectl shell --quiet \"$1\" /bin/true "
                                                         ">/dev/null 2>&1 </dev/null",
                                                (char *) "sh", target, NULL },
                                   (char *[]) { (char *) "SYSTEMD_LOG_LEVEL=emerg", NULL });
                if (r == 0)
                        return 0;
                if (i >= 240)
                        return log_error_errno(ETIMEDOUT, "Machine %s started but does not answer.", name);
                (void) usleep(250 * 1000);
        }
}

static volatile sig_atomic_t child_pid;

/* what a process sent us goes on to the child; what the terminal sent, the child (in our process group)
 * got already */
static void forward_signal(int sig, siginfo_t *si, void *ctx) {
        if (child_pid > 0 && si->si_code <= 0)
                (void) kill(child_pid, sig);
}

/* Forked, not exec()ed: pkexec refuses a caller whose parent is gone (init adopted it), and our parent
 * may be init. Ends as the child ended: its exit status, or killed by the same signal. */
static int run_forwarding_signals(char **argv, int *ret_status) {
        static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };
        struct sigaction sa = { .sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Cannot fork: %m");
        if (pid == 0) {
                execvp(argv[0], argv);
                log_error_errno(errno, "Cannot run %s: %m", argv[0]);
                _exit(127);
        }
        child_pid = pid;
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void) sigaction(sigs[i], &sa, NULL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return log_error_errno(errno, "Cannot wait for %s: %m", argv[0]);
        child_pid = 0;
        if (WIFSIGNALED(status)) {
                (void) signal(WTERMSIG(status), SIG_DFL);
                (void) raise(WTERMSIG(status));
                *ret_status = 128 + WTERMSIG(status);
                return 0;
        }
        *ret_status = WEXITSTATUS(status);
        return 0;
}

/* not root, with a command: pkexec and the helper, so that the exit status is the command's (enter.h) */
static int enter_as_user(const char *name, bool wait, char **command, int *ret_status) {
        _cleanup_strv_free_ char **argv = NULL;

        if (enter_pkexec_command_line(name, wait, command, &argv) < 0)
                return log_oom();
        return run_forwarding_signals(argv, ret_status);
}

/* who the host sees as USER in the machine: root, or a host user of that name, whose UID the [User] user has
 * inside too; (uid_t) -1 when unknown (the terminal stays ours) */
static uid_t terminal_owner(const char *name, const char *user) {
        _cleanup_(host_user_done) HostUser u = {};
        uid_t inside = 0, owner = (uid_t) -1;

        if (!streq(user, "root")) {
                if (host_user_lookup(user, &u) < 0)
                        return owner;
                inside = u.uid;
        }
        (void) enter_machine_host_uid(name, inside, &owner);
        return owner;
}

int verb_enter_machine(const char *name, const char *arg_user, char **command, int *ret_status) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **argv = NULL;
        bool privileged = geteuid() == 0, running, tty, cmd = strv_length(command) > 0;
        const char *user = arg_user;
        BuildOptions o;
        int r;

        build_options_init(&o);
        /* the [User] of the machine by default, like distrobox's enter */
        if (mspawn_load_by_name(name, time(NULL), &o.paths, &c, &d) >= 0 && c && c->user.name && !user)
                user = c->user.name;
        if (!user)
                user = "root";
        /* the helper takes its user from the .mspawn alone */
        if (!privileged && cmd && (!c || !c->user.name || !streq(user, c->user.name)))
                return log_error_errno(EPERM, "Only root runs commands in machine %s as %s.", name, user);

        /* machined's record says it runs to anyone; the image lock only to root */
        running = privileged ? machine_is_running(o.paths.machines_dir, name) > 0 : machine_is_registered(name);
        if (!running) {
                /* as the [User] user, polkit lets exactly this unit start (see polkit.h) */
                r = machine_systemctl("start", name);
                if (r < 0)
                        return log_error_errno(r, "Cannot start systemd-nspawn@%s.service.", name);
                if (privileged) {
                        r = machine_wait_answering(name, 60 * 1000);
                        if (r < 0)
                                return log_error_errno(r, "Machine %s started but does not answer.", name);
                } else if (!cmd) {
                        r = wait_for_machine_as_user(name, user);
                        if (r < 0)
                                return r;
                }
        }
        if (!privileged && cmd) {
                if (find_executable("pkexec"))
                        return enter_as_user(name, !running, command, ret_status);
                log_warning("pkexec is not installed: the command's exit status is lost (apt-get install pkexec).");
                if (!running && wait_for_machine_as_user(name, user) < 0)
                        return -ETIMEDOUT;
        }

        diagnostics_done(&d);
        tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        r = machine_enter_argv(o.paths.machines_dir, name, user, command, tty, &argv, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_oom();
        if (privileged && cmd && tty) {
                r = enter_run_in_pty(argv, terminal_owner(name, user), ret_status);
                if (r < 0)
                        return log_error_errno(r, "Cannot run %s in a terminal: %m", argv[0]);
                return 0;
        }
        /* exec: the pipes, signals and the exit status are the entering command's own */
        fflush(stdout);
        execvp(argv[0], argv);
        return log_error_errno(errno, "Cannot run %s: %m", argv[0]);
}
