/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "build-config.h"

/* "machinespawn enter NAME [-- COMMAND...]": the command line that enters, built here so it is tested.
 *
 * As root, a command goes through "systemd-run --machine=NAME --wait --pipe", which ends with the command's
 * exit status (machinectl shell of systemd 252 drops it) and hands our descriptors to it, so a pipe stays a
 * pipe. The caller exec()s it, so a signal sent to "machinespawn enter" reaches systemd-run. When stdin and
 * stdout are terminals, the descriptors handed over are those of a pseudo terminal of ours instead, which
 * the service manager makes the command's controlling terminal (^C reaches it), and enter_run_in_pty()
 * copies between it and ours in raw mode, the window size too ("systemd-run --pty" fails with a machine's
 * private users on systemd 252: the terminal it opens there cannot be given to the user).
 *
 * The [User] user of the machine, not being root, cannot join its namespaces, and "machinectl shell" (the
 * way machined offers through polkit) drops the exit status on systemd 252 to 262 and turns a pipe into a
 * terminal. So a command goes through pkexec(1) to ENTER_HELPER, which takes the machine's name, "--wait"
 * and the command, nothing else: it reads the user from the machine's .mspawn ([User] Name=), never from
 * its arguments, refuses anyone but that user (PKEXEC_UID, which pkexec sets), and runs the same
 * "systemd-run --uid=USER" as root does. polkit lets only that user run it for only that machine (the
 * machine's rule, polkit.h; action org.machinespawn.enter, which allows nobody by default). A shell
 * without a command still goes through "machinectl shell", as does a command where pkexec is missing. */
typedef struct EnterOptions {
        const char *machine;
        const char *user;
        char **command;  /* NULL or empty: the user's login shell */
        char **env;      /* KEY=VALUE, the session's display and audio */
        bool privileged; /* we are root */
        bool tty;        /* stdin and stdout are terminals: run it with enter_run_in_pty() */
        const char *term; /* $TERM, for tty */
} EnterOptions;

int enter_command_line(const EnterOptions *o, char ***ret);
/* Runs argv (enter_command_line() with tty) with a new pseudo terminal as its stdin, stdout and stderr,
 * copying between it and ours (in raw mode, restored at the end) and passing the window size on, until
 * argv's process ends; SIGHUP, SIGINT, SIGQUIT, SIGTERM sent to us go on to it. owner (or (uid_t) -1): who
 * owns the terminal. *ret_status: its exit
 * status, or 128 + the signal that killed it. -ENOTTY: stdin is no terminal. Should the copying fail, the
 * command's terminal is hung up (SIGHUP), the command reaped, and the error returned. */
int enter_run_in_pty(char **argv, uid_t owner, int *ret_status);
/* The UID the host sees for uid inside the running machine (its private users); -ESRCH if not running or
 * not mapped. For enter_run_in_pty()'s owner: the terminal is the user's before systemd gives it to them. */
int enter_machine_host_uid(const char *machine, uid_t uid, uid_t *ret);

/* pkexec ENTER_HELPER NAME [--wait] -- COMMAND...: what the [User] user runs for a command. wait: the
 * machine was just started, wait for it to answer. */
#define ENTER_HELPER HELPER_DIR "/machinespawn-enter"
int enter_pkexec_command_line(const char *machine, bool wait, char **command, char ***ret);

/* ENTER_HELPER's arguments, as above; -EINVAL for anything else (an invalid name, no command, an option). */
typedef struct EnterHelperArgs {
        const char *machine;
        bool wait;
        char **command;
} EnterHelperArgs;
int enter_helper_parse(int argc, char **argv, EnterHelperArgs *ret);
/* PKEXEC_UID: who ran pkexec; -EINVAL when it is no plain decimal UID (or root's, who needs no helper). */
int enter_caller_uid(const char *pkexec_uid, uid_t *ret);

/* "$" doubled: what reaches a transient unit's ExecStart= as the literal argument. */
char *enter_escape_dollar(const char *s);
