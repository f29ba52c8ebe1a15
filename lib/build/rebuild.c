/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rebuilding a machine beside itself, swapping it in, and back. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "chase.h"
#include "converge.h"
#include "fileio.h"
#include "machine-remove.h"
#include "proxy.h"
#include "rebuild.h"
#include "strv.h"
#include "tree.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) >= 0;
}

static int exchange(const char *a, const char *b) {
        if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0)
                return -errno;
        return 0;
}

int machine_state_recover(const BuildOptions *o, const char *name, Diagnostics *d) {
        _cleanup_(state_paths_done) StatePaths p = {};
        int r;

        r = state_paths(o, name, &p);
        if (r < 0)
                return r;
        if (!exists(p.tree))
                return 0;

        r = origin_matches_tree(p.new_origin, p.tree);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot read %s: %s", p.new_origin, strerror(-r));
        if (r > 0) {
                /* killed after the exchange: NAME is the new tree, finish the steps after it */
                if (exists(p.new_tree)) {
                        (void) tree_remove(p.previous_tree, NULL);
                        if (rename(p.new_tree, p.previous_tree) < 0)
                                return diag_error(d, NULL, 0, errno, "Cannot rename %s to %s: %m", p.new_tree,
                                                  p.previous_tree);
                }
                if (rename(p.origin, p.previous_origin) < 0 && errno != ENOENT)
                        return diag_error(d, NULL, 0, errno, "Cannot rename %s: %m", p.origin);
                if (rename(p.new_origin, p.origin) < 0)
                        return diag_error(d, NULL, 0, errno, "Cannot rename %s: %m", p.new_origin);
                return 0;
        }
        r = origin_matches_tree(p.origin, p.tree);
        if (r == 0 && (r = origin_matches_tree(p.previous_origin, p.tree)) > 0)
                r = 2;
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot read the records of %s: %s", name, strerror(-r));
        if (r == 2) {
                /* killed inside a rollback, between the trees and their records */
                r = exchange(p.origin, p.previous_origin);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot exchange %s and %s: %s", p.origin,
                                          p.previous_origin, strerror(-r));
                return 0;
        }
        /* NAME is the tree it always was: anything new beside it is an abandoned rebuild */
        if (exists(p.new_tree)) {
                r = tree_remove(p.new_tree, NULL);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot remove the abandoned rebuild %s: %s", p.new_tree,
                                          strerror(-r));
        }
        if (unlink(p.new_origin) < 0 && errno != ENOENT)
                return diag_error(d, NULL, 0, errno, "Cannot remove %s: %m", p.new_origin);
        return 0;
}

static int keep_one(int old_root, int new_root, const char *path, Diagnostics *d) {
        _cleanup_free_ char *old_name = NULL, *new_name = NULL, *from = NULL, *to = NULL;
        _cleanup_close_ int old_dir = -EBADF, new_dir = -EBADF;
        struct stat st;
        int r;

        old_dir = chase_open_parent(old_root, path, 0, &old_name);
        if (old_dir == -ENOENT || (old_dir >= 0 && fstatat(old_dir, old_name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
                                   errno == ENOENT)) {
                diag_warning(d, NULL, 0, "Keep=%s: the machine has nothing there, ignoring.", path);
                return 0;
        }
        if (old_dir < 0)
                return diag_error(d, NULL, 0, old_dir, "Keep=%s: %s", path, chase_strerror(old_dir));
        new_dir = chase_open_parent(new_root, path, CHASE_MKDIR_P, &new_name);
        if (new_dir < 0)
                return diag_error(d, NULL, 0, new_dir, "Keep=%s: cannot make its parent in the new tree: %s", path,
                                  chase_strerror(new_dir));

        /* both ends as descriptors: the kernel resolves nothing of the old tree's but the last name, and
         * cp -a copies a link there as a link */
        if (asprintf(&from, "/proc/%i/fd/%i/%s", (int) getpid(), old_dir, old_name) < 0 ||
            asprintf(&to, "/proc/%i/fd/%i/%s", (int) getpid(), new_dir, new_name) < 0)
                return -ENOMEM;
        if (fstatat(new_dir, new_name, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                r = S_ISDIR(st.st_mode) ? tree_remove(to, NULL) : (unlinkat(new_dir, new_name, 0) < 0 ? -errno : 0);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Keep=%s: cannot replace it in the new tree: %s", path,
                                          strerror(-r));
        }
        r = spawn_wait((char *[]) { (char *) "cp", (char *) "-a", (char *) "--reflink=auto",
                                    (char *) "--no-target-directory", from, to, NULL },
                       NULL);
        if (r != 0)
                return diag_error(d, NULL, 0, r < 0 ? r : EIO, "Keep=%s: copying it failed%s", path,
                                  r < 0 ? "" : " (cp's message is above).");
        return 0;
}

int machine_keep_copy(const char *old_tree, const char *new_tree, char **keep, Diagnostics *d) {
        _cleanup_close_ int old_root = -EBADF, new_root = -EBADF;
        int r;

        if (!keep)
                return 0;
        old_root = chase_root_open(old_tree);
        if (old_root < 0)
                return diag_error(d, NULL, 0, old_root, "Cannot open %s: %s", old_tree, chase_strerror(old_root));
        new_root = chase_root_open(new_tree);
        if (new_root < 0)
                return diag_error(d, NULL, 0, new_root, "Cannot open %s: %s", new_tree, chase_strerror(new_root));
        STRV_FOREACH(k, keep) {
                r = keep_one(old_root, new_root, *k, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

int machine_swap_in(const BuildOptions *o, const char *name, Diagnostics *d) {
        _cleanup_(state_paths_done) StatePaths p = {};
        int r;

        r = state_paths(o, name, &p);
        if (r < 0)
                return r;

        /* the generation before the previous one goes (when the machine never started since): one tree to
         * roll back to */
        r = machine_drop_previous(&p, d);
        if (r < 0)
                return r;
        test_fail_point("drop-previous");

        r = exchange(p.tree, p.new_tree);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot exchange %s and %s: %s", p.tree, p.new_tree,
                                  strerror(-r));
        test_fail_point("exchange");
        if (rename(p.new_tree, p.previous_tree) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot rename %s to %s: %m", p.new_tree, p.previous_tree);
        test_fail_point("keep-previous");
        if (rename(p.origin, p.previous_origin) < 0 && errno != ENOENT)
                return diag_error(d, NULL, 0, errno, "Cannot rename %s: %m", p.origin);
        test_fail_point("origin-previous");
        if (rename(p.new_origin, p.origin) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot rename %s: %m", p.new_origin);
        test_fail_point("done");
        return 0;
}

static void abandon(const StatePaths *p) {
        (void) tree_remove(p->new_tree, NULL);
        (void) unlink(p->new_origin);
}

int machine_rebuild_locked(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, Diagnostics *d) {
        _cleanup_(state_paths_done) StatePaths p = {};
        _cleanup_(build_result_done) BuildResult result = {};
        _cleanup_(proxy_result_done) ProxyResult proxy = {};
        _cleanup_(origin_done) Origin origin = {};
        struct stat st;
        int r;

        r = state_paths(o, c->name, &p);
        if (r < 0)
                return r;
        r = machine_state_recover(o, c->name, d);
        if (r < 0)
                return r;
        if (lstat(p.tree, &st) < 0 || !S_ISDIR(st.st_mode))
                return diag_error(d, NULL, 0, ENOENT,
                                  "Machine %s has no tree in %s to rebuild (its first start builds it).", c->name,
                                  o->paths.machines_dir);
        if (machine_is_running(o->paths.machines_dir, c->name) > 0)
                return diag_error(d, NULL, 0, EBUSY, "Machine %s is running; stop it first (machinectl stop %s).",
                                  c->name, c->name);
        abandon(&p);

        BuildOptions b = *o;
        b.target = p.new_name;
        r = machine_build(c, g, &b, &result, d);
        if (r < 0) {
                abandon(&p);
                return r;
        }
        test_fail_point("build");

        r = machine_keep_copy(p.tree, p.new_tree, c->life.keep, d);
        if (r < 0) {
                abandon(&p);
                return r;
        }
        test_fail_point("keep");

        r = origin_read(p.new_origin, &origin);
        if (r >= 0)
                r = proxy_resolve(g->proxy, &o->paths, &proxy);
        if (r >= 0)
                r = machine_run_hooks(c, p.new_tree, proxy.url, &origin, p.new_origin, d);
        if (r < 0) {
                abandon(&p);
                return r;
        }
        test_fail_point("hooks");

        return machine_swap_in(o, c->name, d);
}

int machine_rebuild(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, Diagnostics *d) {
        _cleanup_close_ int lock = -EBADF;

        lock = machine_lock(o, c->name, d);
        if (lock < 0)
                return lock;
        return machine_rebuild_locked(c, g, o, d);
}

int machine_rollback(const BuildOptions *o, const char *name, Diagnostics *d) {
        _cleanup_(state_paths_done) StatePaths p = {};
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = state_paths(o, name, &p);
        if (r < 0)
                return r;
        lock = machine_lock(o, name, d);
        if (lock < 0)
                return lock;
        r = machine_state_recover(o, name, d);
        if (r < 0)
                return r;
        if (!exists(p.tree))
                return diag_error(d, NULL, 0, ENOENT, "Machine %s does not exist.", name);
        if (!exists(p.previous_tree) || !exists(p.previous_origin))
                return diag_error(d, NULL, 0, ENOENT,
                                  "Machine %s has no previous tree to return to: the tree a rebuild or rollback "
                                  "replaced is kept only until the machine has started once.",
                                  name);
        if (machine_is_running(o->paths.machines_dir, name) > 0)
                return diag_error(d, NULL, 0, EBUSY, "Machine %s is running; stop it first (machinectl stop %s).",
                                  name, name);
        r = exchange(p.tree, p.previous_tree);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot exchange %s and %s: %s", p.tree, p.previous_tree,
                                  strerror(-r));
        test_fail_point("rollback-exchange");
        r = exchange(p.origin, p.previous_origin);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot exchange %s and %s: %s", p.origin, p.previous_origin,
                                  strerror(-r));
        return 0;
}
