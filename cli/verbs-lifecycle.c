/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "rebuild" and "rollback": a new tree for a machine from its .mspawn, with its Keep= data, and back. */
#include <time.h>

#include "global-config.h"
#include "log.h"
#include "mspawn-load.h"
#include "origin.h"
#include "rebuild.h"
#include "strv.h"
#include "verbs-lifecycle.h"

int verb_rebuild_machine(const char *name, BuildProgress progress) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        BuildOptions o;
        time_t start = time(NULL);
        int r;

        build_options_init(&o);
        r = mspawn_load_by_name(name, time(NULL), &o.paths, &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Machine '%s' has no usable .mspawn.", name);
        if (!c)
                return log_error_errno(ENOENT, "Machine '%s' is masked or not declared.", name);
        diagnostics_done(&d);
        r = global_config_files(o.paths.vendor_conf, o.paths.sysconf_dir, &files);
        if (r < 0)
                return log_oom();
        r = global_config_load(files, &g, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");

        o.progress = progress;
        diagnostics_done(&d);
        r = machine_rebuild(c, g, &o, &d);
        diagnostics_log(&d);
        if (r < 0) {
                if (d.n == 0)
                        log_error_errno(r, "Failed to rebuild %s: %m", name);
                return r;
        }
        log_info("Rebuilt %s in %lld s; the previous tree is kept until the machine has started once on the new one "
                 "(until then, machinespawn rollback %s returns to it).", name, (long long) (time(NULL) - start),
                 name);
        return 0;
}

int verb_rollback_machine(const char *name) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        BuildOptions o;
        int r;

        build_options_init(&o);
        r = machine_rollback(&o, name, &d);
        diagnostics_log(&d);
        if (r < 0) {
                if (d.n == 0)
                        log_error_errno(r, "Failed to roll %s back: %m", name);
                return r;
        }
        log_info("Machine %s is back on its previous tree; the one it left is kept until the machine has started "
                 "once (until then, rollback again returns to it).", name);
        return 0;
}

char *lifecycle_tree_id(const char *dir) {
        char *id = NULL;

        (void) origin_tree_id(dir, &id);
        return id;
}

void lifecycle_booted(const char *name, const char *tree_id) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        BuildOptions o;
        int r;

        if (!tree_id)
                return;
        build_options_init(&o);
        r = machine_started(&o, name, tree_id, &d);
        diagnostics_log(&d);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the previous tree of %s: %m", name);
        else if (r > 0)
                log_info("Machine %s has started on its new tree; removed the one it replaced.", name);
}
