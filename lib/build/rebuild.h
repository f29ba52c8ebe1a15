/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "diag.h"
#include "global-config.h"
#include "machine-build.h"
#include "machine-config.h"

/* A rebuild makes machines_dir/.NAME.new (with state_dir/NAME.origin.new) beside the machine, carries the
 * Keep= paths over, runs the hooks in it, then exchanges it with machines_dir/NAME in one renameat2()
 * (RENAME_EXCHANGE). The old tree becomes machines_dir/.NAME.previous (state_dir/NAME.origin.previous),
 * kept for "machinespawn rollback" until the machine has started once on its new tree (machine_started()).
 * Each record names its tree ("tree=DEV:INO"),
 * so that machine_state_recover() can tell after a crash which step was reached: a killed rebuild leaves
 * the old machine, or the new one, never neither. */
#define MACHINE_NEW_SUFFIX ".new"
#define MACHINE_PREVIOUS_SUFFIX ".previous"

/* Refuses a running machine (-EBUSY) and one that does not exist (-ENOENT). */
int machine_rebuild(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, Diagnostics *d);
/* The same, for a caller that holds machine_lock(). */
int machine_rebuild_locked(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, Diagnostics *d);

/* Exchanges the machine with its previous tree (and their records): a second rollback undoes the first. */
int machine_rollback(const BuildOptions *o, const char *name, Diagnostics *d);

/* Finishes or undoes what a killed rebuild or rollback left (caller holds machine_lock()). */
int machine_state_recover(const BuildOptions *o, const char *name, Diagnostics *d);

/* Copies each Keep= path (absolute, inside the machine) from the tree old_tree to new_tree, replacing what
 * new_tree has there. Resolved inside each tree (lib/basic/chase.h); the copy (cp -a) starts from the
 * resolved parent's descriptor and never follows a link in old_tree out of it. A path old_tree lacks is a
 * warning. */
int machine_keep_copy(const char *old_tree, const char *new_tree, char **keep, Diagnostics *d);

/* Step 2 alone: .NAME.new and NAME.origin.new are complete; puts them in place. */
int machine_swap_in(const BuildOptions *o, const char *name, Diagnostics *d);

/* The paths of NAME's trees and origin records: in use, being made (.NAME.new), kept (.NAME.previous). */
typedef struct StatePaths {
        char *tree, *new_tree, *previous_tree;
        char *new_name, *previous_name; /* entries in machines_dir */
        char *origin, *new_origin, *previous_origin;
} StatePaths;

void state_paths_done(StatePaths *p);
int state_paths(const BuildOptions *o, const char *name, StatePaths *ret);

/* Removes the previous tree and its record, the record first (rollback then refuses). 1 when there was
 * one, 0 when not. */
int machine_drop_previous(const StatePaths *p, Diagnostics *d);

/* NAME has started on its tree (systemd-nspawn reported it ready, or a "machinespawn boot" ended well):
 * the tree a rebuild or rollback replaced goes. tree_id (origin_tree_id() of the tree when it started, or
 * NULL) guards against a tree exchanged since. Nothing happens while a rebuild or rollback is unfinished
 * (the record does not name the tree). Takes machine_lock(). 1 when a previous tree was dropped. */
int machine_started(const BuildOptions *o, const char *name, const char *tree_id, Diagnostics *d);

/* Removes the previous and any half-built tree of NAME with their records (machine removal). */
int machine_remove_generations(const BuildOptions *o, const char *name);

/* For tests only: $MACHINESPAWN_TEST_FAIL_AT=STEP kills the process (SIGKILL) when it reaches STEP, to
 * prove that every step can be interrupted. Steps: build, keep, hooks, drop-previous-record (inside
 * machine_drop_previous()), drop-previous, exchange, keep-previous, origin-previous, done,
 * rollback-exchange. */
void test_fail_point(const char *step);
