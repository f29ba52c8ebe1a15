/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The generations of a machine's tree (the one in use, the one a rebuild is making, the one it kept) and
 * their origin records: named here, removed here. No building, so removal does not need the download code. */
#include <signal.h>
#include <sys/stat.h>

#include "machine-build.h"
#include "origin.h"
#include "paths.h"
#include "rebuild.h"
#include "strv.h"
#include "tree.h"

void test_fail_point(const char *step) {
        Paths p;

        /* read each time: a test sets the variable in a child it forks after earlier steps ran */
        paths_from_environment(&p);
        if (p.test_fail_at && streq(p.test_fail_at, step))
                (void) raise(SIGKILL);
}

void state_paths_done(StatePaths *p) {
        free(p->tree);
        free(p->new_tree);
        free(p->previous_tree);
        free(p->new_name);
        free(p->previous_name);
        free(p->origin);
        free(p->new_origin);
        free(p->previous_origin);
        *p = (StatePaths) {};
}

int state_paths(const BuildOptions *o, const char *name, StatePaths *ret) {
        StatePaths p = {
                .tree = strjoin(o->paths.machines_dir, "/", name),
                .new_name = strjoin(".", name, MACHINE_NEW_SUFFIX),
                .previous_name = strjoin(".", name, MACHINE_PREVIOUS_SUFFIX),
                .origin = machine_origin_path(o, name),
        };

        if (p.new_name && p.previous_name) {
                p.new_tree = strjoin(o->paths.machines_dir, "/", p.new_name);
                p.previous_tree = strjoin(o->paths.machines_dir, "/", p.previous_name);
        }
        if (p.origin) {
                p.new_origin = strjoin(p.origin, MACHINE_NEW_SUFFIX);
                p.previous_origin = strjoin(p.origin, MACHINE_PREVIOUS_SUFFIX);
        }
        if (!p.tree || !p.new_tree || !p.previous_tree || !p.origin || !p.new_origin || !p.previous_origin) {
                state_paths_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

int machine_remove_generations(const BuildOptions *o, const char *name) {
        _cleanup_(state_paths_done) StatePaths p = {};
        int r;

        r = state_paths(o, name, &p);
        if (r < 0)
                return r;
        STRV_FOREACH(t, ((char *[]) { p.previous_tree, p.new_tree, NULL })) {
                r = tree_remove(*t, NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        STRV_FOREACH(f, ((char *[]) { p.previous_origin, p.new_origin, NULL }))
                if (unlink(*f) < 0 && errno != ENOENT)
                        return -errno;
        return 0;
}

int machine_drop_previous(const StatePaths *p, Diagnostics *d) {
        struct stat st;
        int r;

        if (lstat(p->previous_tree, &st) < 0 && errno == ENOENT && access(p->previous_origin, F_OK) < 0)
                return 0;
        /* the record first: from here on rollback has nothing to return to, so a removal cut short
         * leaves only a half-removed tree nobody uses, which the next drop or rebuild takes away */
        if (unlink(p->previous_origin) < 0 && errno != ENOENT)
                return diag_error(d, NULL, 0, errno, "Cannot remove %s: %m", p->previous_origin);
        test_fail_point("drop-previous-record");
        r = tree_remove(p->previous_tree, NULL);
        if (r < 0 && r != -ENOENT)
                return diag_error(d, NULL, 0, r, "Cannot remove %s: %s", p->previous_tree, strerror(-r));
        return 1;
}

int machine_started(const BuildOptions *o, const char *name, const char *tree_id, Diagnostics *d) {
        _cleanup_(state_paths_done) StatePaths p = {};
        _cleanup_free_ char *id = NULL;
        _cleanup_close_ int lock = -EBADF;
        int r;

        r = state_paths(o, name, &p);
        if (r < 0)
                return r;
        lock = machine_lock(o, name, d);
        if (lock < 0)
                return lock;
        if (origin_tree_id(p.tree, &id) < 0)
                return 0; /* no tree (an image file, or gone): nothing kept for it */
        if (tree_id && !streq(tree_id, id))
                return 0; /* the tree that started is not NAME any more */
        /* a rebuild or rollback cut short between its steps: the next start finishes it first */
        r = origin_matches_tree(p.origin, p.tree);
        if (r <= 0)
                return r;
        return machine_drop_previous(&p, d);
}
