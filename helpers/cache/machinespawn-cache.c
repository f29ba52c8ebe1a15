/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-cache maintain|refresh|prune: the upkeep of the cache of base trees, run by
 * machinespawn-cache.service from its timer at idle priority. "prune" removes bases no machine was built
 * from for PruneUnusedAfter=, "refresh" rebuilds the bases declared machines use once they are older than
 * MaxAge=, "maintain" does both. Listing and removing bases by hand are "machinespawn list-cache" and
 * "machinespawn clean-cache", on the same library functions. Nothing here deletes or replaces a base that
 * is being built or copied from (its lock is held then). */
#include <systemd/sd-daemon.h>
#include <time.h>

#include "cache-maintain.h"
#include "cache.h"
#include "helper.h"
#include "log.h"
#include "strv.h"

static void log_keys(char **keys, const char *what) {
        STRV_FOREACH(k, keys)
                log_info("%s base %s.", what, *k);
}

static void on_progress(void *userdata, const char *status, int percent) {
        (void) sd_notifyf(false, "STATUS=%s", status);
        if (percent < 0)
                log_info("%s", status);
}

static int run(const HelperContext *ctx, bool *usage_failed) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **pruned = NULL, **refreshed = NULL;
        const GlobalConfig *g = ctx->global;
        bool prune = streq(ctx->arg, "prune") || streq(ctx->arg, "maintain"),
             refresh = streq(ctx->arg, "refresh") || streq(ctx->arg, "maintain");
        BuildOptions o;
        int r = 0, k = 0;

        if (!prune && !refresh) {
                *usage_failed = true;
                return log_error_errno(EINVAL, "Unknown operation '%s' (maintain, refresh or prune).", ctx->arg);
        }
        build_options_init(&o);
        o.progress = on_progress;
        if (prune) {
                r = cache_prune(g->cache_dir, g->prune_unused_after_sec, time(NULL), &pruned, &d);
                log_keys(pruned, "Pruned unused");
        }
        if (refresh && r != -ENOMEM) {
                k = cache_refresh_declared(g, &o, &refreshed, &d);
                log_keys(refreshed, "Refreshed");
        }
        diagnostics_log(&d);
        if (r == -ENOMEM || k == -ENOMEM)
                return log_oom();
        (void) sd_notifyf(false, "STATUS=%zu pruned, %zu refreshed", strv_length(pruned), strv_length(refreshed));
        return r < 0 ? r : k;
}

int main(int argc, char *argv[]) {
        static const Helper helper = {
                .usage = "maintain|refresh|prune",
                .flags = HELPER_LOAD_GLOBAL,
                .run = run,
        };

        return helper_main(&helper, argc, argv);
}
