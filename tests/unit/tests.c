/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fileio.h"
#include "paths.h"
#include "strv.h"
#include "tests.h"

char *tests_mkdtemp(void) {
        char *p;
        assert_true(asprintf(&p, "%s/mspawn-test-XXXXXX", getenv("TMPDIR") ?: "/tmp") > 0);
        assert_non_null(mkdtemp(p));
        return p;
}

int tests_btrfs_tmpdir(char **ret_top) {
        _cleanup_free_ char *cmd = NULL, *mnt = NULL;
        char *top;

        if (geteuid() != 0)
                return printf("SKIP: needs root to mount a btrfs\n"), -EPERM;
        if (system("command -v mkfs.btrfs >/dev/null") != 0)
                return printf("SKIP: needs mkfs.btrfs (apt-get install btrfs-progs)\n"), -ENOENT;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return printf("SKIP: cannot make a mount namespace: %m\n"), -errno;
        top = tests_mkdtemp();
        mnt = strjoin(top, "/btrfs");
        /* sparse: a few MiB of it are ever written; mount -o loop frees the loop device with the mount */
        cmd = strjoin("truncate -s 256M ", top, "/btrfs.img && mkfs.btrfs -q -f ", top, "/btrfs.img >/dev/null && "
                      "mkdir ", mnt, " && mount -o loop ", top, "/btrfs.img ", mnt);
        assert_true(cmd && mnt);
        if (system(cmd) != 0) {
                tests_rm_rf(top);
                free(top);
                return printf("SKIP: cannot make and mount a btrfs on a loop device\n"), -EIO;
        }
        assert_int_equal(setenv("TMPDIR", mnt, 1), 0);
        *ret_top = top;
        return 0;
}

int tests_btrfs_from_args(int argc, char *argv[], char **ret_top) {
        *ret_top = NULL;
        if (argc < 2 || !streq(argv[1], "--btrfs"))
                return 0;
        return tests_btrfs_tmpdir(ret_top) < 0 ? -1 : 1;
}

void tests_btrfs_done(char *top) {
        _cleanup_free_ char *mnt = NULL;

        if (!top)
                return;
        mnt = strjoin(top, "/btrfs");

        if (mnt)
                (void) umount2(mnt, MNT_DETACH);
        tests_rm_rf(top);
        free(top);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void tests_rm_rf(const char *path) {
        if (path)
                (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tests_write(const char *dir, const char *rel, const char *content) {
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
        assert_int_equal(mkdir_parents(p, 0755), 0);
        if (!content)
                assert_int_equal(symlink("/dev/null", p), 0);
        else
                assert_int_equal(write_file_atomic(p, content, strlen(content), 0644, 0), 0);
}

bool tests_skipped = false;

void tests_skip_part(const char *why) {
        printf("SKIP: %s\n", why);
        tests_skipped = true;
}

int tests_result(int failed) {
        if (failed == 0 && tests_skipped) {
                printf("SKIP: some tests did not run here (see above); exit status 77\n");
                return 77;
        }
        return failed;
}

char *tests_read(const char *dir, const char *rel) {
        _cleanup_free_ char *p = strjoin(dir, "/", rel);
        char *text = NULL;

        if (read_full_file(p, &text, NULL) < 0)
                return NULL;
        return text;
}

bool tests_exists(const char *dir, const char *rel) {
        _cleanup_free_ char *p = strjoin(dir, "/", rel);
        struct stat st;

        return lstat(p, &st) >= 0;
}

void tests_said_only(const Diagnostics *d, int level, const char *message) {
        for (size_t i = 0; i < d->n; i++)
                print_message("said: %s\n", d->items[i].message);
        assert_int_equal(d->n, 1);
        assert_int_equal(d->items[0].level, level);
        assert_string_equal(d->items[0].message, message);
}

const Paths *tests_paths(void) {
        static Paths p;
        paths_from_environment(&p);
        return &p;
}
