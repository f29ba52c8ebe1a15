/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-bootstrap NAME: makes /var/lib/machines/NAME exist. Run by machinespawn-bootstrap@.service. */
#include <sys/stat.h>
#include <time.h>

#include "build-config.h"
#include "log.h"
#include "mspawn-load.h"
#include "strv.h"

static int run(int argc, char *argv[]) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *path = NULL;
        struct stat st;
        int r;

        log_set_prefix("machinespawn-bootstrap");
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: %s NAME\n", program_invocation_short_name);
                return -EINVAL;
        }
        r = mspawn_load_by_name(argv[1], time(NULL), &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' has no usable .mspawn.", argv[1]);
        if (!c)
                return log_error_errno(ENOENT, "Machine '%s' is masked.", argv[1]);

        if (asprintf(&path, "/var/lib/machines/%s", c->name) < 0)
                return log_oom();
        if (stat(path, &st) >= 0) {
                log_debug("%s exists already.", path);
                return 0;
        }
        return log_error_errno(EOPNOTSUPP, "Building %s is not available yet.", path);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
