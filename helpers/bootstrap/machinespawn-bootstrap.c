/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-bootstrap NAME: makes /var/lib/machines/NAME exist, from the cache of base trees. Run by
 * machinespawn-bootstrap@NAME.service before systemd-nspawn@NAME.service; a no-op once the machine
 * exists. Progress goes to STATUS= (systemctl status) and the journal. */
#include <time.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "global-config.h"
#include "log.h"
#include "machine-build.h"
#include "mspawn-load.h"
#include "strv.h"
#include "valid.h"

/* Exit status 2 for a usage error, as machinespawn(1) has it. */
#define EXIT_USAGE 2
static bool usage_failed = false;

static void on_progress(void *userdata, const char *status, int percent) {
        (void) sd_notifyf(false, "STATUS=%s", status);
        /* STATUS= follows every percent; the journal only every quarter */
        if (percent >= 0 && percent % 25 != 0)
                return;
        log_info("%s", status);
}

static int run(int argc, char *argv[]) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult result = {};
        _cleanup_strv_free_ char **conf_files = NULL;
        BuildOptions o;
        time_t start = time(NULL);
        int r;

        log_set_prefix("machinespawn-bootstrap");
        if (argc == 2 && streq(argv[1], "--version")) {
                printf("machinespawn %s\n", PROJECT_VERSION);
                return 0;
        }
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "Usage: %s NAME\n", program_invocation_short_name);
                usage_failed = true;
                return -EINVAL;
        }
        /* before NAME becomes a path anywhere */
        if (!machine_name_is_valid(argv[1])) {
                usage_failed = true;
                return log_error_errno(EINVAL, "Not a valid machine name: %s.",
                                       machine_name_invalid_reason(argv[1]));
        }

        build_options_init(&o);
        r = mspawn_load_by_name(argv[1], time(NULL), &o.paths, &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' has no usable .mspawn.", argv[1]);
        if (!c)
                return log_error_errno(ENOENT, "Machine '%s' is masked.", argv[1]);

        r = global_config_files(o.paths.vendor_conf, o.paths.sysconf_dir, &conf_files);
        if (r < 0)
                return log_oom();
        diagnostics_done(&d);
        r = global_config_load(conf_files, &g, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");

        o.progress = on_progress;
        diagnostics_done(&d);
        r = machine_build(c, g, &o, &result, &d);
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
        int r;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = run(argc, argv);
        curl_global_cleanup();
        if (usage_failed)
                return EXIT_USAGE;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
