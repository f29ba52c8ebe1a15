/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a program prints: levels, the prefix, "%m" of the error handed in, FILE:LINE, and the copy for
 * /dev/kmsg (checked, as root, in a mount namespace of our own whose /dev/kmsg is a plain file). */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>

#include "tests.h"

#include "fileio.h"
#include "log.h"

static char *dir;

/* Runs f with stderr going to a file; returns what it printed. */
static char *captured(void (*f)(void)) {
        _cleanup_free_ char *p = NULL;
        char *text = NULL;
        int saved, fd;

        assert_true(asprintf(&p, "%s/stderr", dir) > 0);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        close(fd);
        f();
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        return text;
}

static int ret_error, ret_oom, errno_after;

static void say_things(void) {
        log_set_prefix(NULL);
        log_set_max_level(LOG_INFO);
        log_debug("not shown");
        log_info("shown %d", 1);
        errno = EPERM;
        ret_error = log_error_errno(-ENOENT, "Cannot open x: %m");
        errno_after = errno;
        log_set_prefix("machinespawn-generator");
        log_syntax("/etc/machinespawn/a.mspawn", 7, LOG_WARNING, 0, "Unknown key, ignoring.");
        log_set_max_level(LOG_DEBUG);
        log_debug("now shown");
        ret_oom = log_oom();
        log_set_max_level(LOG_INFO);
        log_set_prefix(NULL);
}

static void test_levels_prefix_errno(void **state) {
        _cleanup_free_ char *text = captured(say_things);

        assert_string_equal(text, "shown 1\n"
                                  "Cannot open x: No such file or directory\n"
                                  "machinespawn-generator: /etc/machinespawn/a.mspawn:7: Unknown key, ignoring.\n"
                                  "machinespawn-generator: now shown\n"
                                  "machinespawn-generator: Out of memory.\n");
        assert_int_equal(ret_error, -ENOENT);
        assert_int_equal(errno_after, EPERM);
        assert_int_equal(ret_oom, -ENOMEM);
        assert_int_equal(log_get_max_level(), LOG_INFO);
        /* an error of 0 is no error */
        assert_int_equal(log_full_errno(LOG_DEBUG, 0, "quiet"), 0);
}

static void to_kmsg(void) {
        log_set_prefix("machinespawn-generator");
        log_error("broken %s", "thing");
        log_debug("not for the kernel either");
        log_set_prefix(NULL);
        log_warning("no prefix");
}

static void test_kmsg(void **state) {
        _cleanup_free_ char *text = NULL, *out = NULL;

        if (geteuid() != 0) {
                tests_skip_part("needs root to bind a file over /dev/kmsg");
                return;
        }
        /* a /dev of our own, whether or not this host (a container) has a /dev/kmsg */
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        assert_int_equal(mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755,size=64k"), 0);
        tests_write("/dev", "kmsg", "");

        assert_int_equal(log_open_kmsg(), 0);
        assert_int_equal(log_open_kmsg(), 0); /* once */
        out = captured(to_kmsg);
        log_close_kmsg();
        log_error("after closing");
        assert_int_equal(read_full_file("/dev/kmsg", &text, NULL), 0);
        assert_int_equal(umount2("/dev", MNT_DETACH), 0);

        assert_string_equal(text, "<27>machinespawn-generator: broken thing\n<28>machinespawn: no prefix\n");
        assert_string_equal(out, "machinespawn-generator: broken thing\nno prefix\n");
}

static void test_kmsg_missing(void **state) {
        if (geteuid() != 0) {
                tests_skip_part("needs root to hide /dev/kmsg");
                return;
        }
        /* /dev/kmsg hidden by an empty tmpfs */
        assert_int_equal(unshare(CLONE_NEWNS), 0);
        assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        assert_int_equal(mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755,size=64k"), 0);
        assert_int_equal(log_open_kmsg(), -ENOENT);
        assert_int_equal(umount2("/dev", MNT_DETACH), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels_prefix_errno),
                cmocka_unit_test(test_kmsg),
                cmocka_unit_test(test_kmsg_missing),
        };
        int r;

        dir = tests_mkdtemp();
        r = cmocka_run_group_tests(tests, NULL, NULL);
        tests_rm_rf(dir);
        free(dir);
        return r;
}
