/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-generator: every NAME.mspawn becomes a drop-in for systemd-nspawn@NAME.service plus the
 * links its [Install] section asks for. See systemd.generator(7) and mspawn(5). */
#include <getopt.h>
#include <time.h>

#include "build-config.h"
#include "diag.h"
#include "generator.h"
#include "log.h"
#include "mspawn-load.h"
#include "unit-file.h"
#include "strv.h"

static bool arg_dry_run = false;
static const char *arg_dest = NULL;

static void help(void) {
        printf("%s [OPTIONS...] [NORMAL-DIR [EARLY-DIR LATE-DIR]]\n\n"
               "Generate systemd units for the machines declared in *.mspawn files.\n\n"
               "  -h --help       Show this help\n"
               "     --version    Show package version\n"
               "     --dry-run    Print what would be written instead of writing it\n"
               "\nSee the mspawn(5) and machinespawn-generator(8) man pages for details.\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_DRY_RUN };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                {},
        };
        int c, n;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("machinespawn %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_DRY_RUN:
                        arg_dry_run = true;
                        break;
                default:
                        return -EINVAL;
                }

        n = argc - optind;
        if (arg_dry_run && n == 0)
                return 1;
        if (n != 1 && n != 3)
                return log_error_errno(EINVAL, "Expected one or three output directories, got %i.", n);
        arg_dest = argv[optind];
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_strv_free_ char **search_path = NULL, **names = NULL;
        _cleanup_(output_plan_done) OutputPlan plan = {};
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_free_ char *failed_path = NULL;
        GeneratorPaths paths = {
                .helperdir = HELPER_DIR,
                .unitdir = SYSTEM_UNIT_DIR,
        };
        time_t now = time(NULL);
        Paths env;
        int r, ret = 0;

        paths_from_environment(&env);
        log_set_prefix("machinespawn-generator");
        /* Under the manager ($SYSTEMD_SCOPE is set for generators) the kernel log is what survives early boot. */
        if (getenv("SYSTEMD_SCOPE") || env.log_kmsg)
                (void) log_open_kmsg();
        if (streq_ptr(getenv("SYSTEMD_LOG_LEVEL"), "debug"))
                log_set_max_level(LOG_DEBUG);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = mspawn_search_path(&env, &search_path);
        if (r < 0)
                return log_oom();
        r = mspawn_index_build(search_path, &idx);
        if (r < 0)
                return log_error_errno(r, "Failed to read the configuration directories: %m");
        r = mspawn_enumerate(&idx, &names);
        if (r < 0)
                return log_error_errno(r, "Failed to enumerate .mspawn files: %m");

        STRV_FOREACH(name, names) {
                _cleanup_(machine_config_freep) MachineConfig *c = NULL;
                _cleanup_(diagnostics_done) Diagnostics d = {};

                r = mspawn_load(&idx, *name, now, &env, &c, &d);
                diagnostics_log(&d);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        /* One bad file never stops the others. The name is a file name: never echo it raw. */
                        _cleanup_free_ char *e = unit_escape_comment(*name);
                        log_error("Machine '%s' rejected, no units generated for it.", e ?: "?");
                        ret = -EINVAL;
                        continue;
                }
                if (!c) {
                        log_debug("Machine '%s' is masked.", *name);
                        continue;
                }

                r = generator_plan_machine(c, &paths, &plan);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        log_error_errno(r, "Machine '%s': a path or value would read back differently in a unit "
                                        "file, no units generated for it: %m", *name);
                        ret = r;
                        continue;
                }
        }

        if (arg_dry_run)
                r = output_plan_print(&plan, stdout);
        else
                r = output_plan_write(&plan, arg_dest, &failed_path);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", failed_path ?: "output");

        return ret;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        log_close_kmsg();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
