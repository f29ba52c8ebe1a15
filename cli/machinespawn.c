/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn: the same machines as the generator path, by hand. */
#include <getopt.h>
#include <time.h>

#include <curl/curl.h>

#include "build-config.h"
#include "global-config.h"
#include "log.h"
#include "machine-build.h"
#include "strv.h"
#include "valid.h"

static const char *arg_verify = NULL;

static int load_global(GlobalConfig **ret) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        int r;

        r = global_config_files(NULL, NULL, &files);
        if (r < 0)
                return log_oom();
        r = global_config_load(files, ret, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");
        return 0;
}

/* A bar on a terminal, a line per phase elsewhere. */
static void on_progress(void *userdata, const char *status) {
        static char last_phase[64];
        bool tty = isatty(STDERR_FILENO);
        const char *pct = startswith(status, "Downloading ") && strchr(status, '%') ? status : NULL;

        if (pct && tty) {
                unsigned p = (unsigned) atoi(status + strlen("Downloading "));
                char bar[41];
                memset(bar, '#', p * 40 / 100);
                memset(bar + p * 40 / 100, '.', 40 - p * 40 / 100);
                bar[40] = 0;
                fprintf(stderr, "\r[%s] %3u%%", bar, p);
                if (p == 100)
                        fputc('\n', stderr);
                return;
        }
        if (pct) {
                /* not a terminal: a line at each quarter */
                unsigned p = (unsigned) atoi(status + strlen("Downloading "));
                if (p % 25 != 0 || strncmp(last_phase, status, sizeof last_phase - 1) == 0)
                        return;
        }
        snprintf(last_phase, sizeof last_phase, "%s", status);
        fprintf(stderr, "%s\n", status);
}

static int verb_pull_tar(char **args) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        const char *url = args[0], *name = args[1];
        BuildOptions o;
        int r;

        if (!url || !name || args[2]) {
                log_error("Usage: machinespawn pull-tar URL NAME [--verify=checksum|no|sha256:HEX]");
                return -EINVAL;
        }
        if (!url_is_valid(url, true))
                return log_error_errno(EINVAL, "%s is not an http://, https:// or file:/// URL.", url);
        if (!machine_name_is_valid(name))
                return log_error_errno(EINVAL, "'%s' is not a valid machine name.", name);

        c = calloc(1, sizeof(MachineConfig));
        if (!c || !(c->name = strdup(name)) || !(c->image.value = strdup(url)) ||
            !(c->source_path = strdup("(command line)")))
                return log_oom();
        c->user.sudo = c->user.display = c->user.audio = -1;
        if (!arg_verify || streq(arg_verify, "checksum"))
                c->verify = VERIFY_CHECKSUM;
        else if (streq(arg_verify, "no"))
                c->verify = VERIFY_NO;
        else if (startswith(arg_verify, "sha256:") && sha256_hex_is_valid(arg_verify + 7)) {
                c->verify = VERIFY_SHA256;
                if (!(c->verify_sha256 = strdup(arg_verify + 7)))
                        return log_oom();
        } else
                return log_error_errno(EINVAL, "--verify=%s is not one of checksum, no, sha256:<64 hex digits>.",
                                       arg_verify);

        r = load_global(&g);
        if (r < 0)
                return r;
        build_options_init(&o);
        o.progress = on_progress;
        r = machine_build(c, g, &o, &res, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r;
        if (res.existed)
                return log_error_errno(EEXIST, "Machine %s exists already in %s.", name, o.machines_dir);
        log_info("Machine %s ready in %s/%s (%s).", name, o.machines_dir, name,
                 res.not_modified ? "unchanged on the server, unpacked from the cache" : "downloaded");
        return 0;
}

static void help(void) {
        printf("machinespawn [OPTIONS...] COMMAND ...\n\n"
               "Declarative systemd-nspawn machines, by hand.\n\n"
               "Commands:\n"
               "  pull-tar URL NAME       Download a root file system tarball as machine NAME\n"
               "\nOptions:\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n"
               "     --verify=MODE        pull-tar: checksum (default), no, sha256:HEX\n"
               "\nSee machinespawn(1) and mspawn(5).\n");
}

static int run(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_VERIFY };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "verify", required_argument, NULL, ARG_VERIFY },
                {},
        };
        int c;

        log_set_prefix("machinespawn");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("machinespawn %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_VERIFY:
                        arg_verify = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind >= argc) {
                help();
                return -EINVAL;
        }
        if (streq(argv[optind], "pull-tar")) {
                if (geteuid() != 0)
                        return log_error_errno(EPERM, "pull-tar creates a machine: run it as root.");
                return verb_pull_tar(argv + optind + 1);
        }
        return log_error_errno(EINVAL, "Unknown command '%s' (see machinespawn --help).", argv[optind]);
}

int main(int argc, char *argv[]) {
        int r;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = run(argc, argv);
        curl_global_cleanup();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
