/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <time.h>
#include <sys/stat.h>

#include "tests.h"

#include "fileio.h"
#include "strv.h"
#include "tree.h"

static char *join(const char *a, const char *b) {
        char *p = strjoin(a, "/", b);
        assert_non_null(p);
        return p;
}

/* A tree with links pointing out of it, to a file and to a directory, absolute and relative: removing
 * the tree removes the links, never what they point to. */
static void test_remove_never_follows_links(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *outside = join(root, "outside"), *tree = join(root, "tree");
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *f = join(outside, "keep");
        RemoveStats stats = {};

        tests_write(root, "outside/keep", "host file");
        tests_write(root, "outside/sub/keep2", "host file 2");
        tests_write(root, "tree/etc/hostname", "m\n");
        tests_write(root, "tree/usr/lib/deep/deeper/file", "x");
        a = join(tree, "link-to-dir");
        b = join(tree, "usr/link-to-file");
        c = join(tree, "usr/lib/relative-up");
        assert_int_equal(symlink(outside, a), 0);
        assert_int_equal(symlink(f, b), 0);
        assert_int_equal(symlink("../../../outside", c), 0);
        _cleanup_free_ char *fifo = join(tree, "fifo");
        assert_int_equal(mkfifo(fifo, 0600), 0);

        assert_int_equal(tree_remove(tree, &stats), 0);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(access(f, F_OK), 0);
        _cleanup_free_ char *k2 = join(outside, "sub/keep2");
        assert_int_equal(access(k2, F_OK), 0);
        assert_int_equal(stats.files, 6); /* hostname, file, 3 links, fifo */
        assert_int_equal(stats.dirs, 6);  /* etc usr lib deep deeper + the top */
        tests_rm_rf(root);
}

static void test_remove_refuses_top_symlink(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *target = join(root, "real"), *link = join(root, "link");

        tests_write(root, "real/file", "x");
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(tree_remove(link, NULL), -ENOTDIR);
        _cleanup_free_ char *file = join(target, "file");
        assert_int_equal(access(file, F_OK), 0);
        tests_rm_rf(root);
}

static void test_mounts_below(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *mi = join(root, "mountinfo");
        _cleanup_strv_free_ char **l = NULL;

        tests_write(root, "mountinfo",
                    "22 1 8:1 / / rw - ext4 /dev/vda rw\n"
                    "30 22 8:1 /home /var/lib/machines/m1/home rw - ext4 /dev/vda rw\n"
                    "31 30 8:1 /srv /var/lib/machines/m1/home/a\\040b rw - ext4 /dev/vda rw\n"
                    "32 22 8:1 /srv /var/lib/machines/m10/x rw - ext4 /dev/vda rw\n"
                    "33 22 0:5 / /var/lib/machines/m1 rw - tmpfs tmpfs rw\n");
        assert_int_equal(mounts_below("/var/lib/machines/m1", mi, &l), 0);
        /* deepest first, the escaped space decoded, m10 is not below m1, m1 itself is not below m1 */
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "/var/lib/machines/m1/home/a b");
        assert_string_equal(l[1], "/var/lib/machines/m1/home");
        tests_rm_rf(root);
}

static void test_clone_keeps_what_matters(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *src = join(root, "src"), *dst = join(root, "dst");
        _cleanup_free_ char *l1 = NULL, *l2 = NULL, *h1 = NULL, *h2 = NULL, *x = NULL;
        struct stat a, b;
        char target[64] = "";

        tests_write(root, "src/etc/shadow", "secret");
        tests_write(root, "src/usr/bin/tool", "#!/bin/sh\n");
        x = join(src, "usr/bin/tool");
        assert_int_equal(chmod(x, 04755), 0);
        _cleanup_free_ char *sh = join(src, "etc/shadow");
        assert_int_equal(chmod(sh, 0640), 0);
        l1 = join(src, "usr/bin/link");
        assert_int_equal(symlink("tool", l1), 0);
        h1 = join(src, "usr/bin/hard");
        assert_int_equal(link(x, h1), 0);

        assert_int_equal(tree_clone(src, dst), 0);

        _cleanup_free_ char *dx = join(dst, "usr/bin/tool"), *dsh = join(dst, "etc/shadow");
        assert_int_equal(stat(dx, &a), 0);
        assert_int_equal(a.st_mode & 07777, 04755);
        assert_int_equal(stat(dsh, &b), 0);
        assert_int_equal(b.st_mode & 07777, 0640);
        l2 = join(dst, "usr/bin/link");
        assert_true(readlink(l2, target, sizeof target - 1) > 0);
        assert_string_equal(target, "tool");
        h2 = join(dst, "usr/bin/hard");
        assert_int_equal(stat(h2, &b), 0);
        assert_true(a.st_ino == b.st_ino); /* still one file with two names */
        /* the destination must not exist yet */
        assert_int_equal(tree_clone(src, dst), -EEXIST);
        tests_rm_rf(root);
}

static void test_pack_unpack_roundtrip(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *src = join(root, "src"), *dst = join(root, "dst"),
                            *archive = join(root, "base.tar.zst");
        _cleanup_free_ char *x = NULL, *h = NULL, *l = NULL, *dx = NULL, *dh = NULL, *dl = NULL, *text = NULL;
        struct stat a, b;
        char target[64] = "", xattr[16] = "";

        tests_write(root, "src/usr/bin/tool", "#!/bin/sh\n");
        tests_write(root, "src/etc/os-release", "ID=debian\n");
        x = join(src, "usr/bin/tool");
        h = join(src, "usr/bin/hard");
        l = join(src, "usr/bin/link");
        assert_int_equal(chown(x, 1000, 42), 0); /* before chmod: chown clears the setuid bit */
        assert_int_equal(chmod(x, 04755), 0);
        assert_int_equal(link(x, h), 0);
        assert_int_equal(symlink("tool", l), 0);
        bool have_xattr = setxattr(x, "user.mspawn", "kept", 4, 0) >= 0; /* tmpfs before 6.6 has no user.* */
        if (!have_xattr)
                tests_skip_part("this file system has no user.* xattrs: xattr round trip not checked");

        assert_int_equal(tree_pack(src, archive), 0);
        assert_int_equal(tree_unpack(archive, dst), 0);

        dx = join(dst, "usr/bin/tool");
        dh = join(dst, "usr/bin/hard");
        dl = join(dst, "usr/bin/link");
        assert_int_equal(stat(dx, &a), 0);
        assert_int_equal(a.st_mode & 07777, 04755);
        assert_int_equal(a.st_uid, 1000);
        assert_int_equal(a.st_gid, 42);
        assert_int_equal(stat(dh, &b), 0);
        assert_true(a.st_ino == b.st_ino);
        assert_true(readlink(dl, target, sizeof target - 1) > 0);
        assert_string_equal(target, "tool");
        if (have_xattr) {
                assert_int_equal(getxattr(dx, "user.mspawn", xattr, sizeof xattr - 1), 4);
                assert_string_equal(xattr, "kept");
        }
        _cleanup_free_ char *osr = join(dst, "etc/os-release");
        assert_int_equal(read_full_file(osr, &text, NULL), 0);
        assert_string_equal(text, "ID=debian\n");
        /* the destination must not exist yet */
        assert_int_equal(tree_unpack(archive, dst), -EEXIST);
        tests_rm_rf(root);
}

/* Root only: a bind mount of a host directory inside the tree. The file behind it survives. */
/* What the helpers run: the exit status, 128 + the signal of a killed one, -errno when it cannot start;
 * the extra environment reaches it. */
static void test_spawn_wait(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *out = join(root, "out"), *script = NULL, *text = NULL;

        assert_int_equal(spawn_wait((char *[]) { (char *) "true", NULL }, NULL), 0);
        assert_int_equal(spawn_wait((char *[]) { (char *) "sh", (char *) "-c", (char *) "exit 7", NULL }, NULL), 7);
        assert_int_equal(spawn_wait((char *[]) { (char *) "sh", (char *) "-c", (char *) "kill -KILL $$", NULL }, NULL),
                         128 + 9);
        assert_int_equal(spawn_wait((char *[]) { (char *) "/nonexistent/tool", NULL }, NULL), -ENOENT);
        assert_true(asprintf(&script, "echo \"$MSPAWN_A $MSPAWN_B\" >'%s'", out) > 0);
        assert_int_equal(spawn_wait((char *[]) { (char *) "sh", (char *) "-c", script, NULL },
                                    (char *[]) { (char *) "MSPAWN_A=one", (char *) "MSPAWN_B=two words", NULL }),
                         0);
        assert_int_equal(read_full_file(out, &text, NULL), 0);
        assert_string_equal(text, "one two words\n");
        tests_rm_rf(root);
}

/* A copy or an unpacking that fails is an error, and the target must not have existed. */
static void test_clone_unpack_failures(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *src = join(root, "src"), *dst = join(root, "dst");
        _cleanup_free_ char *garbage = join(root, "garbage.tar.zst"), *none = join(root, "none");

        tests_write(root, "src/file", "x");
        tests_write(root, "garbage.tar.zst", "not an archive");
        tests_write(root, "dst/.keep", "");
        assert_int_equal(tree_clone(src, dst), -EEXIST);
        assert_int_equal(tree_unpack(garbage, dst), -EEXIST);
        tests_rm_rf(dst);
        /* a source that is not there is said before anything is made */
        assert_int_equal(tree_clone(none, dst), -ENOENT);
        assert_int_equal(access(dst, F_OK), -1);
        assert_int_equal(tree_unpack(garbage, dst), -EIO);
        tests_rm_rf(dst);
        /* packing into a directory that is not there */
        _cleanup_free_ char *bad = join(root, "none/base.tar.zst");
        assert_int_equal(tree_pack(src, bad), -EIO);
        tests_rm_rf(root);
}

static void test_remove_with_bind_mount(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *host = join(root, "host"), *tree = join(root, "tree");
        _cleanup_free_ char *mp = join(tree, "mnt/host"), *keep = join(host, "precious");
        RemoveStats stats = {};

        if (geteuid() != 0) {
                tests_rm_rf(root);
                skip();
        }
        tests_write(root, "host/precious", "host data");
        tests_write(root, "tree/mnt/host/.placeholder", "");
        tests_write(root, "tree/etc/os-release", "ID=debian\n");
        assert_int_equal(mount(host, mp, NULL, MS_BIND, NULL), 0);

        assert_int_equal(tree_remove(tree, &stats), 0);
        assert_int_equal(stats.mounts_detached, 1);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(access(keep, F_OK), 0);
        tests_rm_rf(root);
}

/* A chain of depth directories below tree (made relative to descriptors: the path is far beyond PATH_MAX),
 * with a file and a link out at every level. Returns an O_PATH descriptor of the deepest directory. */
static int make_deep(const char *tree, unsigned depth, const char *outside) {
        int fd;

        assert_int_equal(mkdir(tree, 0755), 0);
        fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (unsigned i = 0; i < depth; i++) {
                int next;
                assert_int_equal(mkdirat(fd, "d", 0755), 0);
                if (i % 100 == 0) {
                        int ffd = openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                        assert_true(ffd >= 0);
                        assert_int_equal(write(ffd, "x", 1), 1);
                        close(ffd);
                        assert_int_equal(symlinkat(outside, fd, "out"), 0);
                }
                next = openat(fd, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
                assert_true(next >= 0);
                close(fd);
                fd = next;
        }
        return fd;
}

static void with_nofile(rlim_t n, struct rlimit *saved) {
        struct rlimit rl;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
        rl = *saved;
        rl.rlim_cur = n;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static void remove_deep(unsigned depth) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = join(root, "tree"), *outside = join(root, "outside");
        RemoveStats stats = {};
        struct rlimit saved;
        uint64_t size = 0;
        time_t start;

        tests_write(root, "outside/keep", "host file");
        close(make_deep(tree, depth, outside));

        /* the service default is 1,024; 256 leaves no room for one descriptor per level either */
        with_nofile(256, &saved);
        assert_int_equal(tree_disk_usage(tree, &size), 0);
        assert_int_equal(size, (depth + 99) / 100);
        start = time(NULL);
        assert_int_equal(tree_remove(tree, &stats), 0);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        printf("# %u levels removed in %lld s\n", depth, (long long) (time(NULL) - start));
        assert_int_equal(stats.dirs, depth + 1);
        assert_int_equal(stats.files, 2 * ((depth + 99) / 100));
        assert_int_equal(access(tree, F_OK), -1);
        _cleanup_free_ char *keep = join(outside, "keep");
        assert_int_equal(access(keep, F_OK), 0);
        tests_rm_rf(root);
}

static void test_remove_3000_deep(void **state) {
        remove_deep(3000);
}

static void test_remove_10000_deep(void **state) {
        remove_deep(10000);
}

/* Root only: a bind mount 3,000 levels down, where /proc/self/mountinfo cannot even spell its path, so
 * it is still there when the walk reaches it: the walk must not cross it. */
static void test_remove_deep_mount_not_crossed(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = join(root, "tree"), *host = join(root, "host"),
                            *keep = join(host, "precious"), *proc = NULL;
        struct rlimit saved;
        int deep, mp;

        tests_write(root, "host/precious", "host data");
        deep = make_deep(tree, 3000, host);
        assert_int_equal(mkdirat(deep, "mnt", 0755), 0);
        mp = openat(deep, "mnt", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(mp >= 0);
        assert_true(asprintf(&proc, "/proc/self/fd/%i", mp) > 0);
        assert_int_equal(mount(host, proc, NULL, MS_BIND, NULL), 0);

        with_nofile(256, &saved);
        assert_int_equal(tree_remove(tree, NULL), -EBUSY);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        assert_int_equal(access(keep, F_OK), 0);

        /* the levels down to the mount stay (they are not empty), so the mount can still be undone */
        close(mp);
        mp = openat(deep, "mnt", O_PATH | O_DIRECTORY | O_CLOEXEC);
        free(proc);
        assert_true(asprintf(&proc, "/proc/self/fd/%i", mp) > 0);
        assert_int_equal(umount2(proc, MNT_DETACH), 0);
        close(mp);
        close(deep);
        assert_int_equal(tree_remove(tree, NULL), 0);
        assert_int_equal(access(keep, F_OK), 0);
        tests_rm_rf(root);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_remove_never_follows_links),
                cmocka_unit_test(test_remove_refuses_top_symlink),
                cmocka_unit_test(test_mounts_below),
                cmocka_unit_test(test_clone_keeps_what_matters),
                cmocka_unit_test(test_remove_3000_deep),
                cmocka_unit_test(test_remove_10000_deep),
                cmocka_unit_test(test_spawn_wait),
                cmocka_unit_test(test_clone_unpack_failures),
        };
        const struct CMUnitTest root_tests[] = {
                cmocka_unit_test(test_remove_with_bind_mount),
                cmocka_unit_test(test_remove_deep_mount_not_crossed),
                cmocka_unit_test(test_pack_unpack_roundtrip), /* owners */
        };

        /* "--root": the tests that need root, a separate meson test that skips (77) without it */
        if (argc > 1 && streq(argv[1], "--root")) {
                if (geteuid() != 0) {
                        printf("SKIP: needs root to bind-mount\n");
                        return 77;
                }
                /* our mounts stay in a namespace of our own */
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                        printf("SKIP: cannot make a private mount namespace: %m\n");
                        return 77;
                }
                return cmocka_run_group_tests(root_tests, NULL, NULL);
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
