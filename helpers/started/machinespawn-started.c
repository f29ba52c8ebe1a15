/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-started NAME: run as ExecStartPost= of systemd-nspawn@NAME.service, once systemd-nspawn
 * reported the machine ready. It has started on its tree, so the tree a rebuild or rollback replaced
 * (/var/lib/machines/.NAME.previous) goes: "machinespawn rollback" restores it only until then. */
#include "helper.h"
#include "log.h"
#include "rebuild.h"

static int run(const HelperContext *ctx, bool *usage_failed) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        BuildOptions o;
        int r;

        build_options_init(&o);
        r = machine_started(&o, ctx->arg, NULL, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the previous tree of %s: %m", ctx->arg);
        if (r > 0)
                log_info("Machine %s started on its new tree; removed the one it replaced.", ctx->arg);
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
