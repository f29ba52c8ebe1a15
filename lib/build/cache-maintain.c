/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cache-maintain.h"
#include "cache.h"
#include "mspawn-load.h"
#include "strv.h"

int cache_refresh_declared(const GlobalConfig *g, const BuildOptions *o, char ***ret_refreshed, Diagnostics *d) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_strv_free_ char **search = NULL, **names = NULL, **refreshed = NULL;
        int r, ret = 0;

        refreshed = calloc(1, sizeof(char *));
        if (!refreshed || mspawn_search_path(&o->paths, &search) < 0 || mspawn_index_build(search, &idx) < 0 ||
            mspawn_enumerate(&idx, &names) < 0)
                return -ENOMEM;

        STRV_FOREACH(n, names) {
                _cleanup_(machine_config_freep) MachineConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics ignored = {};
                _cleanup_free_ char *key = NULL;

                /* a machine whose .mspawn is unusable or masked is not started either: nothing to refresh */
                r = mspawn_load(&idx, *n, time(NULL), &o->paths, &c, &ignored);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !c || c->image.value)
                        continue;
                r = machine_base_refresh(c, g, o, &key, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        ret = ret ?: r;
                        continue;
                }
                if (r > 0 && key && !strv_contains(refreshed, key) && strv_extend(&refreshed, key) < 0)
                        return -ENOMEM;
        }
        if (ret_refreshed)
                *ret_refreshed = TAKE_PTR(refreshed);
        return ret;
}

int cache_maintain(const GlobalConfig *g, const BuildOptions *o, time_t now, char ***ret_pruned,
                   char ***ret_refreshed, Diagnostics *d) {
        int r, ret;

        /* pruning first: no rebuilding what is about to go */
        ret = cache_prune(g->cache_dir, g->prune_unused_after_sec, now, ret_pruned, d);
        if (ret == -ENOMEM)
                return ret;
        r = cache_refresh_declared(g, o, ret_refreshed, d);
        return ret < 0 ? ret : r;
}
