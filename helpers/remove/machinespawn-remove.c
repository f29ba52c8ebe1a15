/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-remove NAME: stops the machine if systemd runs it, then removes its tree and the nspawn
 * settings generated for it. Never leaves the tree's file system, never follows a link out of it. */
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "log.h"
#include "machine-remove.h"
#include "strv.h"
#include "tree.h"
#include "valid.h"

/* Exit status 2 for a usage error, as machinespawn(1) has it. */
#define EXIT_USAGE 2
static bool usage_failed = false;

/* Under systemd the machine is systemd-nspawn@NAME.service: stop it the normal way. */
static int stop_machine(const char *name) {
        _cleanup_free_ char *unit = strjoin("systemd-nspawn@", name, ".service");
        int r;

        if (!unit)
                return -ENOMEM;
        if (sd_booted() <= 0 || access("/run/dbus/system_bus_socket", F_OK) < 0)
                return 0;
        r = spawn_wait((char *[]) { (char *) "systemctl", (char *) "stop", unit, NULL }, NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

static int run(int argc, char *argv[]) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        RemoveStats stats = {};
        BuildOptions o;
        int r;

        log_set_prefix("machinespawn-remove");
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: %s NAME\n", program_invocation_short_name);
                usage_failed = true;
                return -EINVAL;
        }
        if (!machine_name_is_valid(argv[1])) {
                usage_failed = true;
                return log_error_errno(EINVAL, "Not a valid machine name: %s.",
                                       machine_name_invalid_reason(argv[1]));
        }

        build_options_init(&o);
        r = stop_machine(argv[1]);
        if (r < 0)
                return log_error_errno(r, "Failed to stop systemd-nspawn@%s.service: %m", argv[1]);

        r = machine_remove(argv[1], &o, o.paths.nspawn_dir, &stats, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r;
        log_info("Removed machine %s (%llu files, %llu directories%s).", argv[1], (unsigned long long) stats.files,
                 (unsigned long long) stats.dirs, stats.mounts_detached ? ", mounts inside detached, not entered" : "");
        return 0;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (usage_failed)
                return EXIT_USAGE;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
