/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "diag.h"
#include "machine-build.h"
#include "tree.h"

/* 1 if systemd-nspawn holds the machine's image lock (machines_dir/.#NAME.lck, an OFD lock), i.e. it runs. */
int machine_is_running(const char *machines_dir, const char *name);

/* Removes machines_dir/NAME (or NAME.raw) and the settings machinespawn-prepare installed for it
 * (nspawn_dir/NAME.nspawn, only if it wrote it). Refuses a running machine (-EBUSY). The tree is renamed
 * to a temporary first, so it is gone at once and a crash midway leaves only a temporary that the next
 * build removes. See tree_remove() for why no host file is ever touched. What the machine exported to its
 * [User] user (export.h) and its polkit rule (polkit.h) go too. */
int machine_remove(const char *name, const BuildOptions *o, const char *nspawn_dir, RemoveStats *ret_stats,
                   Diagnostics *d);
