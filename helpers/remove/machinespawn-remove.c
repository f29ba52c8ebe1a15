/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-remove NAME: what "machinespawn remove --force NAME" does, for machinespawn-remove@NAME.service:
 * stops the machine if systemd runs it, removes its tree, the nspawn settings generated for it and the
 * .mspawn "machinespawn bootstrap" saved for it. Never leaves the tree's file system, never follows a link
 * out of it. */
#include "helper.h"
#include "log.h"
#include "machine-manage.h"

static int run(const HelperContext *ctx, bool *usage_failed) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
        BuildOptions o;
        int r;

        build_options_init(&o);
        r = machine_uninstall(ctx->arg, &o, MACHINE_UNINSTALL_STOP, &res, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r;
        log_info("Removed machine %s (%llu files, %llu directories%s).", ctx->arg,
                 (unsigned long long) res.stats.files, (unsigned long long) res.stats.dirs,
                 res.stats.mounts_detached ? ", mounts inside detached, not entered" : "");
        if (res.config_removed)
                log_info("Removed %s.", res.config_removed);
        return 0;
}

int main(int argc, char *argv[]) {
        static const Helper helper = {
                .usage = "NAME",
                .flags = HELPER_MACHINE_NAME,
                .run = run,
        };

        return helper_main(&helper, argc, argv);
}
