/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "global-config.h"
#include "machine-config.h"
#include "paths.h"

/* The start every helper shares: one argument, --version, usage errors with exit status 2 (as
 * machinespawn(1) has it), the machine name checked before it becomes a path anywhere, the log prefix,
 * the paths from the environment, the .mspawn and the global configuration loaded with their findings
 * logged. Links only the base and
 * configuration layers. */

typedef enum HelperFlags {
        HELPER_MACHINE_NAME = 1 << 0, /* the argument is a machine name */
        HELPER_LOAD_MACHINE = 1 << 1, /* load its .mspawn; a masked or unusable one is an error */
        HELPER_LOAD_GLOBAL = 1 << 2,  /* load machinespawn.conf */
} HelperFlags;

typedef struct HelperContext {
        const char *arg;           /* the one argument: NAME, or what the helper takes */
        const Paths *paths;
        const MachineConfig *config;
        const GlobalConfig *global;
} HelperContext;

typedef struct Helper {
        const char *usage; /* the argument in the usage line: "NAME" */
        HelperFlags flags;
        /* -EINVAL with *usage_failed set: a usage error (exit status 2) */
        int (*run)(const HelperContext *ctx, bool *usage_failed);
} Helper;

/* Returns the exit status: 0, 1 on failure, 2 on a usage error. */
int helper_main(const Helper *h, int argc, char *argv[]);
