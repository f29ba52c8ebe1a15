/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/socket.h>
#include <sys/un.h>

#include "tests.h"

#include "diag.h"
#include "fileio.h"
#include "strv.h"
#include "user.h"

static const HostUser ALICE = {
        .name = (char *) "alice", .group = (char *) "alice", .gecos = (char *) "Alice", .home = (char *) "/home/alice",
        .shell = (char *) "/bin/bash", .uid = 1234, .gid = 1234,
};

static void test_passwd(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        HostUser moved = ALICE;

        assert_int_equal(passwd_apply("root:x:0:0:root:/root:/bin/bash\n", &ALICE, &a), 0);
        assert_string_equal(a, "root:x:0:0:root:/root:/bin/bash\nalice:x:1234:1234:Alice:/home/alice:/bin/bash\n");
        /* a UID changed on the host replaces the line, nothing else moves */
        moved.uid = 1300;
        assert_int_equal(passwd_apply(a, &moved, &b), 0);
        assert_string_equal(b, "root:x:0:0:root:/root:/bin/bash\nalice:x:1300:1234:Alice:/home/alice:/bin/bash\n");
}

static void test_group(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        const char *text = "root:x:0:\naudio:x:29:pulse\n";
        gid_t gid;

        assert_int_equal(group_apply(text, "audio", 29, "alice", &a), 0);
        assert_string_equal(a, "root:x:0:\naudio:x:29:pulse,alice\n");
        /* idempotent: a second start adds nothing */
        assert_int_equal(group_apply(a, "audio", 29, "alice", &b), 0);
        assert_string_equal(a, b);
        assert_int_equal(group_apply(b, "alice", 1234, NULL, &c), 0);
        assert_non_null(strstr(c, "\nalice:x:1234:\n"));
        assert_int_equal(group_gid(c, "audio", &gid), 0);
        assert_int_equal(gid, 29);
        assert_int_equal(group_gid(c, "video", &gid), -ENOENT);
        /* "aud" is not "audio" */
        assert_int_equal(group_gid(c, "aud", &gid), -ENOENT);
        assert_int_equal(group_free_gid("a:x:1000:\nb:x:1001:\n"), 1002);
        assert_int_equal(group_free_gid(""), 1000);
}

static void test_shadow(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(shadow_apply("root:*:19000:0:99999:7:::\n", "alice", &a), 0);
        assert_string_equal(a, "root:*:19000:0:99999:7:::\nalice:!:1::::::\n");
        /* a password set inside the machine stays */
        assert_int_equal(shadow_apply("alice:$y$secret:19000::::::\n", "alice", &b), 0);
        assert_string_equal(b, "alice:$y$secret:19000::::::\n");
}

static void test_provision_tree(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *p = NULL, *g = NULL, *s = NULL, *sudo = NULL;
        _cleanup_strv_free_ char **groups = NULL;

        tests_write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        tests_write(root, "etc/group", "root:x:0:\naudio:x:29:\n");
        tests_write(root, "etc/shadow", "root:*:19000:0:99999:7:::\n");
        tests_write(root, "etc/gshadow", "root:*::\naudio:*::\n");
        assert_int_equal(strv_split_words(&groups, "audio newgroup"), 0);

        assert_int_equal(machine_provision_user(root, &ALICE, groups, true), 0);
        p = strjoin(root, "/etc/passwd");
        g = strjoin(root, "/etc/group");
        _cleanup_free_ char *tp = NULL, *tg = NULL, *ts = NULL;
        assert_int_equal(read_full_file(p, &tp, NULL), 0);
        assert_non_null(strstr(tp, "alice:x:1234:1234:Alice:/home/alice:/bin/bash\n"));
        assert_int_equal(read_full_file(g, &tg, NULL), 0);
        assert_non_null(strstr(tg, "audio:x:29:alice\n"));
        assert_non_null(strstr(tg, "alice:x:1234:\n"));
        assert_non_null(strstr(tg, ":alice\n")); /* newgroup, with some GID */
        assert_non_null(strstr(tg, "newgroup:x:"));
        sudo = strjoin(root, "/etc/sudoers.d/machinespawn-alice");
        assert_int_equal(access(sudo, F_OK), 0);
        _cleanup_free_ char *gs = strjoin(root, "/etc/gshadow"), *tgs = NULL;
        assert_int_equal(read_full_file(gs, &tgs, NULL), 0);
        assert_non_null(strstr(tgs, "audio:*::alice\n"));
        assert_non_null(strstr(tgs, "newgroup:!::alice\n"));

        /* Sudo= turned off again: the rule goes */
        assert_int_equal(machine_provision_user(root, &ALICE, groups, false), 0);
        assert_int_equal(access(sudo, F_OK), -1);
        s = strjoin(root, "/etc/shadow");
        assert_int_equal(read_full_file(s, &ts, NULL), 0);
        assert_non_null(strstr(ts, "alice:!:"));
        tests_rm_rf(root);
}

static void make_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        close(fd);
}

static void test_session_sockets(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *rt = strjoin(root, "/rt"), *x11 = strjoin(root, "/x11"),
                            *p = NULL, *home = strjoin(root, "/home");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(host_sockets_done) HostSockets s = {}, none = {};
        HostUser u = ALICE;

        u.home = home;
        tests_write(root, "rt/pulse/.keep", "");
        tests_write(root, "x11/.keep", "");
        tests_write(root, "home/.Xauthority", "cookie");
        p = strjoin(x11, "/X7");
        make_socket(p);
        free(p);
        p = strjoin(x11, "/X12");
        make_socket(p);
        free(p);
        p = strjoin(rt, "/pulse/native");
        make_socket(p);

        assert_int_equal(host_sockets_find(&u, true, true, rt, x11, &s, &d), 0);
        assert_int_equal(d.n, 0);
        /* the lowest display, its cookie from the home, PulseAudio; no Wayland, no PipeWire here */
        assert_true(strv_contains(s.env, "DISPLAY=:7"));
        assert_true(strv_contains(s.env, "XAUTHORITY=/run/machinespawn-host/Xauthority"));
        assert_true(strv_contains(s.env, "PULSE_SERVER=unix:/run/machinespawn-host/pulse-native"));
        assert_int_equal(strv_length(s.env), 3);
        _cleanup_free_ char *xb = strjoin(x11, "/X7:/tmp/.X11-unix/X7");
        assert_true(strv_contains(s.binds, xb));

        /* nothing running: warnings, no failure */
        assert_int_equal(host_sockets_find(&u, true, true, "/nonexistent", "/nonexistent", &none, &d), 0);
        assert_int_equal(diagnostics_count(&d, LOG_WARNING), 2);
        assert_null(none.env);
        tests_rm_rf(root);
}

/* A Wayland session with PipeWire, the X server's cookie from the display manager: all of them bound and
 * pointed to; a file named like a socket is not one. */
static void test_session_sockets_wayland_pipewire(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *rt = strjoin(root, "/rt"), *x11 = strjoin(root, "/x11"),
                            *p = NULL, *home = strjoin(root, "/home");
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(host_sockets_done) HostSockets s = {}, files = {};
        HostUser u = ALICE;

        u.home = home;
        tests_write(root, "rt/gdm/Xauthority", "gdm cookie");
        tests_write(root, "home/.Xauthority", "home cookie");
        p = strjoin(rt, "/wayland-0");
        make_socket(p);
        free(p);
        p = strjoin(rt, "/pipewire-0");
        make_socket(p);
        free(p);
        tests_write(root, "x11/.keep", "");
        p = strjoin(x11, "/X0");
        make_socket(p);

        assert_int_equal(host_sockets_find(&u, true, true, rt, x11, &s, &d), 0);
        assert_int_equal(d.n, 0);
        assert_true(strv_contains(s.env, "DISPLAY=:0"));
        assert_true(strv_contains(s.env, "WAYLAND_DISPLAY=/run/machinespawn-host/wayland-0"));
        assert_true(strv_contains(s.env, "PIPEWIRE_REMOTE=/run/machinespawn-host/pipewire-0"));
        assert_true(strv_contains(s.env, "XAUTHORITY=/run/machinespawn-host/Xauthority"));
        assert_int_equal(strv_length(s.env), 4);
        free(p);
        p = strjoin(rt, "/gdm/Xauthority:/run/machinespawn-host/Xauthority");
        assert_true(strv_contains(s.binds, p));
        free(p);
        p = strjoin(rt, "/wayland-0:/run/machinespawn-host/wayland-0");
        assert_true(strv_contains(s.binds, p));
        free(p);
        p = strjoin(rt, "/pipewire-0:/run/machinespawn-host/pipewire-0");
        assert_true(strv_contains(s.binds, p));

        /* regular files where the sockets should be: nothing bound, a warning each */
        tests_rm_rf(root);
        tests_write(root, "rt/wayland-0", "");
        tests_write(root, "rt/pipewire-0", "");
        tests_write(root, "rt/pulse/native", "");
        assert_int_equal(host_sockets_find(&u, true, true, rt, x11, &files, &d), 0);
        assert_null(files.binds);
        assert_null(files.env);
        assert_int_equal(diagnostics_count(&d, LOG_WARNING), 2);
        tests_rm_rf(root);
}

static void test_gshadow(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;

        assert_int_equal(gshadow_apply("root:*::\nsudo:*::bob\n", "sudo", "alice", &a), 0);
        assert_string_equal(a, "root:*::\nsudo:*::bob,alice\n");
        assert_int_equal(gshadow_apply(a, "alice", NULL, &b), 0);
        assert_string_equal(b, "root:*::\nsudo:*::bob,alice\nalice:!::\n");
}

/* Every account file is read and checked before one is written: a refused one changes nothing, and the
 * caller learns which it was. */
static void test_provision_refuses_hostile(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *fifo = NULL, *g = NULL,
                            *outside = strjoin(root, "/outside"), *t = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *failed = NULL;

        tests_write(root, "tree/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        tests_write(root, "tree/etc/group", "root:x:0:\n");
        tests_write(root, "outside/etc/group", "root:x:0:\n");
        fifo = strjoin(tree, "/etc/shadow");
        assert_int_equal(mkfifo(fifo, 0600), 0);
        fd = chase_root_open(tree);
        assert_true(fd >= 0);
        assert_int_equal(machine_provision_user_at(fd, &ALICE, NULL, true, &failed), -EBADFD);
        assert_string_equal(failed, "etc/shadow");
        g = strjoin(tree, "/etc/group");
        assert_int_equal(read_full_file(g, &t, NULL), 0);
        assert_string_equal(t, "root:x:0:\n");
        _cleanup_free_ char *sudo = strjoin(tree, "/etc/sudoers.d");
        assert_int_equal(access(sudo, F_OK), -1);

        /* etc a link to a host directory: confined to the tree's own copy of that path, which is missing */
        assert_int_equal(unlink(fifo), 0);
        _cleanup_free_ char *etc = strjoin(tree, "/etc"), *cmd = NULL, *oe = strjoin(outside, "/etc");
        assert_true(asprintf(&cmd, "rm -rf '%s'", etc) > 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(symlink(oe, etc), 0);
        assert_int_equal(machine_provision_user_at(fd, &ALICE, NULL, true, &failed), -ENOENT);
        _cleanup_free_ char *og = strjoin(oe, "/group"), *osudo = strjoin(oe, "/sudoers.d");
        free(t);
        assert_int_equal(read_full_file(og, &t, NULL), 0);
        assert_string_equal(t, "root:x:0:\n");
        assert_int_equal(access(osudo, F_OK), -1);
        tests_rm_rf(root);
}

/* What "machinespawn enter" passes on: written by prepare, read back through chase.h, refused otherwise. */
static void test_session_env_read(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *env = NULL, *victim = NULL, *big = NULL;
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_close_ int fd = -EBADF;
        HostSockets s = { .env = (char *[]) { (char *) "DISPLAY=:0", (char *) "PULSE_SERVER=unix:/x", NULL } };

        tests_write(root, "etc/.keep", "");
        tests_write(root, "host-secret", "SECRET=1\n");
        fd = chase_root_open(root);
        assert_true(fd >= 0);
        assert_int_equal(machine_write_session_env(fd, &s), 0);
        assert_int_equal(machine_read_session_env(root, &l), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[0], "DISPLAY=:0");

        env = strjoin(root, "/" MACHINE_SESSION_ENV);
        victim = strjoin(root, "/host-secret");
        assert_int_equal(unlink(env), 0);
        assert_int_equal(symlink(victim, env), 0);
        assert_int_equal(machine_read_session_env(root, &l), -ELOOP);
        assert_int_equal(unlink(env), 0);
        assert_int_equal(mkfifo(env, 0600), 0);
        assert_int_equal(machine_read_session_env(root, &l), -EBADFD);
        assert_int_equal(unlink(env), 0);
        tests_write(root, MACHINE_SESSION_ENV, "DISPLAY=:0\nLD_PRELOAD=/x\x01\n");
        assert_int_equal(machine_read_session_env(root, &l), -EBADMSG);
        tests_write(root, MACHINE_SESSION_ENV, "1BAD=x\n");
        assert_int_equal(machine_read_session_env(root, &l), -EBADMSG);
        big = malloc(CHASE_SESSION_ENV_MAX + 2);
        memset(big, 'A', CHASE_SESSION_ENV_MAX + 1);
        big[CHASE_SESSION_ENV_MAX + 1] = 0;
        tests_write(root, MACHINE_SESSION_ENV, big);
        assert_int_equal(machine_read_session_env(root, &l), -EFBIG);

        /* no sockets: both files go, and only inside */
        s.env = NULL;
        assert_int_equal(machine_write_session_env(fd, &s), 0);
        assert_int_equal(machine_read_session_env(root, &l), -ENOENT);
        assert_int_equal(access(victim, F_OK), 0);
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passwd),
                cmocka_unit_test(test_group),
                cmocka_unit_test(test_shadow),
                cmocka_unit_test(test_provision_tree),
                cmocka_unit_test(test_session_sockets),
                cmocka_unit_test(test_session_sockets_wayland_pipewire),
                cmocka_unit_test(test_gshadow),
                cmocka_unit_test(test_provision_refuses_hostile),
                cmocka_unit_test(test_session_env_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
