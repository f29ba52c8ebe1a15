/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "diag.h"
#include "machine-config.h"

/* A .mspawn that "machinespawn bootstrap" saves starts with this line; only such a file is removed with
 * its machine, a hand-written one is the administrator's. */
#define MSPAWN_SAVED_COMMENT "Written by \"machinespawn bootstrap\"."

/* Turns a model made from command-line arguments into what the generator will see: written as the writer
 * makes it (never spliced together), read back through the parser and the loader with their checks, and
 * saved as dir/NAME.mspawn (Paths.sysconf_dir) when save is true. ret_config is the model read back. Errors: -EINVAL with
 * *ret_bad_key when a value cannot be written, -EBADMSG when the loader refuses it (reasons in d), -EEXIST
 * when dir/NAME.mspawn exists and says something else (*ret_path names it). Returns 1 when it wrote the
 * file, 0 when it was there already or not saved. */
int mspawn_declare(const MachineConfig *declared, const char *dir, const char *distro_info_dir, bool save,
                   MachineConfig **ret_config, char **ret_path, const char **ret_bad_key, Diagnostics *d);

/* Removes dir/NAME.mspawn if mspawn_declare() wrote it. 1 removed, 0 absent or not ours; *ret_path names
 * the file either way. */
int mspawn_remove_saved(const char *dir, const char *name, char **ret_path);
