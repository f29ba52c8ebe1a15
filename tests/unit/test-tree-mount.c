/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tree_remove() across live mounts. Needs root (mounts); exits 77 otherwise. Runs in a mount namespace of
 * its own, so that nothing it mounts outlives it. */
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests.h"

#include "fileio.h"
#include "strv.h"
#include "tree.h"

static char *join(const char *a, const char *b) {
        char *p = strjoin(a, "/", b);
        assert_non_null(p);
        return p;
}

static bool has_content(int dir_fd, const char *rel, const char *content) {
        _cleanup_free_ char *text = NULL;
        return read_full_file_at(dir_fd, rel, &text, NULL) >= 0 && streq(text, content);
}

/* A tmpfs and a bind mount of a host directory inside the tree: both are detached, never emptied. */
static void test_mounts_are_detached_not_emptied(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = join(root, "tree"), *host = join(root, "host"),
                            *tmpfs = join(tree, "run/tmpfs"), *bind = join(tree, "mnt/host");
        _cleanup_close_ int tmpfs_fd = -EBADF, host_fd = -EBADF;
        RemoveStats stats = {};

        tests_write(root, "host/precious", "host data");
        tests_write(root, "host/sub/deeper", "host data 2");
        tests_write(root, "tree/etc/hostname", "m\n");
        tests_write(root, "tree/run/tmpfs/.placeholder", "");
        tests_write(root, "tree/mnt/host/.placeholder", "");
        assert_int_equal(mount("tmpfs", tmpfs, "tmpfs", 0, "mode=0755,size=1m"), 0);
        tests_write(tmpfs, "inside/file", "on the tmpfs");
        assert_int_equal(mount(host, bind, NULL, MS_BIND, NULL), 0);
        /* kept open to look at the tmpfs once it is no longer reachable by path */
        tmpfs_fd = open(tmpfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(tmpfs_fd >= 0);
        host_fd = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(host_fd >= 0);

        assert_int_equal(tree_remove(tree, &stats), 0);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(stats.mounts_detached, 2);
        assert_true(has_content(tmpfs_fd, "inside/file", "on the tmpfs"));
        assert_true(has_content(host_fd, "precious", "host data"));
        assert_true(has_content(host_fd, "sub/deeper", "host data 2"));
        tests_rm_rf(root);
}

static int write_proc_plain(const char *file, const char *text) {
        _cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        return write(fd, text, strlen(text)) == (ssize_t) strlen(text) ? 0 : -1;
}

/* The child's side of the next test; returns its exit status. */
static int locked_mount_child(const char *tree, const char *tmpfs) {
        _cleanup_close_ int fd = -EBADF;

        /* a mount namespace for this child alone first, then the tmpfs in it */
        if (unshare(CLONE_NEWNS) < 0 || mount("tmpfs", tmpfs, "tmpfs", 0, "mode=0755,size=1m") < 0)
                return 10;
        tests_write(tmpfs, "inside/file", "on the tmpfs");
        /* In a new user namespace, the mounts copied into a new mount namespace are locked: umount2() fails
         * with EINVAL, which tree_remove() takes for "not a mount". Only the walk's own check is left. */
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return 11;
        if (write_proc_plain("/proc/self/setgroups", "deny") < 0 ||
            write_proc_plain("/proc/self/uid_map", "0 0 1") < 0 || write_proc_plain("/proc/self/gid_map", "0 0 1") < 0)
                return 12;
        if (umount2(tmpfs, MNT_DETACH) >= 0 || errno != EINVAL)
                return 13; /* not locked: this test would not test anything */
        fd = open(tmpfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 14;
        if (tree_remove(tree, NULL) >= 0)
                return 15; /* the mount point cannot go, so neither can the tree */
        if (!has_content(fd, "inside/file", "on the tmpfs"))
                return 16; /* the walk went into the other mount */
        return 0;
}

static void test_locked_mount_is_not_crossed(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = join(root, "tree"), *tmpfs = join(tree, "run/tmpfs");
        int status;
        pid_t pid;

        tests_write(root, "tree/etc/hostname", "m\n");
        tests_write(root, "tree/run/tmpfs/.placeholder", "");
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(locked_mount_child(tree, tmpfs));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
                fail_msg("child failed at step %d", WEXITSTATUS(status));
        /* the child's mounts went with its namespace */
        assert_int_equal(access(tmpfs, F_OK), 0);
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mounts_are_detached_not_emptied),
                cmocka_unit_test(test_locked_mount_is_not_crossed),
        };

        if (geteuid() != 0) {
                printf("SKIP: needs root to mount\n");
                return 77;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                printf("SKIP: cannot make a mount namespace: %m\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
