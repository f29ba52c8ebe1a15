/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-enter NAME [--wait] -- COMMAND...: run by pkexec(1) for "machinespawn enter NAME -- COMMAND"
 * of the machine's [User] user, as root. Runs COMMAND in the running machine as that user, with the same
 * "systemd-run --machine --uid --wait" root's enter runs, so the exit status, a pipe and the terminal are
 * the command's own. Trusts nothing of the caller but the command: the user comes from the machine's
 * .mspawn, the caller's UID from PKEXEC_UID (pkexec sets it, and passes on no variable of ours), and
 * anyone but that user is refused, whatever polkit allowed (see enter.h, polkit.h). */
#include <time.h>
#include <unistd.h>

#include "build-config.h"
#include "enter.h"
#include "log.h"
#include "machine-manage.h"
#include "machine-remove.h"
#include "mspawn-load.h"
#include "strv.h"
#include "user.h"

#define EXIT_USAGE 2

/* the machine's [User] user, if that is who ran pkexec */
static int caller_is_user(const Paths *paths, const char *name, uid_t caller, char **ret_user) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(host_user_done) HostUser u = {};
        int r;

        r = mspawn_load_by_name(name, time(NULL), paths, &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' has no usable .mspawn.", name);
        if (!c || !c->user.name)
                return log_error_errno(EPERM, "Machine '%s' has no [User]: only root enters it.", name);
        r = host_user_lookup(c->user.name, &u);
        if (r < 0)
                return log_error_errno(r, "Cannot look up %s, the [User] of machine '%s': %m", c->user.name, name);
        if (u.uid != caller)
                return log_error_errno(EPERM, "Only %s, the [User] of machine '%s', enters it without root.",
                                       c->user.name, name);
        *ret_user = TAKE_PTR(u.name);
        return 0;
}

static int run(const EnterHelperArgs *a, uid_t caller, int *ret_status) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *user = NULL;
        Paths paths;
        bool tty;
        int r;

        paths_from_environment(&paths);
        r = caller_is_user(&paths, a->machine, caller, &user);
        if (r < 0)
                return r;
        /* entering never starts it here: the user's own "systemctl start" asks polkit for that */
        if (machine_is_running(paths.machines_dir, a->machine) <= 0)
                return log_error_errno(ESRCH, "Machine '%s' is not running.", a->machine);
        if (a->wait) {
                r = machine_wait_answering(a->machine, 60 * 1000);
                if (r < 0)
                        return log_error_errno(r, "Machine '%s' started but does not answer.", a->machine);
        }
        tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        r = machine_enter_argv(paths.machines_dir, a->machine, user, a->command, tty, &argv, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_oom();
        /* The caller's UID as the real one (root stays the effective and saved one): the kernel lets the
         * caller signal what it runs, so a kill of "machinespawn enter" reaches systemd-run as it does for
         * root. That, and lowering its priority, is all a real UID allows: a process whose effective UID is
         * not the caller's cannot be traced or have its limits changed, and the exec below is a secure one
         * (AT_SECURE: no LD_* or SYSTEMD_* variable is read). */
        if (setresuid(caller, 0, 0) < 0)
                return log_error_errno(errno, "Cannot set the real UID: %m");
        if (tty) {
                uid_t owner = (uid_t) -1;
                /* the [User] user has the same UID inside */
                (void) enter_machine_host_uid(a->machine, caller, &owner);
                r = enter_run_in_pty(argv, owner, ret_status);
                if (r < 0)
                        return log_error_errno(r, "Cannot run %s in a terminal: %m", argv[0]);
                return 0;
        }
        execvp(argv[0], argv);
        return log_error_errno(errno, "Cannot run %s: %m", argv[0]);
}

int main(int argc, char *argv[]) {
        EnterHelperArgs a;
        uid_t caller;

        log_set_prefix(program_invocation_short_name);
        if (argc == 2 && streq(argv[1], "--version")) {
                printf("machinespawn %s\n", PROJECT_VERSION);
                return EXIT_SUCCESS;
        }
        if (enter_helper_parse(argc, argv, &a) < 0) {
                fprintf(stderr, "Usage: %s NAME [--wait] -- COMMAND...\n", program_invocation_short_name);
                return EXIT_USAGE;
        }
        if (geteuid() != 0 || enter_caller_uid(getenv("PKEXEC_UID"), &caller) < 0) {
                log_error("This is run by pkexec for \"machinespawn enter\", as root; use that.");
                return EXIT_FAILURE;
        }
        int status = EXIT_FAILURE;
        return run(&a, caller, &status) < 0 ? EXIT_FAILURE : status;
}
