/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "machine-build.h"

/* machinespawn rebuild NAME, machinespawn rollback NAME: NAME checked, run as root. */
int verb_rebuild_machine(const char *name, BuildProgress progress);
int verb_rollback_machine(const char *name);

/* "DEV:INO" of the machine's tree before it boots, or NULL. */
char *lifecycle_tree_id(const char *dir);
/* "machinespawn boot" ended with status 0: the machine has started on the tree it had when it began
 * (tree_id), so the tree a rebuild or rollback replaced goes. Logs what it did. */
void lifecycle_booted(const char *name, const char *tree_id);
