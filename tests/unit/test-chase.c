/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/basic/chase.c against a hostile tree: links out (absolute and through ".."), FIFOs, devices, hard links,
 * huge sparse files, loops. Run twice by meson: with openat2() and with the walk that replaces it. */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "tests.h"

#include "chase.h"
#include "fileio.h"
#include "strv.h"

typedef struct Fixture {
        char *dir;     /* holds both */
        char *tree;    /* the machine's tree */
        char *outside; /* the host: nothing here may change */
        int root_fd;
} Fixture;

static char *join(const char *a, const char *b) {
        char *p = strjoin(a, "/", b);
        assert_non_null(p);
        return p;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        f->dir = tests_mkdtemp();
        f->tree = join(f->dir, "tree");
        f->outside = join(f->dir, "outside");
        tests_write(f->dir, "outside/passwd", "host:secret\n");
        tests_write(f->dir, "outside/etc/passwd", "host:secret\n");
        tests_write(f->dir, "tree/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        f->root_fd = chase_root_open(f->tree);
        assert_true(f->root_fd >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        close(f->root_fd);
        tests_rm_rf(f->dir);
        free(f->dir);
        free(f->tree);
        free(f->outside);
        free(f);
        return 0;
}

static void replace_with_symlink(const Fixture *f, const char *rel, const char *target) {
        _cleanup_free_ char *p = join(f->tree, rel), *cmd = NULL;

        assert_true(asprintf(&cmd, "rm -rf '%s'", p) > 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(symlink(target, p), 0);
}

static char *read_outside(const Fixture *f, const char *rel) {
        _cleanup_free_ char *p = join(f->outside, rel);
        char *text = NULL;
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        return text;
}

static void test_plain(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size;

        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, &size, &st), 0);
        assert_string_equal(text, "root:x:0:0::/root:/bin/sh\n");
        assert_int_equal(size, strlen(text));
        assert_true(S_ISREG(st.st_mode));
        /* a leading "/" and "./" are the same path */
        free(text);
        assert_int_equal(chase_read_file(f->root_fd, "/./etc//passwd", 4096, &text, NULL, NULL), 0);
        assert_int_equal(chase_read_file(f->root_fd, "etc/missing", 4096, &text, NULL, NULL), -ENOENT);
        assert_int_equal(chase_read_file(f->root_fd, "etc", 4096, &text, NULL, NULL), -EBADFD);
        assert_int_equal(chase_read_file(f->root_fd, "etc/..", 4096, &text, NULL, NULL), -EINVAL);
}

/* A link in the middle is followed, but inside the tree: "/" is the tree's top, ".." stops there. */
static void test_links_stay_inside(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *abs = join(f->outside, "etc"), *text = NULL;

        tests_write(f->tree, "inner/passwd", "inner\n");
        /* the same path as the host's, inside the tree */
        _cleanup_free_ char *mirror_passwd = strjoin(f->outside + 1, "/passwd");
        tests_write(f->tree, mirror_passwd, "mirror\n");

        /* absolute: resolves to the tree's copy of that path */
        replace_with_symlink(f, "etc", abs);
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, NULL), -ENOENT);
        replace_with_symlink(f, "etc", f->outside);
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, NULL), 0);
        assert_string_equal(text, "mirror\n");
        free(text);
        text = NULL;

        /* relative, climbing far above the top: stops at the top */
        replace_with_symlink(f, "etc", "../../../../../../../../inner");
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, NULL), 0);
        assert_string_equal(text, "inner\n");
        free(text);
        text = NULL;
        assert_int_equal(chase_read_file(f->root_fd, "../../../../inner/passwd", 4096, &text, NULL, NULL), 0);
        assert_string_equal(text, "inner\n");
        free(text);
        text = NULL;

        /* a loop of links */
        replace_with_symlink(f, "etc", "loop");
        replace_with_symlink(f, "loop", "etc");
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, NULL), -ELOOP);
}

/* The last component is never followed: a link there is refused for reading, replaced for writing, removed
 * as a link; owner changes apply to the link. */
static void test_last_component_not_followed(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *victim = join(f->outside, "passwd"), *text = NULL, *out = NULL;
        struct stat st, before;

        assert_int_equal(lstat(victim, &before), 0);
        replace_with_symlink(f, "etc/passwd", victim);
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, NULL), -ELOOP);
        replace_with_symlink(f, "etc/group", "/dev/zero");
        assert_int_equal(chase_read_file(f->root_fd, "etc/group", 4096, &text, NULL, NULL), -ELOOP);
        assert_int_equal(chase_stat(f->root_fd, "etc/passwd", &st), 0);
        assert_true(S_ISLNK(st.st_mode));

        if (geteuid() == 0)
                assert_int_equal(chase_chown(f->root_fd, "etc/passwd", 4321, 4321), 0);
        assert_int_equal(chase_chmod(f->root_fd, "etc/passwd", 0777), -ELOOP);

        assert_int_equal(chase_write_file(f->root_fd, "etc/passwd", "new\n", 4, 0640, (uid_t) -1, (gid_t) -1, 0), 0);
        assert_int_equal(chase_read_file(f->root_fd, "etc/passwd", 4096, &text, NULL, &st), 0);
        assert_string_equal(text, "new\n");
        assert_int_equal(st.st_mode & 07777, 0640);

        replace_with_symlink(f, "etc/shadow", victim);
        assert_int_equal(chase_unlink(f->root_fd, "etc/shadow", 0), 0);
        assert_int_equal(chase_stat(f->root_fd, "etc/shadow", &st), -ENOENT);

        out = read_outside(f, "passwd");
        assert_string_equal(out, "host:secret\n");
        assert_int_equal(lstat(victim, &st), 0);
        assert_int_equal(st.st_uid, before.st_uid);
        assert_int_equal(st.st_mode, before.st_mode);
}

/* Writing with CHASE_MKDIR_P through a directory link pointing out: the directories are made inside. */
static void test_write_mkdir_inside(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *abs = join(f->outside, "etc"), *text = NULL, *inside = NULL;
        struct stat st;

        /* dangling inside the tree (the host has that path): nothing made, nothing written */
        replace_with_symlink(f, "etc", abs);
        assert_int_equal(chase_write_file(f->root_fd, "etc/sudoers.d/x", "rule\n", 5, 0440, (uid_t) -1, (gid_t) -1,
                                          CHASE_MKDIR_P), -ENOENT);
        _cleanup_free_ char *host = join(abs, "sudoers.d");
        assert_int_equal(stat(host, &st), -1);

        /* pointing to a directory inside: the missing ones are made there */
        tests_write(f->tree, "elsewhere/keep", "");
        replace_with_symlink(f, "etc", "/elsewhere");
        assert_int_equal(chase_write_file(f->root_fd, "etc/sudoers.d/x", "rule\n", 5, 0440, (uid_t) -1, (gid_t) -1,
                                          CHASE_MKDIR_P), 0);
        inside = join(f->tree, "elsewhere/sudoers.d/x");
        assert_int_equal(read_full_file(inside, &text, NULL), 0);
        assert_string_equal(text, "rule\n");

        /* relative, climbing above the top */
        tests_write(f->tree, "outside/keep", "");
        replace_with_symlink(f, "etc", "../../../../../outside");
        assert_int_equal(chase_write_file(f->root_fd, "etc/hostname", "m\n", 2, 0644, (uid_t) -1, (gid_t) -1,
                                          CHASE_MKDIR_P), 0);
        _cleanup_free_ char *h = join(f->outside, "hostname"), *hi = join(f->tree, "outside/hostname");
        assert_int_equal(stat(h, &st), -1);
        assert_int_equal(stat(hi, &st), 0);

        /* a file where a directory is expected */
        replace_with_symlink(f, "etc", "/outside/hostname");
        assert_int_equal(chase_write_file(f->root_fd, "etc/x", "m\n", 2, 0644, (uid_t) -1, (gid_t) -1, CHASE_MKDIR_P),
                         -ENOTDIR);
}

/* Reads: a FIFO returns at once, a device is refused, a hard link is refused, the cap holds. */
static void test_read_refuses(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *fifo = join(f->tree, "etc/shadow"), *big = join(f->tree, "etc/group"),
                            *hard = join(f->tree, "etc/gshadow"), *victim = join(f->outside, "passwd"), *text = NULL;
        time_t start = time(NULL);
        int fd;

        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(chase_read_file(f->root_fd, "etc/shadow", 4096, &text, NULL, NULL), -EBADFD);
        assert_true(time(NULL) - start < 5);

        /* 20 GiB, sparse */
        fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t) 20 << 30), 0);
        close(fd);
        assert_int_equal(chase_read_file(f->root_fd, "etc/group", CHASE_ACCOUNT_DB_MAX, &text, NULL, NULL), -EFBIG);

        assert_int_equal(link(victim, hard), 0);
        assert_int_equal(chase_read_file(f->root_fd, "etc/gshadow", 4096, &text, NULL, NULL), -EMLINK);

        if (geteuid() == 0) {
                _cleanup_free_ char *dev = join(f->tree, "etc/zero");
                assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 5)), 0);
                assert_int_equal(chase_read_file(f->root_fd, "etc/zero", 4096, &text, NULL, NULL), -EBADFD);
                assert_int_equal(chase_chmod(f->root_fd, "etc/zero", 0600), -EBADFD);
        }
        assert_int_equal(chase_chmod(f->root_fd, "etc/shadow", 0644), -EBADFD);
}

/* The cap: exactly max bytes are read, one more is refused. */
static void test_cap(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *buf = malloc(100001), *text = NULL;
        size_t size;

        memset(buf, 'a', 100000);
        buf[100000] = 0;
        tests_write(f->tree, "etc/big", buf);
        assert_int_equal(chase_read_file(f->root_fd, "etc/big", 100000, &text, &size, NULL), 0);
        assert_int_equal(size, 100000);
        assert_int_equal(chase_read_file(f->root_fd, "etc/big", 99999, &text, NULL, NULL) , -EFBIG);
        free(text);
        text = NULL;
        assert_int_equal(chase_read_file(f->root_fd, "etc/big", 10, &text, NULL, NULL), -EFBIG);
}

/* The owner and mode are set on the new file's descriptor. */
static void test_write_owner_mode(void **state) {
        Fixture *f = *state;
        struct stat st;

        if (geteuid() != 0)
                skip();
        assert_int_equal(chase_write_file(f->root_fd, "etc/shadow", "x\n", 2, 04640, 0, 42, 0), 0);
        assert_int_equal(chase_stat(f->root_fd, "etc/shadow", &st), 0);
        assert_int_equal(st.st_gid, 42);
        assert_int_equal(st.st_mode & 07777, 04640);
        assert_int_equal(chase_chown(f->root_fd, "etc/shadow", 7, 8), 0);
        assert_int_equal(chase_chmod(f->root_fd, "etc/shadow", 0600), 0);
        assert_int_equal(chase_stat(f->root_fd, "etc/shadow", &st), 0);
        assert_int_equal(st.st_uid, 7);
        assert_int_equal(st.st_mode & 07777, 0600);
}

static bool keep_lock(const char *name) {
        return streq(name, "lock");
}

static void test_empty_dir(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *victim = join(f->outside, "passwd"), *out = NULL;
        struct stat st;

        tests_write(f->tree, "var/lists/a", "a");
        tests_write(f->tree, "var/lists/lock", "");
        tests_write(f->tree, "var/lists/sub/b", "b");
        _cleanup_free_ char *l = join(f->tree, "var/lists/link");
        assert_int_equal(symlink(victim, l), 0);
        assert_int_equal(chase_empty_dir(f->root_fd, "var/lists", keep_lock), 0);
        assert_int_equal(chase_stat(f->root_fd, "var/lists/a", &st), -ENOENT);
        assert_int_equal(chase_stat(f->root_fd, "var/lists/lock", &st), 0);
        assert_int_equal(chase_stat(f->root_fd, "var/lists/sub/b", &st), 0);
        out = read_outside(f, "passwd");
        assert_string_equal(out, "host:secret\n");

        /* through a link out: the tree's path, not the host's */
        replace_with_symlink(f, "var", f->outside);
        assert_int_equal(chase_empty_dir(f->root_fd, "var", NULL), 0);
        free(out);
        out = read_outside(f, "passwd");
        assert_string_equal(out, "host:secret\n");
        assert_int_equal(chase_empty_dir(f->root_fd, "missing", NULL), 0);
}

static void test_root_open(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *link = join(f->dir, "link"), *file = join(f->outside, "passwd");

        assert_int_equal(symlink(f->outside, link), 0);
        assert_true(chase_root_open(link) < 0);
        assert_int_equal(chase_root_open(file), -ENOTDIR);
}

static void test_mode(void **state) {
        /* which of the two resolvers this run used: meson runs the binary once per mode */
        const char *e = getenv("MACHINESPAWN_CHASE_NO_OPENAT2");
        assert_int_equal(chase_have_openat2(), !(e && streq(e, "1")));
        printf("# resolver: %s\n", chase_have_openat2() ? "openat2" : "walk");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_links_stay_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_last_component_not_followed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_mkdir_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_owner_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_root_open, setup, teardown),
                cmocka_unit_test(test_mode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
