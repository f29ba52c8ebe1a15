/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <unistd.h>

#include "cache.h"
#include "chase.h"
#include "enter.h"
#include "fileio.h"
#include "machine-manage.h"
#include "machine-remove.h"
#include "mspawn-load.h"
#include "mspawn-save.h"
#include "strv.h"
#include "user.h"
#include "valid.h"

bool host_has_systemd(void) {
        /* what sd_booted() checks, and the bus systemctl talks to */
        return access("/run/systemd/system/", F_OK) >= 0 && access("/run/dbus/system_bus_socket", F_OK) >= 0;
}

int machine_systemctl(const char *verb, const char *name) {
        _cleanup_free_ char *unit = strjoin("systemd-nspawn@", name, ".service");
        int r;

        if (!unit)
                return -ENOMEM;
        r = spawn_wait((char *[]) { (char *) "systemctl", (char *) verb, unit, NULL }, NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

void host_daemon_reload(void) {
        if (host_has_systemd())
                (void) spawn_wait((char *[]) { (char *) "systemctl", (char *) "daemon-reload", NULL }, NULL);
}

void machine_uninstall_result_done(MachineUninstallResult *r) {
        r->config_removed = mfree(r->config_removed);
}

int machine_uninstall(const char *name, const BuildOptions *o, MachineUninstallFlags flags, MachineUninstallResult *ret,
                      Diagnostics *d) {
        _cleanup_free_ char *config = NULL;
        int r;

        *ret = (MachineUninstallResult) {};
        if (machine_is_running(o->paths.machines_dir, name) > 0) {
                if (!(flags & MACHINE_UNINSTALL_STOP))
                        return diag_error(d, NULL, 0, EBUSY, "Machine %s is running; stop it first or use --force.",
                                          name);
                if (!host_has_systemd())
                        return diag_error(d, NULL, 0, EBUSY, "Machine %s is running outside systemd; stop it first.",
                                          name);
                r = machine_systemctl("stop", name);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot stop systemd-nspawn@%s.service: %s", name,
                                          strerror(-r));
        }

        r = machine_remove(name, o, o->paths.nspawn_dir, &ret->stats, d);
        if (r < 0)
                return r;
        if (flags & MACHINE_UNINSTALL_KEEP_CONFIG)
                return 0;
        /* the declaration too, if "bootstrap" wrote it: a hand-written one is the admin's */
        r = mspawn_remove_saved(o->paths.sysconf_dir, name, &config);
        if (r < 0)
                return diag_error(d, config, 0, r, "Cannot remove %s: %s", config ?: "the declaration", strerror(-r));
        if (r > 0) {
                host_daemon_reload();
                ret->config_removed = TAKE_PTR(config);
        }
        return 0;
}

int machine_origin_read(const BuildOptions *o, const char *name, char **ret_origin, char **ret_base_key) {
        _cleanup_free_ char *p = machine_origin_path(o, name), *text = NULL, *origin = NULL, *key = NULL;
        const char *k;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file(p, &text, NULL);
        if (r < 0)
                return r;
        origin = strndup(text, strcspn(text, "\n"));
        if (!origin)
                return -ENOMEM;
        k = startswith(origin, "base=");
        if (k && !(key = strdup(k)))
                return -ENOMEM;
        if (ret_origin)
                *ret_origin = TAKE_PTR(origin);
        if (ret_base_key)
                *ret_base_key = TAKE_PTR(key);
        return 0;
}

void machine_list_free(MachineListEntry *l, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(l[i].name);
                free(l[i].declared);
                free(l[i].origin);
        }
        free(l);
}

/* Declared machines and trees nobody declared, sorted. */
static int list_names(const BuildOptions *o, MspawnIndex *idx, char ***ret) {
        _cleanup_strv_free_ char **search = NULL, **names = NULL;
        DIR *dir;
        struct dirent *de;

        if (mspawn_search_path(&o->paths, &search) < 0 || mspawn_index_build(search, idx) < 0 ||
            mspawn_enumerate(idx, &names) < 0)
                return -ENOMEM;
        dir = opendir(o->paths.machines_dir);
        if (dir) {
                while ((de = readdir(dir)))
                        if (de->d_name[0] != '.' && de->d_type == DT_DIR && !strv_contains(names, de->d_name) &&
                            strv_extend(&names, de->d_name) < 0) {
                                closedir(dir);
                                return -ENOMEM;
                        }
                closedir(dir);
        }
        strv_sort(names);
        *ret = TAKE_PTR(names);
        return 0;
}

static int list_entry(const BuildOptions *o, const MspawnIndex *idx, const char *cache_dir, time_t now,
                      const char *name, MachineListEntry *e) {
        _cleanup_free_ char *path = strjoin(o->paths.machines_dir, "/", name), *key = NULL, *cache_info = NULL,
                            *infop = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        time_t built = 0;
        int r;

        if (!path || !(e->name = strdup(name)))
                return -ENOMEM;
        if (mspawn_find(idx, name, &e->declared, NULL) == -ENOMEM)
                return -ENOMEM;
        /* the tree's top, never through a link; its size counted on that descriptor */
        root_fd = chase_root_open(path);
        e->image = root_fd >= 0;
        if (e->image)
                (void) tree_disk_usage_fd(root_fd, &e->size);
        e->running = machine_is_running(o->paths.machines_dir, name) > 0;
        e->base_age = -1;
        if (machine_origin_read(o, name, &e->origin, &key) == -ENOMEM)
                return -ENOMEM;
        if (key && cache_key_is_valid(key)) {
                infop = cache_path(cache_dir, key, ".info");
                if (!infop)
                        return -ENOMEM;
                r = read_full_file(infop, &cache_info, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        cache_info_parse(cache_info, &built, NULL);
                if (built > 0)
                        e->base_age = (long long) now - (long long) built;
        }
        return 0;
}

int machine_list(const BuildOptions *o, const char *cache_dir, time_t now, MachineListEntry **ret,
                 size_t *ret_n) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_strv_free_ char **names = NULL;
        MachineListEntry *l;
        size_t n;
        int r;

        r = list_names(o, &idx, &names);
        if (r < 0)
                return r;
        n = strv_length(names);
        l = calloc(n + 1, sizeof(MachineListEntry));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = list_entry(o, &idx, cache_dir, now, names[i], &l[i]);
                if (r < 0) {
                        machine_list_free(l, n);
                        return r;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

int machine_wait_answering(const char *name, unsigned timeout_ms) {
        for (unsigned waited = 0;; waited += 250) {
                int r = spawn_wait((char *[]) { (char *) "systemd-run", (char *) "--machine", (char *) name,
                                                (char *) "--quiet", (char *) "--wait", (char *) "true", NULL },
                                   (char *[]) { (char *) "SYSTEMD_LOG_LEVEL=emerg", NULL });
                if (r == 0)
                        return 0;
                if (waited >= timeout_ms)
                        return -ETIMEDOUT;
                (void) usleep(250 * 1000);
        }
}

/* --setenv= for each line of the session environment machinespawn-prepare wrote; read through chase.h, the
 * machine owns the file. */
static int add_session_env(const char *machines_dir, const char *name, char ***argv, Diagnostics *d) {
        _cleanup_free_ char *root = strjoin(machines_dir, "/", name);
        _cleanup_strv_free_ char **env = NULL;
        int r;

        if (!root)
                return -ENOMEM;
        r = machine_read_session_env(root, &env);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && r != -ENOENT)
                diag_warning(d, NULL, 0, "Ignoring %s/%s: %s", root, MACHINE_SESSION_ENV,
                             r == -EBADMSG ? "not what machinespawn-prepare writes" : chase_strerror(r));
        STRV_FOREACH(l, env) {
                _cleanup_free_ char *opt = strjoin("--setenv=", *l);
                if (!opt || strv_extend(argv, opt) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int machine_enter_argv(const char *machines_dir, const char *name, const char *user, char **cmd, bool tty,
                       char ***ret, Diagnostics *d) {
        _cleanup_strv_free_ char **setenv = NULL, **env = NULL;
        bool privileged = geteuid() == 0;
        int r;

        /* only root can read the machine's tree; a user's command gets it from a login shell (enter.h) */
        if (privileged) {
                r = add_session_env(machines_dir, name, &setenv, d);
                if (r < 0)
                        return r;
                STRV_FOREACH(l, setenv)
                        if (strv_extend(&env, *l + strlen("--setenv=")) < 0)
                                return -ENOMEM;
        }
        EnterOptions o = {
                .machine = name,
                .user = user,
                .command = cmd,
                .env = env,
                .privileged = privileged,
                .tty = tty,
                .term = tty ? getenv("TERM") : NULL,
        };
        return enter_command_line(&o, ret);
}
