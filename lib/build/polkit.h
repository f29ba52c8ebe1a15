/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The [User] user enters their own machine without sudo: a polkit rule per machine that lets exactly that
 * user (the subject) open a shell as themselves (org.freedesktop.machine1.shell with the machine and user
 * in its details, what "machinectl shell USER@NAME" and "machinespawn enter NAME" ask for) or a login
 * prompt (org.freedesktop.machine1.login) in exactly that machine, run a command in it as themselves
 * (org.machinespawn.enter, pkexec(1) of ENTER_HELPER as root with the machine's name first: the details
 * "program" and "command_line" that pkexec sets, which the user cannot forge; the helper checks the user
 * against the .mspawn again, see enter.h), and start it
 * (org.freedesktop.systemd1.manage-units for verb start of systemd-nspawn@NAME.service only, so that enter
 * and exported apps start it when it is not running). Nothing else: not a shell as root or as anybody else
 * in it, not stopping it, not other machines, and nobody else gains anything.
 *
 * It lives in /etc/polkit-1/rules.d (polkit before 124 reads rules only from there and from
 * /usr/share/polkit-1/rules.d; /run came later), written and removed by machinespawn-prepare at each start
 * and removed with the machine. Paths.polkit_dir replaces the directory (tests). */

/* Pure: the rule's JavaScript. -EINVAL for a machine or user name that is not valid (nothing else could
 * end up inside the string literals). */
int polkit_rule_text(const char *machine, const char *user, char **ret);

/* Writes the rule for machine and user (NULL: removes it). A file of the same name that machinespawn did not
 * write is left alone (-EEXIST). */
int polkit_rule_sync(const char *dir, const char *machine, const char *user);
int polkit_rule_remove(const char *dir, const char *machine);
