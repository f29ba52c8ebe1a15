/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-bootstrap NAME: makes /var/lib/machines/NAME exist, from the cache of base trees. Run by
 * machinespawn-bootstrap@NAME.service before systemd-nspawn@NAME.service; a no-op once the machine
 * exists. Progress goes to STATUS= (systemctl status) and the journal. */
#include <time.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "helper.h"
#include "log.h"
#include "machine-build.h"

static void on_progress(void *userdata, const char *status, int percent) {
        (void) sd_notifyf(false, "STATUS=%s", status);
        /* STATUS= follows every percent; the journal only every quarter */
        if (percent >= 0 && percent % 25 != 0)
                return;
        log_info("%s", status);
}

static int run(const HelperContext *ctx, bool *usage_failed) {
        const MachineConfig *c = ctx->config;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult result = {};
        BuildOptions o;
        time_t start = time(NULL);
        int r;

        build_options_init(&o);
        o.progress = on_progress;
        r = machine_build(c, ctx->global, &o, &result, &d);
        diagnostics_log(&d);
        if (r < 0) {
                (void) sd_notifyf(false, "STATUS=Failed to bootstrap %s", c->name);
                if (d.n == 0)
                        log_error_errno(r, "Failed to bootstrap %s: %m", c->name);
                return r;
        }
        if (result.existed) {
                log_debug("%s/%s exists already.", o.paths.machines_dir, c->name);
                return 0;
        }
        if (result.proxy)
                log_info("Used package proxy %s (%s).", result.proxy, result.proxy_how);
        if (result.pulled)
                log_info("Machine %s ready in %lld s, from %s (%s, %s).", c->name,
                         (long long) (time(NULL) - start), c->image.value,
                         result.not_modified ? "unchanged on the server, unpacked from the cached download"
                                             : "downloaded",
                         c->verify == VERIFY_SHA256     ? "matches the SHA-256 in Verify="
                         : c->verify == VERIFY_CHECKSUM ? "matches its SHA256SUMS"
                                                        : "not verified: Verify=no");
        else
                log_info("Machine %s ready in %lld s, from base %s%s.", c->name, (long long) (time(NULL) - start),
                         result.cache_key, result.base_built ? " (built now)" : " (cached)");
        (void) sd_notifyf(false, "STATUS=Machine %s ready", c->name);
        return 0;
}

int main(int argc, char *argv[]) {
        static const Helper helper = {
                .usage = "NAME",
                .flags = HELPER_MACHINE_NAME | HELPER_LOAD_MACHINE | HELPER_LOAD_GLOBAL,
                .run = run,
        };
        int r;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = helper_main(&helper, argc, argv);
        curl_global_cleanup();
        return r;
}
