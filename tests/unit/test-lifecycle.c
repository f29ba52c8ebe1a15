/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a machine does after its first build: the origin record and what changed since, Keep=, hooks, and
 * a rebuild's swap and rollback interrupted at every step. */
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests.h"

#include "converge.h"
#include "fileio.h"
#include "machine-lifecycle.h"
#include "origin.h"
#include "rebuild.h"
#include "strv.h"

static void test_machine_path(void **state) {
        assert_true(machine_path_is_valid("/home"));
        assert_true(machine_path_is_valid("/var/lib/postgresql"));
        assert_true(machine_path_is_valid("/etc/ssh"));
        assert_true(machine_path_is_valid("/a..b/.c"));
        assert_false(machine_path_is_valid("/"));
        assert_false(machine_path_is_valid(""));
        assert_false(machine_path_is_valid("home"));
        assert_false(machine_path_is_valid("/home/"));
        assert_false(machine_path_is_valid("//home"));
        assert_false(machine_path_is_valid("/home//x"));
        assert_false(machine_path_is_valid("/home/../etc"));
        assert_false(machine_path_is_valid("/.."));
        assert_false(machine_path_is_valid("/./etc"));
        assert_false(machine_path_is_valid("/etc/."));
        assert_false(machine_path_is_valid("/etc/\n"));

        _cleanup_free_ char *s = NULL, *t = NULL;
        assert_int_equal(copy_spec_split("/etc/motd:/etc/motd.host", &s, &t), 0);
        assert_string_equal(s, "/etc/motd");
        assert_string_equal(t, "/etc/motd.host");
        assert_int_equal(copy_spec_split("/etc/motd", NULL, NULL), -EINVAL);
        assert_int_equal(copy_spec_split("/etc/motd:../x", NULL, NULL), -EINVAL);
        assert_int_equal(copy_spec_split("motd:/x", NULL, NULL), -EINVAL);
}

static void test_origin_roundtrip(void **state) {
        _cleanup_(origin_done) Origin o = {}, back = {}, legacy = {};
        _cleanup_free_ char *text = NULL, *again = NULL;

        assert_int_equal(origin_parse("base=debian-bookworm-amd64-minbase-1\ncreated=5\nformat=2\ntree=1:2\n"
                                      "distribution=debian\nrelease=bookworm\narchitecture=amd64\nvariant=minbase\n"
                                      "packages=vim less\nhook=run:ab\nhook=copy:cd\nfuture=ignored\n",
                                      &o),
                         0);
        assert_false(o.legacy);
        assert_string_equal(o.release, "bookworm");
        assert_int_equal(strv_length(o.packages), 2);
        assert_int_equal(strv_length(o.hooks), 2);
        assert_int_equal(origin_format(&o, &text), 0);
        /* "machinespawn list" reads the first line */
        assert_true(startswith(text, "base=debian-bookworm-amd64-minbase-1\n"));
        assert_int_equal(origin_parse(text, &back), 0);
        assert_int_equal(origin_format(&back, &again), 0);
        assert_string_equal(text, again);

        assert_int_equal(origin_parse("base=k\ncreated=1\n", &legacy), 0);
        assert_true(legacy.legacy);
        origin_done(&legacy);
        assert_int_equal(origin_parse("nonsense\n", &legacy), -EBADMSG);
}

static void origin_set(Origin *o, const char *dist, const char *rel, const char *arch, const char *variant,
                       const char *pkgs) {
        *o = (Origin) {
                .distribution = dist ? strdup(dist) : NULL,
                .release = rel ? strdup(rel) : NULL,
                .architecture = arch ? strdup(arch) : NULL,
                .variant = variant ? strdup(variant) : NULL,
        };
        if (pkgs)
                assert_int_equal(strv_split_words(&o->packages, pkgs), 0);
}

static void test_origin_diff(void **state) {
        _cleanup_(origin_done) Origin built = {}, wanted = {};
        _cleanup_(origin_diff_done) OriginDiff d = {};
        _cleanup_free_ char *m = NULL;

        origin_set(&built, "debian", "bookworm", "amd64", "minbase", "vim less");
        origin_set(&wanted, "debian", "bookworm", "amd64", "minbase", "less vim curl");
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 0);
        assert_int_equal(strv_length(d.added), 1);
        assert_string_equal(d.added[0], "curl");
        assert_null(d.removed);
        origin_diff_done(&d);

        /* packages removed: reported, nothing blocks */
        origin_done(&wanted);
        origin_set(&wanted, "debian", "bookworm", "amd64", "minbase", "less");
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 0);
        assert_null(d.added);
        assert_int_equal(strv_length(d.removed), 1);
        assert_string_equal(d.removed[0], "vim");
        origin_diff_done(&d);

        /* what needs a new tree blocks, each key named with both values */
        origin_done(&wanted);
        origin_set(&wanted, "debian", "trixie", "amd64", "buildd", "vim less");
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 2);
        assert_string_equal(d.blocking[0].key, "Release=");
        assert_string_equal(d.blocking[0].old_value, "bookworm");
        assert_string_equal(d.blocking[0].new_value, "trixie");
        assert_string_equal(d.blocking[1].key, "Variant=");
        m = origin_change_message(&d.blocking[0], "bread");
        assert_string_equal(m, "Release= changed from bookworm to trixie: machine bread cannot follow it in place; "
                               "apply it with \"machinespawn rebuild bread\" (Keep= lists what it carries over) or "
                               "set RebuildOnChange=yes.");
        origin_diff_done(&d);

        /* Distribution= to Image=: both keys */
        origin_done(&wanted);
        wanted = (Origin) { .image = strdup("https://example.org/rootfs.tar.xz") };
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 5);
        assert_string_equal(d.blocking[2].key, "Image=");
        assert_string_equal(d.blocking[2].old_value, "");
        origin_diff_done(&d);

        /* Release=stable, unchanged in the file, but stable moved on: a warning, not a stop */
        origin_done(&wanted);
        origin_set(&wanted, "debian", "trixie", "amd64", "minbase", "vim less");
        built.release_declared = strdup("stable");
        wanted.release_declared = strdup("stable");
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 0);
        assert_string_equal(d.alias_moved, "stable");
        origin_diff_done(&d);
        /* ... but stable to a codename is an edit */
        free(wanted.release_declared);
        wanted.release_declared = NULL;
        assert_int_equal(origin_diff(&built, &wanted, &d), 0);
        assert_int_equal(d.n_blocking, 1);
}

static void test_hooks_pending(void **state) {
        _cleanup_(origin_done) Origin o = {};
        _cleanup_strv_free_ char **pending = NULL, **hooks = NULL;
        _cleanup_free_ char *a = hook_id("run", "touch /a"), *b = hook_id("run", "touch /b"),
                            *c = hook_id("copy", "touch /a");

        assert_non_null(a);
        assert_true(startswith(a, "run:"));
        assert_int_equal(strlen(a), 4 + 64);
        assert_string_not_equal(a, b);
        assert_string_equal(a + 4, c + 5); /* the same text hashes the same; the kind tells them apart */

        assert_int_equal(strv_extend(&o.hooks, a), 0);
        assert_int_equal(strv_extend(&hooks, "touch /a"), 0);
        assert_int_equal(strv_extend(&hooks, "touch /b"), 0);
        /* done: /a; new: /b */
        assert_int_equal(hooks_pending(&o, "run", hooks, &pending), 0);
        assert_int_equal(strv_length(pending), 1);
        assert_string_equal(pending[0], "touch /b");
        pending = strv_free(pending);

        /* a changed text is a new hook */
        free(hooks[0]);
        hooks[0] = strdup("touch /a2");
        assert_int_equal(hooks_pending(&o, "run", hooks, &pending), 0);
        assert_int_equal(strv_length(pending), 2);
        assert_string_equal(pending[0], "touch /a2");
        pending = strv_free(pending);

        /* the same text as a Copy= is not a Run= done */
        assert_int_equal(hooks_pending(&o, "copy", (char *[]) { (char *) "touch /a", NULL }, &pending), 0);
        assert_int_equal(strv_length(pending), 1);
}

typedef struct Env {
        char *root, *machines, *run, *state;
        BuildOptions o;
} Env;

static void env_init(Env *e) {
        e->root = tests_mkdtemp();
        e->machines = strjoin(e->root, "/machines");
        e->run = strjoin(e->root, "/run");
        e->state = strjoin(e->root, "/state");
        e->o = (BuildOptions) { .paths = { .machines_dir = e->machines, .run_dir = e->run, .state_dir = e->state } };
        assert_int_equal(mkdir_p(e->machines, 0700), 0);
        assert_int_equal(mkdir_p(e->state, 0755), 0);
}

static void env_done(Env *e) {
        tests_rm_rf(e->root);
        free(e->root);
        free(e->machines);
        free(e->run);
        free(e->state);
}

/* A tree with a marker file, and its record. */
static void make_generation(Env *e, const char *tree_name, const char *origin_name, const char *marker) {
        _cleanup_free_ char *tree = strjoin(e->machines, "/", tree_name), *origin = strjoin(e->state, "/", origin_name);
        _cleanup_(origin_done) Origin o = { .base = strdup(marker), .release = strdup(marker) };

        assert_int_equal(mkdir(tree, 0755), 0);
        tests_write(tree, "marker", marker);
        assert_int_equal(origin_tree_id(tree, &o.tree), 0);
        assert_int_equal(origin_write(origin, &o), 0);
}

/* The marker of NAME's tree, after checking that NAME's record belongs to it. */
static char *current(Env *e) {
        _cleanup_free_ char *tree = strjoin(e->machines, "/m"), *marker = strjoin(tree, "/marker"),
                            *origin = strjoin(e->state, "/m.origin"), *id = NULL;
        _cleanup_(origin_done) Origin o = {};
        char *text = NULL;

        if (read_full_file(marker, &text, NULL) < 0)
                return NULL;
        assert_int_equal(origin_read(origin, &o), 0);
        assert_int_equal(origin_tree_id(tree, &id), 0);
        assert_string_equal(o.tree, id);
        assert_string_equal(o.release, text);
        return text;
}

static void run_killed(void (*f)(Env *e), Env *e, const char *step) {
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("MACHINESPAWN_TEST_FAIL_AT", step, 1);
                f(e);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        /* the step was reached: a child that was never killed proves nothing ("none" names no step) */
        if (!streq(step, "none"))
                assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void do_swap(Env *e) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        (void) machine_swap_in(&e->o, "m", &d);
}

static void do_rollback(Env *e) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        (void) machine_rollback(&e->o, "m", &d);
}

/* Killed at every step of the swap, then recovered: NAME is the old or the new machine, with its own
 * record; from the exchange on, the new one, with the old one kept as the previous. */
static void test_swap_killed(void **state) {
        static const struct {
                const char *step;
                const char *expect;
        } steps[] = {
                { "drop-previous", "old" }, { "exchange", "new" }, { "keep-previous", "new" },
                { "origin-previous", "new" }, { "done", "new" },   { "none", "new" },
        };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                _cleanup_(diagnostics_done) Diagnostics d = {};
                _cleanup_free_ char *m = NULL, *prev = NULL, *prevp = NULL;
                Env e = {};

                env_init(&e);
                make_generation(&e, ".m.previous", "m.origin.previous", "older");
                make_generation(&e, "m", "m.origin", "old");
                make_generation(&e, ".m.new", "m.origin.new", "new");
                run_killed(do_swap, &e, steps[i].step);
                assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                m = current(&e);
                print_message("killed at %s: %s\n", steps[i].step, m ?: "(none)");
                assert_non_null(m);
                assert_string_equal(m, steps[i].expect);
                if (streq(steps[i].expect, "new")) {
                        prevp = strjoin(e.machines, "/.m.previous/marker");
                        assert_int_equal(read_full_file(prevp, &prev, NULL), 0);
                        assert_string_equal(prev, "old");
                        /* and rollback returns, killed or not */
                        _cleanup_free_ char *back = NULL;
                        run_killed(do_rollback, &e, "rollback-exchange");
                        assert_int_equal(machine_state_recover(&e.o, "m", &d), 0);
                        back = current(&e);
                        assert_string_equal(back, "old");
                        /* a second rollback undoes the first */
                        _cleanup_free_ char *fwd = NULL;
                        do_rollback(&e);
                        fwd = current(&e);
                        assert_string_equal(fwd, "new");
                        /* removing the machine takes the kept tree and its record along */
                        _cleanup_free_ char *po = strjoin(e.state, "/m.origin.previous"),
                                            *pt = strjoin(e.machines, "/.m.previous");
                        struct stat st;
                        assert_int_equal(machine_remove_generations(&e.o, "m"), 0);
                        assert_true(lstat(pt, &st) < 0 && errno == ENOENT);
                        assert_true(lstat(po, &st) < 0 && errno == ENOENT);
                } else {
                        /* the abandoned rebuild is gone */
                        _cleanup_free_ char *n = strjoin(e.machines, "/.m.new");
                        struct stat st;
                        assert_true(lstat(n, &st) < 0);
                }
                env_done(&e);
        }
}

/* Keep= carries data over, never through a link of the old tree. */
static void test_keep_copy(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *root = tests_mkdtemp(), *old = strjoin(root, "/old"), *new = strjoin(root, "/new"),
                            *text = NULL, *p = NULL, *link = NULL;
        struct stat st;
        char buf[PATH_MAX];
        ssize_t n;

        tests_write(root, "victim/secret", "host secret\n");
        tests_write(old, "home/alice/notes", "kept\n");
        tests_write(old, "var/lib/db/data", "rows\n");
        tests_write(new, "home/skel", "new tree's\n");
        tests_write(new, "etc/ssh/ssh_config", "new config\n");
        assert_int_equal(mkdir_p(old, 0755), 0);
        /* a link out of the machine where a kept path is, and one on the way to another */
        p = strjoin(old, "/etc");
        assert_int_equal(mkdir(p, 0755), 0);
        p = mfree(p);
        p = strjoin(old, "/etc/ssh");
        link = strjoin(root, "/victim");
        assert_int_equal(symlink(link, p), 0);
        p = mfree(p);
        p = strjoin(old, "/srv");
        assert_int_equal(symlink("../victim", p), 0);
        p = mfree(p);

        assert_int_equal(machine_keep_copy(old, new,
                                           (char *[]) { (char *) "/home", (char *) "/var/lib/db", (char *) "/etc/ssh",
                                                        (char *) "/srv/secret", (char *) "/missing", NULL },
                                           &d),
                         0);
        p = strjoin(new, "/home/alice/notes");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "kept\n");
        p = mfree(p);
        text = mfree(text);
        /* replaced, not merged */
        p = strjoin(new, "/home/skel");
        assert_true(lstat(p, &st) < 0);
        p = mfree(p);
        p = strjoin(new, "/var/lib/db/data");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "rows\n");
        p = mfree(p);
        /* the link is copied as a link, its target's content never read */
        p = strjoin(new, "/etc/ssh");
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        n = readlink(p, buf, sizeof buf - 1);
        assert_true(n > 0);
        buf[n] = 0;
        assert_string_equal(buf, link);
        p = mfree(p);
        /* /srv/secret resolves inside the old tree, where there is nothing: nothing copied */
        p = strjoin(new, "/srv/secret");
        assert_true(lstat(p, &st) < 0);
        p = mfree(p);
        p = strjoin(new, "/srv");
        assert_true(lstat(p, &st) < 0 || S_ISDIR(st.st_mode));
        p = mfree(p);
        tests_rm_rf(root);
}

/* Copy= writes inside the tree, never through a link of the tree to the host. */
static void test_copy_in(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *victim = strjoin(root, "/victim"),
                            *spec = NULL, *p = NULL, *text = NULL;
        struct stat st;

        tests_write(root, "host/motd", "hello from the host\n");
        tests_write(root, "tree/etc/hostname", "m\n");
        assert_int_equal(mkdir(victim, 0755), 0);
        p = strjoin(tree, "/link");
        assert_int_equal(symlink(victim, p), 0); /* absolute: means tree/ROOT/victim inside */
        p = mfree(p);

        spec = strjoin(root, "/host/motd:/etc/motd");
        assert_int_equal(tree_copy_in(tree, spec, &d), 0);
        p = strjoin(tree, "/etc/motd");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "hello from the host\n");
        p = mfree(p);

        /* through the link: refused or written inside, never into the host's directory */
        spec = mfree(spec);
        spec = strjoin(root, "/host/motd:/link/motd");
        (void) tree_copy_in(tree, spec, &d);
        p = strjoin(victim, "/motd");
        assert_true(lstat(p, &st) < 0 && errno == ENOENT);
        p = mfree(p);

        /* a source that is not a regular file is refused */
        spec = mfree(spec);
        spec = strjoin(root, "/host:/etc/x");
        assert_true(tree_copy_in(tree, spec, &d) < 0);
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_path),  cmocka_unit_test(test_origin_roundtrip),
                cmocka_unit_test(test_origin_diff),   cmocka_unit_test(test_hooks_pending),
                cmocka_unit_test(test_swap_killed),   cmocka_unit_test(test_keep_copy),
                cmocka_unit_test(test_copy_in),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
