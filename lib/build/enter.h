/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* "machinespawn enter NAME [-- COMMAND...]": the command line that enters, built here so it is tested.
 *
 * As root, a command goes through "systemd-run --machine=NAME --wait", which ends with the command's exit
 * status (machinectl shell of systemd 252 drops it), with --pty when stdin and stdout are terminals (the
 * terminal's size, raw mode and ^C reach the command) and --pipe otherwise (our descriptors are handed to
 * it, so a pipe stays a pipe). The caller exec()s it, so a signal sent to "machinespawn enter" reaches
 * systemd-run, which passes it on to the unit.
 *
 * Anyone else goes through machined ("machinectl shell USER@NAME"), which asks polkit: systemd-run
 * --machine joins the machine's namespaces itself, which only root may. The [User] user is allowed by the
 * machine's rule (polkit.h). */
typedef struct EnterOptions {
        const char *machine;
        const char *user;
        char **command;  /* NULL or empty: the user's login shell */
        char **env;      /* KEY=VALUE, the session's display and audio */
        bool privileged; /* we are root */
        bool tty;        /* stdin and stdout are terminals */
} EnterOptions;

int enter_command_line(const EnterOptions *o, char ***ret);
/* "$" doubled: what reaches a transient unit's ExecStart= as the literal argument. */
char *enter_escape_dollar(const char *s);
