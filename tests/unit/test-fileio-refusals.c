/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/basic/fileio.c where it says no: files someone else controls (links, FIFOs, hard links, directories,
 * oversized files), names that are not names, writes that cannot land; and that a refused or failed write
 * leaves nothing behind. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"

#include "fileio.h"
#include "strv.h"

/* The names in dir, sorted, space separated. */
static char *listing(const char *dir) {
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        DIR *d = opendir(dir);
        char *text;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        assert_int_equal(strv_extend(&names, de->d_name), 0);
        closedir(d);
        strv_sort(names);
        text = names ? strv_join(names, " ") : strdup("");
        assert_non_null(text);
        return text;
}

static void test_read_regular_refusals(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *p = NULL, *q = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int fd;

        tests_write(root, "plain", "twelve bytes");
        tests_write(root, "victim", "host secret\n");
        tests_write(root, "sub/file", "x");
        p = strjoin(root, "/link");
        assert_int_equal(symlink("victim", p), 0);
        free(p);
        p = strjoin(root, "/fifo");
        assert_int_equal(mkfifo(p, 0644), 0);
        free(p);
        p = strjoin(root, "/victim");
        q = strjoin(root, "/hardlink");
        assert_int_equal(link(p, q), 0);
        free(p);
        p = strjoin(root, "/sparse");
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 1 << 20), 0);
        close(fd);
        dir_fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        assert_true(dir_fd >= 0);

        static const struct {
                const char *name;
                size_t max;
                int error;
        } cases[] = {
                { "sub/file", 100, -EINVAL },  /* a name, not a path */
                { "none", 100, -ENOENT },
                { "link", 100, -ELOOP },       /* never followed */
                { "fifo", 100, -EBADFD },      /* never opened to wait on */
                { "sub", 100, -EBADFD },
                { "hardlink", 100, -EMLINK },  /* a second name of a file elsewhere */
                { "victim", 100, -EMLINK },
                { "sparse", 4096, -EFBIG },
                { "plain", 11, -EFBIG },
                { "plain", 12, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = NULL;
                struct stat st = {};
                size_t size = 0;

                print_message("%s (max %zu)\n", cases[i].name, cases[i].max);
                assert_int_equal(read_regular_file_at(dir_fd, cases[i].name, cases[i].max, &text, &size, &st),
                                 cases[i].error);
                if (cases[i].error == 0) {
                        assert_string_equal(text, "twelve bytes");
                        assert_int_equal(size, 12);
                        assert_true(S_ISREG(st.st_mode));
                        assert_int_equal(st.st_size, 12);
                } else
                        assert_null(text);
        }
        tests_rm_rf(root);
}

static void test_write_refusals(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *p = NULL, *text = NULL, *names = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        struct stat st;
        mode_t old_umask;

        tests_write(root, "file", "a file\n");
        dir_fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        assert_true(dir_fd >= 0);

        /* a name only */
        assert_int_equal(write_file_atomic_owned_at(dir_fd, "sub/x", "x", 1, 0644, (uid_t) -1, (gid_t) -1, 0),
                         -EINVAL);
        /* into a directory that is not there, or through a file: nothing left behind */
        p = strjoin(root, "/missing/x");
        assert_int_equal(write_file_atomic(p, "x", 1, 0644, 0), -ENOENT);
        free(p);
        p = strjoin(root, "/file/x");
        assert_int_equal(write_file_atomic(p, "x", 1, 0644, WRITE_DURABLE), -ENOTDIR);
        assert_int_equal(mkdir_p(p, 0755), -ENOTDIR);
        assert_int_equal(mkdir_parents_at(dir_fd, "file/y/z", 0755), -ENOTDIR);
        names = listing(root);
        assert_string_equal(names, "file");
        names = mfree(names);

        /* the exact mode, whatever the umask */
        old_umask = umask(0077);
        assert_int_equal(write_file_atomic_owned_at(dir_fd, "exact", "e", 1, 0644, (uid_t) -1, (gid_t) -1,
                                                    WRITE_DURABLE),
                         0);
        umask(old_umask);
        assert_int_equal(fstatat(dir_fd, "exact", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(st.st_mode & 07777, 0644);

        /* a link replaced in one step, never written through */
        tests_write(root, "target", "target\n");
        assert_int_equal(symlinkat("target", dir_fd, "name"), 0);
        assert_int_equal(write_file_atomic_at(dir_fd, "name", "new\n", 4, 0644, 0), 0);
        assert_int_equal(fstatat(dir_fd, "name", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        p = mfree(p);
        p = strjoin(root, "/target");
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        assert_string_equal(text, "target\n");
        text = mfree(text);
        /* and a file replaced by a link the same way */
        assert_int_equal(symlink_atomic_at("elsewhere", dir_fd, "file"), 0);
        assert_int_equal(fstatat(dir_fd, "file", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(symlink_atomic_at("elsewhere", dir_fd, "missing/link"), -ENOENT);
        names = listing(root);
        assert_string_equal(names, "exact file name target");

        /* a directory is no file to read */
        assert_int_equal(read_full_file(root, &text, NULL), -EISDIR);
        assert_int_equal(read_full_file_at(dir_fd, "nothing", &text, NULL), -ENOENT);
        tests_rm_rf(root);
}

/* mkdir -p below a directory: what is there must be a directory, and a link is never followed; on a host
 * path (mkdir_p()) links are followed, as mkdir -p does, but a file or a link to nowhere is no directory. */
static void test_mkdir_refusals(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *elsewhere = tests_mkdtemp(), *p = NULL, *names = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        struct stat st;
        mode_t old_umask = umask(022);

        tests_write(root, "file", "a file\n");
        tests_write(root, "dir/file", "a file\n");
        dir_fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        assert_true(dir_fd >= 0);
        assert_int_equal(symlinkat(elsewhere, dir_fd, "link"), 0);
        assert_int_equal(symlinkat("dir", dir_fd, "rel-link"), 0);
        assert_int_equal(symlinkat("nowhere", dir_fd, "dangling"), 0);

        /* made, and there already */
        assert_int_equal(mkdir_p_at(dir_fd, "a/b/c", 0750), 0);
        assert_int_equal(fstatat(dir_fd, "a/b/c", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0750);
        assert_int_equal(mkdir_p_at(dir_fd, "a/b/c", 0755), 0);
        assert_int_equal(mkdir_p_at(dir_fd, "a//b/c/", 0755), 0);
        assert_int_equal(mkdir_parents_at(dir_fd, "a/b/d/file", 0755), 0);
        assert_true(tests_exists(root, "a/b/d"));
        assert_false(tests_exists(root, "a/b/d/file"));

        /* a file where a directory should be: the last component, or one on the way */
        assert_int_equal(mkdir_p_at(dir_fd, "file", 0755), -ENOTDIR);
        assert_int_equal(mkdir_p_at(dir_fd, "dir/file", 0755), -ENOTDIR);
        assert_int_equal(mkdir_p_at(dir_fd, "file/x/y", 0755), -ENOTDIR);
        assert_int_equal(mkdir_parents_at(dir_fd, "file/z", 0755), -ENOTDIR);
        assert_int_equal(mkdir_parents_at(dir_fd, "dir/file/z", 0755), -ENOTDIR);

        /* a link, to a directory or to nothing, last or on the way: no directory, nothing made through it */
        static const char *const linked[] = { "link", "link/x", "link/x/y", "rel-link", "rel-link/x",
                                              "dangling", "dangling/x", "dir/../link/x" };
        for (size_t i = 0; i < ELEMENTSOF(linked); i++) {
                print_message("%s\n", linked[i]);
                assert_int_equal(mkdir_p_at(dir_fd, linked[i], 0755), -ENOTDIR);
        }
        assert_int_equal(mkdir_parents_at(dir_fd, "link/x/file", 0755), -ENOTDIR);
        names = listing(elsewhere);
        assert_string_equal(names, "");
        names = mfree(names);
        names = listing(p = strjoin(root, "/dir"));
        assert_string_equal(names, "file");
        names = mfree(names);
        p = mfree(p);
        assert_int_equal(fstatat(dir_fd, "dangling", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_false(tests_exists(root, "nowhere"));

        /* a host path: a file is no directory, a link is followed */
        p = strjoin(root, "/file");
        assert_int_equal(mkdir_p(p, 0755), -ENOTDIR);
        p = mfree(p);
        p = strjoin(root, "/file/x");
        assert_int_equal(mkdir_parents(p, 0755), -ENOTDIR);
        p = mfree(p);
        p = strjoin(root, "/dangling/x");
        assert_int_equal(mkdir_p(p, 0755), -ENOTDIR);
        p = mfree(p);
        p = strjoin(root, "/link/x/y");
        assert_int_equal(mkdir_p(p, 0755), 0);
        assert_true(tests_exists(elsewhere, "x/y"));
        umask(old_umask);
        tests_rm_rf(root);
        tests_rm_rf(elsewhere);
}

static int writer_ok(const void *userdata, FILE *f) {
        fprintf(f, "%s=%i\n", (const char *) userdata, 1);
        return 0;
}

static int writer_fails(const void *userdata, FILE *f) {
        fputs("half", f);
        return -EUCLEAN;
}

static void test_write_to_string(void **state) {
        _cleanup_free_ char *text = NULL;

        assert_int_equal(write_to_string(writer_ok, "key", &text), 0);
        assert_string_equal(text, "key=1\n");
        text = mfree(text);
        /* the writer's error, and no half output */
        assert_int_equal(write_to_string(writer_fails, NULL, &text), -EUCLEAN);
        assert_null(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_regular_refusals),
                cmocka_unit_test(test_write_refusals),
                cmocka_unit_test(test_mkdir_refusals),
                cmocka_unit_test(test_write_to_string),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
