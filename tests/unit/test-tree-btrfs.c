/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trees on btrfs: cache trees are subvolumes, and a machine made from one is a snapshot; everywhere else the
 * copy it always was. Needs root, mkfs.btrfs and a loop device (a file system image of its own, mounted in a
 * mount namespace of its own); exits 77 otherwise. */
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "tests.h"

#include "cache.h"
#include "strv.h"
#include "tree.h"

static char *top;      /* the test's directory, with the image */
static char *btrfs;    /* a directory on a fresh btrfs */
static char *tmpfs;    /* another file system, mounted on it */

static char *join(const char *a, const char *b) {
        char *p = strjoin(a, "/", b);
        assert_non_null(p);
        return p;
}

static ino_t inode_of(const char *path) {
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return st.st_ino;
}

static void subvol_info(const char *path, struct btrfs_ioctl_get_subvol_info_args *ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        *ret = (struct btrfs_ioctl_get_subvol_info_args) {};
        assert_true(ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, ret) >= 0);
}

/* a small root file system: a set-uid program, a secret, a link, a hard link */
static void make_tree(const char *dir) {
        _cleanup_free_ char *tool = join(dir, "usr/bin/tool"), *shadow = join(dir, "etc/shadow"),
                            *sym = join(dir, "bin"), *hard = join(dir, "usr/bin/tool2");

        tests_write(dir, "usr/bin/tool", "#!/bin/sh\n");
        tests_write(dir, "etc/shadow", "root:*:1::::::\n");
        tests_write(dir, "etc/os-release", "ID=debian\n");
        assert_int_equal(chmod(tool, 04755), 0);
        assert_int_equal(chmod(shadow, 0640), 0);
        assert_int_equal(symlink("usr/bin", sym), 0);
        assert_int_equal(link(tool, hard), 0);
}

static void check_tree(const char *dir) {
        _cleanup_free_ char *tool = join(dir, "usr/bin/tool"), *shadow = join(dir, "etc/shadow"),
                            *sym = join(dir, "bin"), *text = tests_read(dir, "etc/os-release");
        char target[64] = {};
        struct stat st;

        assert_string_equal(text, "ID=debian\n");
        assert_int_equal(lstat(tool, &st), 0);
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(st.st_nlink, 2);
        assert_int_equal(lstat(shadow, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(readlink(sym, target, sizeof target - 1), (ssize_t) strlen("usr/bin"));
        assert_string_equal(target, "usr/bin");
}

/* The cache's build directory is a subvolume on btrfs and a plain directory elsewhere, 0755 both. */
static void test_cache_tmp_dir(void **state) {
        _cleanup_free_ char *cache = join(btrfs, "cache"), *other = join(tmpfs, "cache");
        _cleanup_free_ char *a = NULL, *b = NULL;
        struct stat st;

        assert_int_equal(cache_tmp_dir(cache, "key", &a), 0);
        assert_int_equal(inode_of(a), 256);
        assert_int_equal(stat(a, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(cache_tmp_dir(other, "key", &b), 0);
        assert_int_not_equal(inode_of(b), 256);
        assert_int_equal(stat(b, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(tree_make_top(a, 0755), -EEXIST);
        assert_int_equal(tree_make_top(b, 0755), -EEXIST);
        assert_int_equal(tree_remove(a, NULL), 0);
        assert_int_equal(tree_remove(b, NULL), 0);
}

/* From a cached subvolume, a machine is a snapshot of it: same content, its own from then on. */
static void test_clone_is_snapshot(void **state) {
        _cleanup_free_ char *base = join(btrfs, "base"), *machine = join(btrfs, "machine");
        _cleanup_free_ char *text = NULL;
        struct btrfs_ioctl_get_subvol_info_args b, m;
        RemoveStats stats = {};

        assert_int_equal(tree_make_top(base, 0755), 1);
        make_tree(base);
        assert_int_equal(tree_clone(base, machine), 0);
        assert_int_equal(inode_of(machine), 256);
        subvol_info(base, &b);
        subvol_info(machine, &m);
        assert_memory_equal(m.parent_uuid, b.uuid, sizeof b.uuid);
        assert_false(m.flags & BTRFS_SUBVOL_RDONLY);
        check_tree(machine);

        /* written in the machine, not in the base */
        tests_write(machine, "etc/os-release", "ID=changed\n");
        tests_write(machine, "new", "x");
        text = tests_read(base, "etc/os-release");
        assert_string_equal(text, "ID=debian\n");
        assert_false(tests_exists(base, "new"));

        assert_int_equal(tree_clone(base, machine), -EEXIST);
        free(text);
        text = tests_read(machine, "etc/os-release");
        assert_string_equal(text, "ID=changed\n");

        /* a subvolume with none below goes whole, not file by file */
        assert_int_equal(tree_remove(machine, &stats), 0);
        assert_int_equal(access(machine, F_OK), -1);
        assert_int_equal(stats.files, 0);
        assert_int_equal(stats.dirs, 1);
        check_tree(base);
        assert_int_equal(tree_remove(base, NULL), 0);
}

/* A plain directory on btrfs, or a subvolume cloned onto another file system: copied, never half done. */
static void test_clone_falls_back_to_copy(void **state) {
        _cleanup_free_ char *plain = join(btrfs, "plain"), *copy = join(btrfs, "copy"),
                            *base = join(btrfs, "base2"), *away = join(tmpfs, "away");

        assert_int_equal(mkdir(plain, 0755), 0);
        make_tree(plain);
        assert_int_equal(tree_clone(plain, copy), 0);
        assert_int_not_equal(inode_of(copy), 256);
        check_tree(copy);

        assert_int_equal(tree_make_top(base, 0755), 1);
        make_tree(base);
        assert_int_equal(tree_clone(base, away), 0);
        assert_int_not_equal(inode_of(away), 256);
        check_tree(away);

        assert_int_equal(tree_remove(plain, NULL), 0);
        assert_int_equal(tree_remove(copy, NULL), 0);
        assert_int_equal(tree_remove(base, NULL), 0);
        assert_int_equal(tree_remove(away, NULL), 0);
}

/* A machine that ran may hold subvolumes of its own (systemd-tmpfiles makes /var/lib/machines one): its
 * removal takes them too, walking the tree, and leaves the base alone. */
static void test_remove_snapshot_with_subvolumes(void **state) {
        _cleanup_free_ char *base = join(btrfs, "base3"), *machine = join(btrfs, "machine3"),
                            *inner = join(machine, "var/lib/machines"), *deeper = join(inner, "nested");
        RemoveStats stats = {};

        assert_int_equal(tree_make_top(base, 0755), 1);
        make_tree(base);
        assert_int_equal(tree_clone(base, machine), 0);
        tests_write(machine, "var/lib/.placeholder", "");
        assert_int_equal(tree_make_top(inner, 0700), 1);
        tests_write(inner, "file", "inside a subvolume");
        assert_int_equal(tree_make_top(deeper, 0755), 1);
        tests_write(deeper, "etc/hostname", "nested\n");

        assert_int_equal(tree_remove(machine, &stats), 0);
        assert_int_equal(access(machine, F_OK), -1);
        assert_true(stats.files >= 5);
        check_tree(base);
        assert_int_equal(tree_remove(base, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cache_tmp_dir),
                cmocka_unit_test(test_clone_is_snapshot),
                cmocka_unit_test(test_clone_falls_back_to_copy),
                cmocka_unit_test(test_remove_snapshot_with_subvolumes),
        };
        int r;

        if (tests_btrfs_tmpdir(&top) < 0)
                return 77;
        btrfs = tests_mkdtemp();
        tmpfs = tests_mkdtemp();
        if (mount("tmpfs", tmpfs, "tmpfs", 0, "mode=0755,size=16m") < 0) {
                printf("SKIP: cannot mount a tmpfs: %m\n");
                return 77;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        (void) umount2(tmpfs, MNT_DETACH);
        free(btrfs);
        free(tmpfs);
        tests_btrfs_done(top);
        return r;
}
