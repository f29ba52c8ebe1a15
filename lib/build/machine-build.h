/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "global-config.h"
#include "machine-config.h"
#include "paths.h"

/* status: a line for STATUS= and people; percent: of a download, or -1 for a phase change. */
typedef void (*BuildProgress)(void *userdata, const char *status, int percent);

typedef struct BuildOptions {
        Paths paths;              /* machines_dir, run_dir (per-machine locks), state_dir (origins), ... */
        BuildProgress progress;   /* phase changes, for STATUS= and progress displays */
        void *userdata;
} BuildOptions;

typedef struct BuildResult {
        bool existed;    /* nothing to do */
        bool base_built; /* this call ran the bootstrap tool */
        char *cache_key;
        char *proxy;     /* the package proxy the bootstrap went through, if any */
        bool pulled;        /* unpacked from Image= */
        bool not_modified;  /* ... from the cached download, after a 304 */
        uint64_t downloaded;
        const char *proxy_how;
} BuildResult;

void build_result_done(BuildResult *r);

/* Paths from the environment, no progress callback. */
void build_options_init(BuildOptions *o);

/* Makes machines_dir/NAME exist: from the cache (building the base first if it is missing or older than
 * the configured maximum age), then finished for this machine, then renamed into place. Safe against
 * concurrent calls for the same machine or the same base, and against being killed at any point: what is
 * left behind is temporaries that the next call removes. Failures are reported to d with a reason. */
int machine_build(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, BuildResult *ret,
                  Diagnostics *d);

/* Rebuilds the base c is built from if it is cached and older than the configured maximum age, keeping
 * its record of last use; 0 when there is nothing to do (fresh, not cached, in use, or an Image=
 * machine), 1 when rebuilt. ret_key (optional): the base's key. */
int machine_base_refresh(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, char **ret_key,
                         Diagnostics *d);

/* Takes run_dir/NAME.lock, held while a machine is built or removed; returns its fd. */
int machine_lock(const BuildOptions *o, const char *name, Diagnostics *d);

/* state_dir/NAME.origin: "base=KEY" or "image=URL", and "created=EPOCH". Not next to the machine:
 * systemd-nspawn's tmpfiles.d removes /var/lib/machines/.#* at boot. */
char *machine_origin_path(const BuildOptions *o, const char *name);

/* The Debian package that provides a missing tool, for the one-line error. */
const char *tool_package(const char *tool);

/* "/usr/bin/X" if X is an executable in $PATH. */
bool find_executable(const char *name);
