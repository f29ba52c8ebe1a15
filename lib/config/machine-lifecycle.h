/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "diag.h"
#include "machine-config.h"
#include "unit-file.h"

struct ParseContext;

void lifecycle_config_done(LifecycleConfig *l);

/* An absolute path inside a machine, written the one way: "/" then components separated by single
 * slashes, none empty, "." or "..", no trailing slash, not "/" itself, shorter than PATH_MAX. */
bool machine_path_is_valid(const char *p);

/* Copy=SOURCE:DEST split at the first ":", both valid absolute paths (SOURCE on the host). */
int copy_spec_split(const char *spec, char **ret_source, char **ret_dest);

/* The [Machine] parsers of the table in machine-config.c: Keep= (paths, space separated, adds), Run= and
 * RunOnStart= (one command per assignment, adds), Copy= (one SOURCE:DEST per assignment, adds),
 * RebuildOnChange= and RemoveUnlistedPackages= (booleans). An empty value resets. */
int lifecycle_parse_keep(const UnitAssignment *a, void *field, struct ParseContext *ctx, Diagnostics *d);
int lifecycle_parse_command(const UnitAssignment *a, void *field, struct ParseContext *ctx, Diagnostics *d);
int lifecycle_parse_copy(const UnitAssignment *a, void *field, struct ParseContext *ctx, Diagnostics *d);
