/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "machine-config.h"

/* Where the installed pieces are; filled in from the build configuration. */
typedef struct GeneratorPaths {
        const char *helperdir; /* machinespawn-prepare and friends */
        const char *unitdir;   /* where systemd-nspawn@.service lives */
} GeneratorPaths;

/* One thing the generator writes, relative to its output directory: a file, or a symlink. */
typedef struct OutputEntry {
        char *path;
        char *content;     /* NULL for a symlink */
        char *link_target; /* NULL for a file */
} OutputEntry;

typedef struct OutputPlan {
        OutputEntry *items;
        size_t n, n_allocated;
} OutputPlan;

void output_plan_done(OutputPlan *p);

/* Pure: what machine c needs, appended to plan. -EINVAL when some value or path would read back
 * differently in a unit file (see unit_value_is_safe()); the parser refuses those already. */
int generator_plan_machine(const MachineConfig *c, const GeneratorPaths *paths, OutputPlan *plan);

/* The drop-in for systemd-nspawn@NAME.service, and the .nspawn settings file that machinespawn-prepare
 * installs at start time. */
int machine_dropin_write(const MachineConfig *c, const GeneratorPaths *paths, FILE *f);
struct HostUser;
struct HostSockets;
/* user: the [User] host user as looked up at start time, or NULL; sockets: what Display=/Audio= found. */
int nspawn_settings_write(const MachineConfig *c, const struct HostUser *user, const struct HostSockets *sockets,
                          FILE *f);

/* Writes every entry below dir, each atomically. On failure, carries on with the others and returns the
 * first error; ret_failed_path (if given) names the entry that failed first. */
int output_plan_write(const OutputPlan *plan, const char *dir, char **ret_failed_path);
/* "--dry-run": the same, to a stream. */
int output_plan_print(const OutputPlan *plan, FILE *f);
