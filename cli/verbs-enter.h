/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* machinespawn enter NAME [--user=USER] [-- COMMAND...]: NAME checked. Returns only on failure, or with
 * *ret_status set to the command's exit status when it ran as a child (the [User] user's way, or in our
 * pseudo terminal). */
int verb_enter_machine(const char *name, const char *arg_user, char **command, int *ret_status);
