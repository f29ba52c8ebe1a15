/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <time.h>

#include "diag.h"
#include "global-config.h"
#include "machine-build.h"

/* The background upkeep of the cache of base trees (machinespawn-cache.service, at idle priority). */

/* Rebuilds every cached base that a declared machine is built from and that is older than MaxAge=, so that
 * the next start does not wait for debootstrap. A base no declared machine uses is left to pruning.
 * Failures go to d and the rest carry on; ret_refreshed lists the keys rebuilt. */
int cache_refresh_declared(const GlobalConfig *g, const BuildOptions *o, char ***ret_refreshed, Diagnostics *d);

/* Prunes bases no machine was built from for PruneUnusedAfter= (cache_prune()), then refreshes the rest
 * (cache_refresh_declared()). Returns the first error. */
int cache_maintain(const GlobalConfig *g, const BuildOptions *o, time_t now, char ***ret_pruned,
                   char ***ret_refreshed, Diagnostics *d);
