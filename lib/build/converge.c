/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A machine follows its .mspawn: at every start, what it was built from (its origin record) is compared
 * with what the file says now, and what can change in place does. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "chase.h"
#include "converge.h"
#include "fileio.h"
#include "machine-lifecycle.h"
#include "proxy.h"
#include "rebuild.h"
#include "strv.h"
#include "tree.h"

#define COPY_SOURCE_MAX (64U * 1024U * 1024U)

static int strdup_or_null(char **dst, const char *s) {
        if (!s)
                return 0;
        *dst = strdup(s);
        return *dst ? 0 : -ENOMEM;
}

int origin_wanted(const MachineConfig *c, const BootstrapPlan *p, Origin *ret) {
        _cleanup_(origin_done) Origin o = { .legacy = false };

        if (!p) {
                if (strdup_or_null(&o.image, c->image.value) < 0)
                        return -ENOMEM;
        } else if (strdup_or_null(&o.base, p->cache_key) < 0 ||
                   strdup_or_null(&o.distribution, p->release.distribution) < 0 ||
                   strdup_or_null(&o.release, p->release.codename) < 0 ||
                   strdup_or_null(&o.architecture, p->architecture) < 0 ||
                   strdup_or_null(&o.variant, p->variant) < 0)
                return -ENOMEM;
        if (p && c->release.value && !streq(c->release.value, p->release.codename) &&
            strdup_or_null(&o.release_declared, c->release.value) < 0)
                return -ENOMEM;
        if (p && c->packages) {
                o.packages = strv_copy(c->packages);
                if (!o.packages)
                        return -ENOMEM;
        }
        *ret = o;
        o = (Origin) {};
        return 0;
}

int tree_run_command(const char *tree, const char *name, const char *proxy, const char *command) {
        _cleanup_free_ char *machine = strjoin("--machine=", name),
                            *proxy_env = proxy ? strjoin("--setenv=http_proxy=", proxy) : NULL;

        if (!machine || (proxy && !proxy_env))
                return -ENOMEM;
        /* unregistered and in our own unit: this runs from machinespawn-bootstrap@, before the machine's
         * own unit starts systemd-nspawn */
        char *argv[] = { (char *) "systemd-nspawn", (char *) "--quiet", (char *) "--register=no",
                         (char *) "--keep-unit", (char *) "--pipe", (char *) "-D", (char *) tree, machine,
                         (char *) "--setenv=DEBIAN_FRONTEND=noninteractive",
                         proxy_env ?: (char *) "--quiet", (char *) "--", (char *) "/bin/sh", (char *) "-c",
                         (char *) command, NULL };
        return spawn_wait(argv, NULL);
}

int tree_copy_in(const char *tree, const char *spec, Diagnostics *d) {
        _cleanup_free_ char *source = NULL, *dest = NULL, *content = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        struct stat st, top;
        size_t size;
        int r;

        r = copy_spec_split(spec, &source, &dest);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Copy=%s is not SOURCE:DEST.", spec);
        /* the host's file, named by the admin: links followed, but only a regular file is read */
        _cleanup_close_ int fd = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return diag_error(d, NULL, 0, errno, "Copy=%s: cannot open %s: %m", spec, source);
        if (fstat(fd, &st) < 0)
                return diag_error(d, NULL, 0, errno, "Copy=%s: cannot stat %s: %m", spec, source);
        if (!S_ISREG(st.st_mode))
                return diag_error(d, NULL, 0, EBADFD, "Copy=%s: %s is not a regular file.", spec, source);
        r = read_fd_bounded(fd, COPY_SOURCE_MAX, &content, &size);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Copy=%s: cannot read %s: %s", spec, source, strerror(-r));
        root_fd = chase_root_open(tree);
        if (root_fd < 0)
                return diag_error(d, NULL, 0, root_fd, "Copy=%s: cannot open %s: %s", spec, tree,
                                  chase_strerror(root_fd));
        if (fstat(root_fd, &top) < 0)
                return diag_error(d, NULL, 0, errno, "Copy=%s: cannot stat %s: %m", spec, tree);
        r = chase_write_file(root_fd, dest, content, size, st.st_mode & 07777, top.st_uid, top.st_gid,
                             CHASE_MKDIR_P);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Copy=%s: cannot write %s in the machine: %s", spec, dest,
                                  chase_strerror(r));
        return 0;
}

static int run_hook_list(const char *kind, char **hooks, const MachineConfig *c, const char *tree,
                         const char *proxy, Origin *origin, const char *origin_path, Diagnostics *d) {
        _cleanup_strv_free_ char **pending = NULL;
        int r;

        r = hooks_pending(origin, kind, hooks, &pending);
        if (r < 0)
                return r;
        STRV_FOREACH(h, pending) {
                _cleanup_free_ char *id = hook_id(kind, *h);
                if (!id)
                        return -ENOMEM;
                if (streq(kind, "copy"))
                        r = tree_copy_in(tree, *h, d);
                else {
                        r = tree_run_command(tree, c->name, proxy, *h);
                        if (r < 0)
                                return diag_error(d, NULL, 0, r, "Run=%s: cannot run systemd-nspawn: %s", *h,
                                                  strerror(-r));
                        if (r > 0)
                                return diag_error(d, NULL, 0, EIO,
                                                  "Run=%s failed in %s with exit status %i (its output is above).",
                                                  *h, c->name, r);
                }
                if (r < 0)
                        return r;
                r = strv_extend(&origin->hooks, id);
                if (r < 0)
                        return r;
                r = origin_write(origin_path, origin);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot write %s: %s", origin_path, strerror(-r));
        }
        return 0;
}

int machine_run_hooks(const MachineConfig *c, const char *tree, const char *proxy, Origin *origin,
                      const char *origin_path, Diagnostics *d) {
        _cleanup_strv_free_ char **current = NULL;
        int r;

        /* forget hooks no longer listed, so that one put back runs again */
        STRV_FOREACH(h, origin->hooks) {
                bool listed = false;
                STRV_FOREACH(x, c->life.copy) {
                        _cleanup_free_ char *id = hook_id("copy", *x);
                        listed = listed || (id && streq(id, *h));
                }
                STRV_FOREACH(x, c->life.run) {
                        _cleanup_free_ char *id = hook_id("run", *x);
                        listed = listed || (id && streq(id, *h));
                }
                if (listed && strv_extend(&current, *h) < 0)
                        return -ENOMEM;
        }
        strv_free(origin->hooks);
        origin->hooks = TAKE_PTR(current);

        /* files first: a Run= command may use what Copy= brought in */
        r = run_hook_list("copy", c->life.copy, c, tree, proxy, origin, origin_path, d);
        if (r < 0)
                return r;
        return run_hook_list("run", c->life.run, c, tree, proxy, origin, origin_path, d);
}

static void progress(const BuildOptions *o, const char *fmt, ...) _printf_(2, 3);
static void progress(const BuildOptions *o, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (!o->progress)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        o->progress(o->userdata, buf, -1);
}

/* A machine whose first build's hooks failed is not left behind half made. */
static void remove_fresh(const BuildOptions *o, const char *name, const char *tree, const char *origin_path) {
        _cleanup_free_ char *tmp = strjoin(o->paths.machines_dir, "/.#", name, ".failed");

        if (!tmp)
                return;
        (void) tree_remove(tmp, NULL);
        if (rename(tree, tmp) >= 0)
                (void) tree_remove(tmp, NULL);
        (void) unlink(origin_path);
}

static int adopt(const MachineConfig *c, const BootstrapPlan *p, const char *tree, const Origin *old,
                 const char *origin_path) {
        _cleanup_(origin_done) Origin o = {};
        int r;

        /* recorded before records said what a machine was built from: take the .mspawn as it is now
         * for the truth, its hooks as done, and follow changes from here on */
        r = origin_wanted(c, p, &o);
        if (r < 0)
                return r;
        if (old && old->created && strdup_or_null(&o.created, old->created) < 0)
                return -ENOMEM;
        r = origin_tree_id(tree, &o.tree);
        if (r < 0)
                return r;
        STRV_FOREACH(x, c->life.copy) {
                char *id = hook_id("copy", *x);
                if (!id || strv_push(&o.hooks, id) < 0)
                        return free(id), -ENOMEM;
        }
        STRV_FOREACH(x, c->life.run) {
                char *id = hook_id("run", *x);
                if (!id || strv_push(&o.hooks, id) < 0)
                        return free(id), -ENOMEM;
        }
        return origin_write(origin_path, &o);
}

static int install_packages(const MachineConfig *c, const char *tree, const char *proxy, char **added,
                            const BuildOptions *o, Diagnostics *d) {
        _cleanup_free_ char *list = strv_join(added, " "), *cmd = NULL;
        int r;

        if (!list)
                return -ENOMEM;
        /* names are checked Debian package names: nothing in them the shell would read */
        cmd = strjoin("apt-get update -q && apt-get install -q -y --no-install-recommends ", list);
        if (!cmd)
                return -ENOMEM;
        progress(o, "Installing %s in %s", list, c->name);
        r = tree_run_command(tree, c->name, proxy, cmd);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot run systemd-nspawn to install %s: %s", list,
                                  strerror(-r));
        if (r > 0)
                return diag_error(d, c->source_path, 0, EIO,
                                  "Installing %s (added to Packages=) in %s failed with exit status %i (apt's "
                                  "output is above); the machine is left as it was.", list, c->name, r);
        return 0;
}

/* Run in the machine for RemoveUnlistedPackages=yes, with the names as its arguments: only what is
 * installed, never what the base system needs (required, important, essential), and nothing at all when
 * apt would take other packages along (exit status 3, with their names). */
#define REMOVE_SCRIPT                                                                                         \
        "for p; do shift; "                                                                                   \
        "s=$(dpkg-query -W -f='${Status}|${Priority}|${Essential}' \"$p\" 2>/dev/null) || continue; "       \
        "case \"$s\" in "                                                                                     \
        "*' installed|required|'*|*' installed|important|'*|*'|yes') "                                        \
        "echo \"$p belongs to the base system; it stays.\" >&2;; "                                           \
        "*' installed|'*) set -- \"$@\" \"$p\";; "                                                            \
        "esac; done; "                                                                                        \
        "[ $# -gt 0 ] || exit 0; "                                                                            \
        "also=$(apt-get -s remove \"$@\" | sed -n 's/^Remv \\([^ :]*\\).*/\\1/p' | "                          \
        "grep -vxF \"$(printf '%s\\n' \"$@\")\"); "                                                           \
        "if [ -n \"$also\" ]; then echo $also; exit 3; fi; "                                                  \
        "apt-get remove -q -y \"$@\""

#define REMOVE_WOULD_TAKE_OTHERS 3

/* 0: removed (or nothing to remove), REMOVE_WOULD_TAKE_OTHERS: left alone, with a warning. */
static int remove_packages(const MachineConfig *c, const char *tree, const char *proxy, char **gone,
                           const BuildOptions *o, Diagnostics *d) {
        _cleanup_free_ char *list = strv_join(gone, " "), *cmd = NULL;
        int r;

        if (!list)
                return -ENOMEM;
        /* names are checked Debian package names: nothing in them the shell would read */
        cmd = strjoin("set -- ", list, "; ", REMOVE_SCRIPT);
        if (!cmd)
                return -ENOMEM;
        progress(o, "Removing %s from %s (RemoveUnlistedPackages=yes)", list, c->name);
        r = tree_run_command(tree, c->name, proxy, cmd);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot run systemd-nspawn to remove %s: %s", list, strerror(-r));
        if (r == REMOVE_WOULD_TAKE_OTHERS) {
                diag_warning(d, c->source_path, 0,
                             "RemoveUnlistedPackages=yes: removing %s would take along the packages named above, "
                             "which depend on them; %s keeps them all (list them in Packages= again, or remove "
                             "them inside the machine).", list, c->name);
                return REMOVE_WOULD_TAKE_OTHERS;
        }
        if (r > 0)
                return diag_error(d, c->source_path, 0, EIO,
                                  "Removing %s (no longer in Packages=) from %s failed with exit status %i (apt's "
                                  "output is above); the machine is left as it was.", list, c->name, r);
        return 0;
}

static bool strv_same(char **a, char **b) {
        size_t n = 0;

        STRV_FOREACH(x, a) {
                if (!b || !b[n] || !streq(*x, b[n]))
                        return false;
                n++;
        }
        return !b || !b[n];
}

/* Each of a not in b, in order. */
static int strv_minus(char **a, char **b, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        STRV_FOREACH(x, a)
                if (!strv_contains(b, *x) && strv_extend(&l, *x) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Packages added since the build are installed. Removed ones are reported and kept, and remembered as
 * unlisted; with RemoveUnlistedPackages=yes they (and the unlisted ones from before) are removed, except
 * what the base system brought (the plan's base packages, p). */
static int converge_packages(const MachineConfig *c, const BuildOptions *o, const BootstrapPlan *p, const char *tree,
                             const char *proxy_url, Origin *built, Origin *wanted, const OriginDiff *diff,
                             const char *origin_path, Diagnostics *d) {
        _cleanup_strv_free_ char **unlisted = NULL, **gone = NULL;
        int r;

        /* the unlisted ones the record had, then those no longer listed now */
        r = strv_minus(diff->unlisted, NULL, &unlisted);
        if (r >= 0)
                r = strv_extend_strv(&unlisted, diff->removed);
        if (r < 0)
                return -ENOMEM;

        if (c->life.remove_unlisted > 0 && unlisted) {
                r = strv_minus(unlisted, p ? p->packages : NULL, &gone);
                if (r < 0)
                        return r;
                r = gone ? remove_packages(c, tree, proxy_url, gone, o, d) : 0;
                if (r < 0)
                        return r;
                if (r == 0)
                        unlisted = strv_free(unlisted);
        } else if (diff->removed) {
                _cleanup_free_ char *list = strv_join(diff->removed, " ");
                if (!list)
                        return -ENOMEM;
                /* apt-get remove could take packages installed by hand with them */
                diag_warning(d, c->source_path, 0,
                             "Packages= no longer lists %s; %s keeps them installed, since removing them could take "
                             "along what was installed inside by hand (RemoveUnlistedPackages=yes removes them at "
                             "the next start; or remove them inside with apt-get remove).", list, c->name);
        }
        if (diff->added) {
                r = install_packages(c, tree, proxy_url, diff->added, o, d);
                if (r < 0)
                        return r;
        }
        if (diff->added || diff->removed || !strv_same(built->unlisted, unlisted)) {
                strv_free(built->packages);
                built->packages = TAKE_PTR(wanted->packages);
                strv_free(built->unlisted);
                built->unlisted = TAKE_PTR(unlisted);
                r = origin_write(origin_path, built);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot write %s: %s", origin_path, strerror(-r));
        }
        return 0;
}

static int run_on_start(const MachineConfig *c, const BuildOptions *o, const char *tree, const char *proxy_url,
                        Diagnostics *d) {
        int r;

        STRV_FOREACH(h, c->life.run_on_start) {
                progress(o, "Running RunOnStart=%s", *h);
                r = tree_run_command(tree, c->name, proxy_url, *h);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "RunOnStart=%s: cannot run systemd-nspawn: %s", *h,
                                          strerror(-r));
                if (r > 0)
                        return diag_error(d, NULL, 0, EIO,
                                          "RunOnStart=%s failed in %s with exit status %i (its output is above).", *h,
                                          c->name, r);
        }
        return 0;
}

static int converge_locked(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, bool fresh,
                           bool rebuilt, Diagnostics *d) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_(proxy_result_done) ProxyResult proxy = {};
        _cleanup_(origin_done) Origin built = {}, wanted = {};
        _cleanup_(origin_diff_done) OriginDiff diff = {};
        _cleanup_free_ char *tree = strjoin(o->paths.machines_dir, "/", c->name),
                            *origin_path = machine_origin_path(o, c->name);
        struct stat st;
        int r;

        if (!tree || !origin_path)
                return -ENOMEM;
        r = machine_state_recover(o, c->name, d);
        if (r < 0)
                return r;
        if (lstat(tree, &st) < 0 || !S_ISDIR(st.st_mode))
                return 0; /* a .raw image, or nothing: nothing to follow */

        if (c->distribution.value) {
                HostFacts host = {
                        .architecture = host_debian_architecture(),
                        .have_mmdebstrap = find_executable("mmdebstrap"),
                        .now = time(NULL),
                        .distro_info_dir = o->paths.distro_info_dir,
                };
                r = bootstrap_plan_build(c, g, &host, &p, d);
                if (r < 0)
                        return r;
        }

        r = origin_read(origin_path, &built);
        if (r == -ENOENT || (r >= 0 && built.legacy)) {
                r = adopt(c, p, tree, r >= 0 ? &built : NULL, origin_path);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot write %s: %s", origin_path, strerror(-r));
                origin_done(&built);
                r = origin_read(origin_path, &built);
        }
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot read %s: %s", origin_path, strerror(-r));

        r = origin_wanted(c, p, &wanted);
        if (r < 0)
                return r;
        r = origin_diff(&built, &wanted, &diff);
        if (r < 0)
                return r;

        if (diff.n_blocking > 0) {
                if (c->life.rebuild_on_change > 0 && !rebuilt) {
                        for (size_t i = 0; i < diff.n_blocking; i++)
                                progress(o, "Rebuilding %s: %s changed from %s to %s", c->name, diff.blocking[i].key,
                                         diff.blocking[i].old_value, diff.blocking[i].new_value);
                        r = machine_rebuild_locked(c, g, o, d);
                        if (r < 0)
                                return r;
                        return converge_locked(c, g, o, false, true, d);
                }
                for (size_t i = 0; i < diff.n_blocking; i++) {
                        _cleanup_free_ char *m = origin_change_message(diff.blocking + i, c->name);
                        if (!m)
                                return -ENOMEM;
                        diag_error(d, c->source_path, 0, EBUSY, "%s", m);
                }
                return -EBUSY;
        }

        if (diff.alias_moved)
                diag_warning(d, c->release.file, c->release.line,
                             "Release=%s now means %s; %s stays on %s until \"machinespawn rebuild %s\".",
                             diff.alias_moved, wanted.release, c->name, built.release, c->name);

        r = proxy_resolve(g->proxy, &o->paths, &proxy);
        if (r < 0)
                return r;

        r = converge_packages(c, o, p, tree, proxy.url, &built, &wanted, &diff, origin_path, d);
        if (r < 0)
                return r;

        if (c->life.copy || c->life.run)
                progress(o, "Running the hooks of %s", c->name);
        r = machine_run_hooks(c, tree, proxy.url, &built, origin_path, d);
        if (r < 0) {
                if (fresh)
                        remove_fresh(o, c->name, tree, origin_path);
                return r;
        }

        return run_on_start(c, o, tree, proxy.url, d);
}

int machine_converge(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, bool fresh,
                     Diagnostics *d) {
        _cleanup_close_ int lock = -EBADF;

        lock = machine_lock(o, c->name, d);
        if (lock < 0)
                return lock;
        return converge_locked(c, g, o, fresh, false, d);
}
