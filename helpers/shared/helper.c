/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "build-config.h"
#include "helper.h"
#include "log.h"
#include "mspawn-load.h"
#include "strv.h"
#include "valid.h"

#define EXIT_USAGE 2

static int load_global(const Paths *paths, GlobalConfig **ret) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        int r;

        r = global_config_files(paths->vendor_conf, paths->sysconf_dir, &files);
        if (r < 0)
                return log_oom();
        r = global_config_load(files, ret, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");
        return 0;
}

static int load_machine(const Paths *paths, const char *name, MachineConfig **ret) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        int r;

        r = mspawn_load_by_name(name, time(NULL), paths, ret, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' has no usable .mspawn.", name);
        if (!*ret)
                return log_error_errno(ENOENT, "Machine '%s' is masked.", name);
        return 0;
}

int helper_main(const Helper *h, int argc, char *argv[]) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        bool usage_failed = false;
        Paths paths;
        int r;

        log_set_prefix(program_invocation_short_name);
        if (argc == 2 && streq(argv[1], "--version")) {
                printf("machinespawn %s\n", PROJECT_VERSION);
                return EXIT_SUCCESS;
        }
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: %s %s\n", program_invocation_short_name, h->usage);
                return EXIT_USAGE;
        }
        /* before NAME becomes a path anywhere */
        if ((h->flags & HELPER_MACHINE_NAME) && !machine_name_is_valid(argv[1])) {
                log_error("Not a valid machine name: %s.", machine_name_invalid_reason(argv[1]));
                return EXIT_USAGE;
        }
        paths_from_environment(&paths);
        if ((h->flags & HELPER_LOAD_MACHINE) && load_machine(&paths, argv[1], &c) < 0)
                return EXIT_FAILURE;
        if ((h->flags & HELPER_LOAD_GLOBAL) && load_global(&paths, &g) < 0)
                return EXIT_FAILURE;

        r = h->run(&(HelperContext) { .arg = argv[1], .paths = &paths, .config = c, .global = g }, &usage_failed);
        if (usage_failed)
                return EXIT_USAGE;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
