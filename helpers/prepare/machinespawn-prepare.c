/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn-prepare NAME: run as ExecStartPre= of systemd-nspawn@NAME.service. Installs the machine's
 * systemd.nspawn(5) settings from its .mspawn where systemd-nspawn reads them when it starts. */
#include <time.h>

#include "build-config.h"
#include "chase.h"
#include "export.h"
#include "fileio.h"
#include "generator.h"
#include "gpu.h"
#include "helper.h"
#include "log.h"
#include "machine-build.h"
#include "oci-image.h"
#include "oci-ref.h"
#include "nspawn-settings.h"
#include "polkit.h"
#include "strv.h"
#include "user.h"
#include "valid.h"

typedef struct Prepared {
        const MachineConfig *c;
        const HostUser *user;
        const HostSockets *sockets;
        const GpuDevices *gpu;
} Prepared;

static int nspawn_writer(const void *userdata, FILE *f) {
        const Prepared *p = userdata;
        int r = nspawn_settings_write(p->c, p->user, p->sockets, f);
        /* GPU=yes: a [Files] section of its own after the rest (systemd reads a section given twice as one) */
        return r < 0 ? r : gpu_nspawn_settings_write(p->gpu, f);
}

/* [User] GPU=yes: the host's device nodes now, and the NVIDIA driver's libraries where it has nodes. */
static int find_gpu(const MachineConfig *c, const Paths *paths, GpuDevices *ret) {
        int r;

        if (!c->user.gpu)
                return 0;
        r = gpu_find_nodes(paths->dev_dir, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot look for GPU devices in %s: %m", paths->dev_dir);
        if (!ret->nodes)
                log_warning("%s: [User] GPU=yes, but %s has no GPU device nodes (dri/, nvidia*); starting without.",
                            c->source_path, paths->dev_dir);
        r = gpu_find_libraries(ret, paths->ldconfig);
        if (r < 0)
                log_warning_errno(r, "Cannot list the host's NVIDIA libraries (ldconfig -p): %m; starting without them.");
        return 0;
}

/* ExportApps=, ExportBins= and the polkit rule of the [User] user, rewritten from the .mspawn as it is now:
 * what a key no longer names goes. user NULL: no [User], all of it goes. */
static int sync_user_files(const MachineConfig *c, const Paths *p, int root_fd, const HostUser *user) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        ExportPaths paths = { .state_dir = p->state_dir, .launcher = BIN_DIR "/machinespawn" };
        ExportUser eu = {};
        const char *polkit_dir = p->polkit_dir;
        int r;

        if (user)
                eu = (ExportUser) { user->name, user->home, user->uid, user->gid };
        r = export_sync(&paths, c->name, root_fd, user ? &eu : NULL, c->user.export_apps, c->user.export_bins, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot export the apps and programs of machine %s: %m", c->name);

        r = polkit_rule_sync(polkit_dir, c->name, user ? user->name : NULL);
        if (r == -EEXIST)
                log_warning("%s/60-machinespawn-%s.rules exists and was not written by machinespawn, leaving it.",
                            polkit_dir, c->name);
        else if (r < 0)
                return log_error_errno(r, "Cannot write the polkit rule of machine %s in %s: %m", c->name,
                                       polkit_dir);
        return 0;
}

/* Display=, Audio=: the sockets of the user's live session, found now; missing ones are warnings. */
static int find_sockets(const MachineConfig *c, const HostUser *user, int root_fd, const char *root,
                        HostSockets *ret) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        int r;

        if (c->user.display > 0 || c->user.audio > 0) {
                r = host_sockets_find(user, c->user.display > 0, c->user.audio > 0, NULL, NULL, ret, &d);
                diagnostics_log(&d);
                if (r < 0)
                        return log_error_errno(r, "Cannot look for %s's session sockets: %m", user->name);
        }
        r = machine_write_session_env(root_fd, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot write the session environment into %s: %s", root,
                                       chase_strerror(r));
        return 0;
}

/* [User]: the host user in the machine, as the host has it now (a changed UID is followed). Everything in
 * the tree goes through chase.h: the machine's root owns it. */
static int provision_user(const MachineConfig *c, int root_fd, const char *root, HostUser *ret) {
        const char *failed = NULL;
        int r;

        r = host_user_lookup(c->user.name, ret);
        if (r == -ESRCH)
                return log_error_errno(r, "%s: [User] Name=%s: no such user on this host.", c->source_path,
                                       c->user.name);
        if (r < 0)
                return log_error_errno(r, "Cannot look up user %s: %m", c->user.name);
        r = machine_provision_user_at(root_fd, ret, c->user.groups, c->user.sudo > 0, &failed);
        if (r < 0)
                return log_error_errno(r, "Cannot provision user %s in %s: %s%s%s", c->user.name, root,
                                       failed ?: "", failed ? ": " : "", chase_strerror(r));
        log_debug("User %s (%u) provisioned in %s.", ret->name, (unsigned) ret->uid, root);
        return 1;
}

static int run(const HelperContext *ctx, bool *usage_failed) {
        const MachineConfig *c = ctx->config;
        _cleanup_(host_user_done) HostUser user = {};
        _cleanup_(host_sockets_done) HostSockets sockets = {};
        _cleanup_(gpu_devices_done) GpuDevices gpu = {};
        _cleanup_free_ char *content = NULL, *path = NULL, *etc_path = NULL;
        _cleanup_(oci_exec_freep) OciExec *oci = NULL;
        MachineConfig with_image;
        int r;

        /* a machine pulled from a registry: its image's Env, WorkingDir, User, Entrypoint and Cmd */
        if (oci_ref_is_docker(c->image.value)) {
                BuildOptions o = { .paths = *ctx->paths };
                r = machine_oci_exec_load(&o, c->name, &oci);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the image settings of machine %s: %m", c->name);
        }
        with_image = *c;
        with_image.oci = oci;

        if (c->user.name) {
                _cleanup_free_ char *root = strjoin(ctx->paths->machines_dir, "/", c->name);
                _cleanup_close_ int root_fd = -EBADF;

                if (!root)
                        return log_oom();
                root_fd = chase_root_open(root);
                if (root_fd < 0)
                        return log_error_errno(root_fd, "Cannot open the tree of machine %s at %s: %s", c->name, root,
                                               root_fd == -ELOOP ? "it is a symbolic link, refused" : chase_strerror(root_fd));
                r = provision_user(c, root_fd, root, &user);
                if (r < 0)
                        return r;
                r = find_sockets(c, &user, root_fd, root, &sockets);
                if (r < 0)
                        return r;
                r = sync_user_files(c, ctx->paths, root_fd, &user);
                if (r < 0)
                        return r;
        } else {
                r = sync_user_files(c, ctx->paths, -EBADF, NULL);
                if (r < 0)
                        return r;
        }
        r = find_gpu(c, ctx->paths, &gpu);
        if (r < 0)
                return r;
        Prepared prepared = { &with_image, user.name ? &user : NULL, &sockets, &gpu };
        r = write_to_string(nspawn_writer, &prepared, &content);
        if (r == -EINVAL)
                /* a host home, session socket or device path, or an image's value, that systemd would read
                 * differently in a .nspawn */
                return log_error_errno(r, "Machine '%s': a host path of [User] or a value of its image's "
                                       "config cannot be written into its .nspawn settings (control characters, "
                                       "':', both kinds of quotes, or a trailing backslash).", c->name);
        if (r < 0)
                return log_oom();

        if (asprintf(&path, "%s/%s.nspawn", ctx->paths->nspawn_dir, c->name) < 0 ||
            asprintf(&etc_path, "/etc/systemd/nspawn/%s.nspawn", c->name) < 0)
                return log_oom();

        r = mkdir_p(ctx->paths->nspawn_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Failed to create %s: %m", ctx->paths->nspawn_dir);
        r = write_file_atomic(path, content, strlen(content), 0644, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);

        if (access(etc_path, F_OK) >= 0)
                log_warning("%s exists and takes precedence over the settings from %s.", etc_path,
                            c->source_path);
        log_debug("Wrote %s.", path);
        return 0;
}

int main(int argc, char *argv[]) {
        static const Helper helper = {
                .usage = "NAME",
                .flags = HELPER_MACHINE_NAME | HELPER_LOAD_MACHINE,
                .run = run,
        };

        return helper_main(&helper, argc, argv);
}
