/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-cache list|remove KEY...|clean: the cache of base trees. Nothing here deletes a base that
 * is being built or copied from (its lock is held then). */
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"
#include "cache.h"
#include "global-config.h"
#include "log.h"
#include "paths.h"
#include "strv.h"
#include "tree.h"
#include "valid.h"

/* Exit status 2 for a usage error, as machinespawn(1) has it. */
#define EXIT_USAGE 2
static bool usage_failed = false;

static int list(const GlobalConfig *g) {
        CacheEntry *e = NULL;
        size_t n = 0;
        time_t now = time(NULL);
        int r;

        r = cache_list(g->cache_dir, &e, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", g->cache_dir);
        printf("%-48s %8s %6s %10s %s\n", "KEY", "AGE", "STATE", "SIZE", "");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = NULL;
                bool is_archive = false;
                uint64_t size = 0;
                char age[32] = "-";
                bool fresh = e[i].built > 0 && (g->max_age_sec == UINT64_MAX ||
                                                (uint64_t) (now - e[i].built) <= g->max_age_sec);

                if (cache_base(g->cache_dir, e[i].key, &p, &is_archive) >= 0) {
                        struct stat st;
                        if (is_archive && stat(p, &st) >= 0)
                                size = (uint64_t) st.st_size;
                        else if (!is_archive)
                                (void) tree_disk_usage(p, &size);
                }
                if (e[i].built > 0) {
                        long long h = (long long) (now - e[i].built) / 3600;
                        snprintf(age, sizeof age, h >= 48 ? "%lldd" : "%lldh", h >= 48 ? h / 24 : h);
                }
                printf("%-48s %8s %6s %9.1fM %s\n", e[i].key, age, fresh ? "fresh" : "stale",
                       (double) size / (1024.0 * 1024.0), e[i].busy ? "in use" : "");
        }
        cache_entries_free(e, n);
        return 0;
}

static int remove_keys(const GlobalConfig *g, char **keys, bool all) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **removed = NULL;
        int r;

        r = cache_remove_keys(g->cache_dir, all ? NULL : keys, &removed, &d);
        STRV_FOREACH(k, removed)
                log_info("Removed base %s.", *k);
        diagnostics_log(&d);
        return r;
}

static int run(int argc, char *argv[]) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        int r;

        log_set_prefix("machinespawn-cache");
        if (argc < 2 || (!streq(argv[1], "list") && !streq(argv[1], "remove") && !streq(argv[1], "clean")) ||
            (streq(argv[1], "remove") && argc < 3)) {
                fprintf(stderr, "Usage: %s list | remove KEY... | clean\n", program_invocation_short_name);
                usage_failed = true;
                return -EINVAL;
        }
        /* a KEY is one name in the cache directory, never a path out of it */
        for (int i = 2; streq(argv[1], "remove") && i < argc; i++)
                if (!cache_key_is_valid(argv[i])) {
                        usage_failed = true;
                        return log_error_errno(EINVAL, "Not a cache key (see \"%s list\"): %s",
                                               program_invocation_short_name, argv[i]);
                }
        Paths paths;
        paths_from_environment(&paths);
        r = global_config_files(paths.vendor_conf, paths.sysconf_dir, &files);
        if (r < 0)
                return log_oom();
        r = global_config_load(files, &g, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");

        if (streq(argv[1], "list"))
                return list(g);
        return remove_keys(g, argv + 2, streq(argv[1], "clean"));
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (usage_failed)
                return EXIT_USAGE;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
