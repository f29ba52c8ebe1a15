/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <time.h>

#include "diag.h"
#include "machine-config.h"
#include "paths.h"

/* /etc/machinespawn, /run/machinespawn, /usr/local/lib/machinespawn, /usr/lib/machinespawn, earlier wins;
 * paths->config_path (colon-separated) replaces the list. */
int mspawn_search_path(const Paths *paths, char ***ret);

/* The configuration directories, listed once: what *.mspawn and *.mspawn.d each holds. */
typedef struct MspawnIndex {
        char **dirs;
        char ***entries; /* per directory, sorted */
        size_t *n_entries;
        int *dir_fds; /* -1 for a directory that does not exist */
        size_t n_dirs;
} MspawnIndex;

int mspawn_index_build(char **search_path, MspawnIndex *ret);
void mspawn_index_done(MspawnIndex *idx);

/* Every NAME for which some directory has NAME.mspawn, sorted, each once; valid or not. */
int mspawn_enumerate(const MspawnIndex *idx, char ***ret_names);

/* Finds NAME.mspawn (first directory wins) and the drop-ins NAME.mspawn.d/ *.conf of all directories (the
 * same file name in an earlier directory replaces a later one), in the order they apply.
 * Returns 0 when found, 1 when masked (empty file or symlink to /dev/null; ret_main still set), -ENOENT. */
int mspawn_find(const MspawnIndex *idx, const char *name, char **ret_main, char ***ret_dropins);

/* find + parse + interpret. Returns 0 with *ret NULL when masked. Errors were reported to d. */
int mspawn_load(const MspawnIndex *idx, const char *name, time_t now, const Paths *paths, MachineConfig **ret,
                Diagnostics *d);

/* The same for one machine, from the configured search path. */
int mspawn_load_by_name(const char *name, time_t now, const Paths *paths, MachineConfig **ret, Diagnostics *d);
