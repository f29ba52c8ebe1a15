/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests.h"

#include "fileio.h"
#include "proxy.h"

static void test_classify(void **state) {
        /* what apt-cacher-ng 3.7 answers to "GET /" */
        assert_int_equal(proxy_classify_reply("HTTP/1.1 406 Usage Information\r\nConnection: close\r\n\r\n"
                                              "<title>Not Found or APT Reconfiguration required</title>"
                                              "Apt-Cacher NG Usage Information"),
                         PROXY_KIND_APT_CACHER_NG);
        assert_int_equal(proxy_classify_reply("HTTP/1.1 404 Not Found\r\nServer: approx/5.12\r\n\r\n"),
                         PROXY_KIND_APPROX);
        assert_int_equal(proxy_classify_reply("HTTP/1.1 400 Bad Request\r\nServer: squid/5.7\r\n\r\n"),
                         PROXY_KIND_SQUID_DEB_PROXY);
        /* an open port alone is not a proxy */
        assert_int_equal(proxy_classify_reply("HTTP/1.0 200 OK\r\nServer: nginx\r\n\r\nhello"), PROXY_KIND_UNKNOWN);
        assert_int_equal(proxy_classify_reply("SSH-2.0-OpenSSH_9.2p1\r\n"), PROXY_KIND_UNKNOWN);
        assert_int_equal(proxy_classify_reply(NULL), PROXY_KIND_UNKNOWN);
}

static void test_hosts(void **state) {
        _cleanup_free_ char *addr = NULL;
        _cleanup_free_ char *a = proxy_from_hosts("127.0.0.1 localhost\n10.0.0.5 cache apt-proxy # lan cache\n", &addr);
        _cleanup_free_ char *b = proxy_from_hosts("127.0.0.1 localhost\n# 10.0.0.5 apt-proxy\n10.0.0.6 apt-proxy2\n",
                                                  NULL);

        assert_string_equal(a, "http://apt-proxy:3142");
        assert_string_equal(addr, "10.0.0.5");
        assert_null(b);
        assert_null(proxy_from_hosts(NULL, NULL));
}

/* ---- who listens ---- */

static char *fixture(const char *name) {
        _cleanup_free_ char *p = NULL;
        char *text = NULL;

        assert_true(asprintf(&p, "%s/%s", getenv("MACHINESPAWN_TEST_DATA"), name) > 0);
        assert_int_equal(read_full_file(p, &text, NULL), 0);
        return text;
}

static void v4(const char *s, uint8_t a[16]) {
        assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void test_socket_table_parse(void **state) {
        _cleanup_free_ char *tcp = fixture("proc-net-tcp"), *tcp6 = fixture("proc-net-tcp6");
        _cleanup_free_ SocketListener *l = NULL;
        uint8_t a[16];
        size_t n = 0;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        skip(); /* the fixtures were written by a little-endian kernel */
#endif
        /* only LISTEN sockets on the port: not the connections to it or from it, not the broken lines */
        assert_int_equal(socket_table_parse(tcp, AF_INET, 3142, &l, &n), 0);
        assert_int_equal(n, 2);
        v4("127.0.0.1", a);
        assert_int_equal(l[0].family, AF_INET);
        assert_memory_equal(l[0].addr, a, 4);
        assert_int_equal(l[0].port, 3142);
        assert_int_equal(l[0].uid, 106);
        v4("127.0.0.2", a);
        assert_memory_equal(l[1].addr, a, 4);
        assert_int_equal(l[1].uid, 4242);

        assert_int_equal(socket_table_parse(tcp6, AF_INET6, 3142, &l, &n), 0);
        assert_int_equal(n, 4);
        assert_int_equal(l[2].family, AF_INET6);
        assert_int_equal(inet_pton(AF_INET6, "::1", a), 1);
        assert_memory_equal(l[2].addr, a, 16);
        assert_int_equal(l[2].uid, 106);
        assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.3", a), 1);
        assert_memory_equal(l[3].addr, a, 16);
        assert_int_equal(l[3].uid, 4243);

        /* nothing on a port nobody uses; no text at all is no listener */
        free(l);
        l = NULL;
        n = 0;
        assert_int_equal(socket_table_parse(tcp, AF_INET, 8080, &l, &n), 0);
        assert_int_equal(socket_table_parse(NULL, AF_INET, 3142, &l, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(socket_table_parse(tcp, AF_UNIX, 3142, &l, &n), -EAFNOSUPPORT);
}

/* Both tables of the fixtures, for one port; then who may be trusted for addr:port. */
static int trusted(const char *addr, uint16_t port, uid_t max_uid, uid_t *ret_uid) {
        _cleanup_free_ char *tcp = fixture("proc-net-tcp"), *tcp6 = fixture("proc-net-tcp6");
        _cleanup_free_ SocketListener *l = NULL;
        uint8_t a[16];
        size_t n = 0;
        int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

        assert_int_equal(inet_pton(family, addr, a), 1);
        assert_int_equal(socket_table_parse(tcp, AF_INET, port, &l, &n), 0);
        assert_int_equal(socket_table_parse(tcp6, AF_INET6, port, &l, &n), 0);
        return socket_listeners_trusted(l, n, family, a, port, max_uid, ret_uid);
}

static void test_listeners_trusted(void **state) {
        uid_t uid;

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        skip();
#endif
        /* apt-cacher-ng's system user on 127.0.0.1:3142; the IPv6 ones listen elsewhere */
        assert_int_equal(trusted("127.0.0.1", 3142, 999, &uid), 1);
        /* a user's listener on another loopback address */
        assert_int_equal(trusted("127.0.0.2", 3142, 999, &uid), 0);
        assert_int_equal(uid, 4242);
        /* ... or on an IPv4-mapped IPv6 address */
        assert_int_equal(trusted("127.0.0.3", 3142, 999, &uid), 0);
        assert_int_equal(uid, 4243);
        /* the first regular user: not with SYS_UID_MAX 999, yes when login.defs says 1000 */
        assert_int_equal(trusted("127.0.0.1", 9999, 999, &uid), 0);
        assert_int_equal(uid, 1000);
        assert_int_equal(trusted("127.0.0.1", 9999, 1000, &uid), 1);
        /* root on 127.0.0.1, but a user on the IPv6 wildcard that takes IPv4 too: not trusted */
        assert_int_equal(trusted("127.0.0.1", 3563, 999, &uid), 0);
        assert_int_equal(uid, 4242);
        /* root's wildcard */
        assert_int_equal(trusted("127.0.0.1", 22, 999, &uid), 1);
        assert_int_equal(trusted("::1", 3142, 999, &uid), 1);
        /* nobody listens: nothing to trust */
        assert_int_equal(trusted("127.0.0.1", 8080, 999, &uid), 0);
        assert_int_equal(uid, (uid_t) -1);
}

static void test_login_defs(void **state) {
        assert_int_equal(login_defs_sys_uid_max(NULL), 999);
        assert_int_equal(login_defs_sys_uid_max("# SYS_UID_MAX 5000\nUID_MIN 1000\n"), 999);
        assert_int_equal(login_defs_sys_uid_max("SYS_UID_MIN 101\nSYS_UID_MAX\t\t499\n"), 499);
        assert_int_equal(login_defs_sys_uid_max("SYS_UID_MAX 499\nSYS_UID_MAX 599\n"), 599);
        assert_int_equal(login_defs_sys_uid_max("SYS_UID_MAX -1\n"), 999);
        assert_int_equal(login_defs_sys_uid_max("SYS_UID_MAX 70000\n"), 999);
        assert_int_equal(login_defs_sys_uid_max("SYS_UID_MAX 12abc\n"), 999);
}

static void test_apt_config(void **state) {
        _cleanup_free_ char *a = proxy_from_apt_config("PROXY='http://proxy.example:3142/'\n");
        assert_string_equal(a, "http://proxy.example:3142/");
        assert_null(proxy_from_apt_config(""));
        assert_null(proxy_from_apt_config("PROXY=''\n"));
        assert_null(proxy_from_apt_config("PROXY='DIRECT'\n"));
}

/* A one-shot server on loopback that answers the probe with the given reply. */
typedef struct Server {
        int fd;
        const char *reply;
} Server;

static void *serve(void *p) {
        Server *s = p;
        char buf[1024];
        int c = accept(s->fd, NULL, NULL);

        if (c >= 0) {
                (void) !recv(c, buf, sizeof buf, 0);
                (void) !send(c, s->reply, strlen(s->reply), 0);
                close(c);
        }
        return NULL;
}

static int listen_loopback(uint16_t *ret_port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

static void test_probe(void **state) {
        Server s = { .reply = "HTTP/1.1 406 Usage Information\r\n\r\nApt-Cacher NG" };
        _cleanup_free_ char *reply = NULL;
        pthread_t t;
        uint16_t port;

        s.fd = listen_loopback(&port);
        assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);
        assert_int_equal(proxy_probe("127.0.0.1", port, 2000, &reply), 0);
        pthread_join(t, NULL);
        close(s.fd);
        assert_int_equal(proxy_classify_reply(reply), PROXY_KIND_APT_CACHER_NG);

        /* nobody there: fails fast, does not hang */
        free(reply);
        reply = NULL;
        assert_true(proxy_probe("127.0.0.1", port, 500, &reply) < 0);
}

static void test_resolve_modes(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *hosts = NULL;
        ProxyResult r = {};

        assert_int_equal(proxy_resolve("none", tests_paths(), &r), 0);
        assert_null(r.url);
        assert_int_equal(proxy_resolve("http://cache.example:3142", tests_paths(), &r), 0);
        assert_string_equal(r.url, "http://cache.example:3142");
        proxy_result_done(&r);

        /* auto, with nothing on the probed ports: the hosts file, then $http_proxy */
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
        setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
        tests_write(dir, "hosts", "127.0.0.1 localhost\n192.0.2.7 apt-proxy\n");
        assert_true(asprintf(&hosts, "%s/hosts", dir) > 0);
        setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_string_equal(r.url, "http://apt-proxy:3142");
        proxy_result_done(&r);

        tests_write(dir, "hosts2", "127.0.0.1 localhost\n");
        free(hosts);
        assert_true(asprintf(&hosts, "%s/hosts2", dir) > 0);
        setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
        setenv("http_proxy", "http://envproxy.example:8080", 1);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_string_equal(r.url, "http://envproxy.example:8080");
        assert_string_equal(r.how, "$http_proxy");
        proxy_result_done(&r);
        unsetenv("http_proxy");
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_null(r.url);
        tests_rm_rf(dir);
}

/* KeepProxy=: configured proxies only */
static void test_keep(void **state) {
        ProxyResult r = {};

        assert_int_equal(proxy_resolve("http://cache.example:3142", tests_paths(), &r), 0);
        assert_false(r.detected);
        assert_string_equal(proxy_to_keep(&r, true), "http://cache.example:3142");
        assert_null(proxy_to_keep(&r, false));
        proxy_result_done(&r);

        setenv("http_proxy", "http://envproxy.example:8080", 1);
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
        setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
        setenv("MACHINESPAWN_HOSTS_FILE", "/nonexistent", 1);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_string_equal(proxy_to_keep(&r, true), "http://envproxy.example:8080");
        proxy_result_done(&r);
        unsetenv("http_proxy");

        /* what detection finds (apt-cacher-ng on loopback, apt-proxy) is never kept */
        r.url = strdup("http://127.0.0.1:3142");
        r.detected = true;
        assert_null(proxy_to_keep(&r, true));
        proxy_result_done(&r);
        assert_null(proxy_to_keep(&r, true));
}

/* ---- with real listeners of real users (root only) ---- */

static const char acng_reply[] = "HTTP/1.1 406 Usage Information\r\nConnection: close\r\n\r\nApt-Cacher NG";

/* A child that becomes uid (and gid) before it makes its socket, listens on addr:port (0: any port) and
 * answers every connection like apt-cacher-ng. Returns its pid; the port it got in *ret_port. */
static pid_t spawn_listener_reply(uid_t uid, const char *addr, uint16_t port, const char *reply, uint16_t *ret_port) {
        int p[2];
        pid_t pid;
        uint16_t got = 0;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
                struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
                bool six = strchr(addr, ':');
                socklen_t l = six ? sizeof a6 : sizeof a4;
                struct sockaddr *sa = six ? (struct sockaddr *) &a6 : (struct sockaddr *) &a4;
                int fd, one = 1, zero = 0;

                close(p[0]);
                /* gone with the test, even when an assertion jumps past stop_listener(), and off its
                 * output, which whoever runs the test reads to the end */
                (void) dup2(open("/dev/null", O_RDWR | O_CLOEXEC), STDOUT_FILENO);
                (void) dup2(STDOUT_FILENO, STDERR_FILENO);
                if (uid != 0 && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
                        _exit(1);
                /* after the change of user, which clears it */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
                        _exit(1);
                if (inet_pton(six ? AF_INET6 : AF_INET, addr, six ? (void *) &a6.sin6_addr : (void *) &a4.sin_addr) != 1)
                        _exit(1);
                fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
                    (six && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) ||
                    bind(fd, sa, l) < 0 || listen(fd, 16) < 0 || getsockname(fd, sa, &l) < 0)
                        _exit(1);
                got = ntohs(six ? a6.sin6_port : a4.sin_port);
                if (write(p[1], &got, sizeof got) != sizeof got)
                        _exit(1);
                close(p[1]);
                for (;;) {
                        char buf[1024];
                        int c = accept(fd, NULL, NULL);
                        if (c < 0)
                                continue;
                        (void) !recv(c, buf, sizeof buf, 0);
                        (void) !send(c, reply, strlen(reply), MSG_NOSIGNAL);
                        close(c);
                }
        }
        close(p[1]);
        if (read(p[0], &got, sizeof got) != sizeof got)
                fail_msg("uid %u could not listen on %s:%u (taken?)", (unsigned) uid, addr, port);
        close(p[0]);
        *ret_port = got;
        return pid;
}

static pid_t spawn_listener(uid_t uid, const char *addr, uint16_t port, uint16_t *ret_port) {
        return spawn_listener_reply(uid, addr, port, acng_reply, ret_port);
}

static void stop_listener(pid_t pid) {
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

/* proxy_resolve("auto") with a fake apt-cacher-ng of uid on 127.0.0.2:3142, from both socket tables. */
static void resolve_with_listener(uid_t uid, bool want_trusted) {
        static const char *const tables[] = { "netlink", "proc" };
        uint16_t port;
        pid_t pid = spawn_listener(uid, "127.0.0.2", 3142, &port);

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                ProxyResult r = {};

                setenv("MACHINESPAWN_SOCKET_TABLE", tables[i], 1);
                assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
                if (want_trusted) {
                        assert_non_null(r.url);
                        assert_string_equal(r.url, "http://127.0.0.2:3142");
                        assert_true(r.detected);
                        assert_null(proxy_to_keep(&r, true));
                } else {
                        _cleanup_free_ char *uidstr = NULL;
                        assert_true(asprintf(&uidstr, "UID %u,", (unsigned) uid) > 0);
                        if (r.url)
                                fail_msg("uid %u's listener was trusted (%s)", (unsigned) uid, tables[i]);
                        assert_non_null(r.ignored);
                        assert_non_null(strstr(r.ignored, uidstr));
                }
                proxy_result_done(&r);
        }
        unsetenv("MACHINESPAWN_SOCKET_TABLE");
        stop_listener(pid);
}

static void test_root_resolve_trusts_system_accounts(void **state) {
        resolve_with_listener(0, true);   /* root */
        resolve_with_listener(107, true); /* a system account, as apt-cacher-ng's own user is */
}

static void test_root_resolve_refuses_users(void **state) {
        resolve_with_listener(4242, false);  /* a regular user */
        resolve_with_listener(65534, false); /* nobody */
}

/* A user on the IPv6 wildcard takes IPv4 connections too: refused for every IPv4 loopback address. */
static void test_root_dual_stack(void **state) {
        static const char *const tables[] = { "netlink", "proc" };
        uint16_t port;
        uid_t uid;
        pid_t pid = spawn_listener(4242, "::", 0, &port);

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                setenv("MACHINESPAWN_SOCKET_TABLE", tables[i], 1);
                assert_int_equal(proxy_listener_trusted(tests_paths(), "127.0.0.2", port, &uid), 0);
                assert_int_equal(uid, 4242);
                assert_int_equal(proxy_listener_trusted(tests_paths(), "::1", port, &uid), 0);
        }
        stop_listener(pid);
        pid = spawn_listener(0, "::", 0, &port);
        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                setenv("MACHINESPAWN_SOCKET_TABLE", tables[i], 1);
                assert_int_equal(proxy_listener_trusted(tests_paths(), "127.0.0.2", port, &uid), 1);
        }
        unsetenv("MACHINESPAWN_SOCKET_TABLE");
        stop_listener(pid);
}

/* "127.0.0.2 apt-proxy" in the hosts file: the same port anyone may open, the same check. */
static void test_root_apt_proxy_on_loopback(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *hosts = NULL;
        ProxyResult r = {};
        uint16_t port;
        pid_t pid;

        tests_write(dir, "hosts", "127.0.0.1 localhost\n127.0.0.2 apt-proxy\n");
        assert_true(asprintf(&hosts, "%s/hosts", dir) > 0);
        setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.9", 1); /* nothing on the well-known ports there */

        pid = spawn_listener(4242, "127.0.0.2", 3142, &port);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_null(r.url);
        assert_non_null(r.ignored);
        proxy_result_done(&r);
        stop_listener(pid);

        pid = spawn_listener(0, "127.0.0.2", 3142, &port);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_non_null(r.url);
        assert_string_equal(r.url, "http://apt-proxy:3142");
        assert_true(r.detected);
        proxy_result_done(&r);
        stop_listener(pid);
        tests_rm_rf(dir);
}

/* auto: another server on a probed port (a web server on apt-cacher-ng's) is not taken for a proxy */
static void test_resolve_other_server(void **state) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(3142) };
        Server s = { .reply = "HTTP/1.0 200 OK\r\nServer: nginx\r\n\r\nhello" };
        ProxyResult r = {};
        pthread_t t;

        assert_int_equal(inet_pton(AF_INET, "127.0.3.142", &a.sin_addr), 1);
        s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s.fd >= 0);
        /* the last run's connection may still be in TIME_WAIT */
        assert_int_equal(setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int)), 0);
        if (bind(s.fd, (struct sockaddr *) &a, sizeof a) < 0) {
                tests_skip_part("cannot listen on 127.0.3.142:3142");
                close(s.fd);
                return;
        }
        assert_int_equal(listen(s.fd, 4), 0);
        assert_int_equal(pthread_create(&t, NULL, serve, &s), 0);
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.3.142", 1);
        setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
        setenv("MACHINESPAWN_HOSTS_FILE", "/nonexistent", 1);
        unsetenv("http_proxy");
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        /* wakes the server's accept() should the probe not have come */
        (void) shutdown(s.fd, SHUT_RDWR);
        pthread_join(t, NULL);
        close(s.fd);
        assert_null(r.url);
        proxy_result_done(&r);
}

/* approx and squid-deb-proxy on their ports, each recognised by its reply, each only from a system account */
static void test_root_approx_and_squid(void **state) {
        static const struct {
                uint16_t port;
                const char *reply, *how;
        } kinds[] = {
                { 9999, "HTTP/1.1 404 Not Found\r\nServer: approx/5.10\r\n\r\n", "approx" },
                { 3563, "HTTP/1.1 400 Bad Request\r\nServer: squid/5.7\r\n\r\n", "squid-deb-proxy" },
        };

        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
        setenv("MACHINESPAWN_HOSTS_FILE", "/nonexistent", 1);
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                _cleanup_free_ char *url = NULL, *note = NULL;
                ProxyResult r = {};
                uint16_t port;
                pid_t pid;

                pid = spawn_listener_reply(0, "127.0.0.2", kinds[i].port, kinds[i].reply, &port);
                assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
                stop_listener(pid);
                assert_true(asprintf(&url, "http://127.0.0.2:%u", kinds[i].port) > 0);
                if (!streq_ptr(r.url, url))
                        fail_msg("%s: got %s (%s)", kinds[i].how, r.url ?: "(null)", r.ignored ?: "(null)");
                assert_string_equal(r.how, kinds[i].how);
                assert_true(r.detected);
                proxy_result_done(&r);

                pid = spawn_listener_reply(4242, "127.0.0.2", kinds[i].port, kinds[i].reply, &port);
                assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
                stop_listener(pid);
                assert_null(r.url);
                assert_true(asprintf(&note, "%s on 127.0.0.2:%u: its socket belongs to UID 4242", kinds[i].how,
                                     kinds[i].port) > 0);
                assert_non_null(r.ignored);
                assert_non_null(strstr(r.ignored, note));
                proxy_result_done(&r);
        }
}

/* auto: the host apt's Acquire::http::Proxy comes after the probes and the hosts file, before $http_proxy */
static void test_resolve_apt_config(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *tool = NULL, *path = NULL, *old_path = strdup(getenv("PATH"));
        ProxyResult r = {};

        tests_write(dir, "apt-config", "#!/bin/sh\n[ \"$*\" = \"shell PROXY Acquire::http::Proxy\" ] || exit 1\n"
                                       "[ -e \"$0.empty\" ] || echo \"PROXY='http://aptconf.example:3142/'\"\n");
        assert_true(asprintf(&tool, "%s/apt-config", dir) > 0);
        assert_int_equal(chmod(tool, 0755), 0);
        assert_true(asprintf(&path, "%s:/usr/bin:/bin", dir) > 0);
        setenv("PATH", path, 1);
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
        setenv("MACHINESPAWN_HOSTS_FILE", "/nonexistent", 1);
        unsetenv("MACHINESPAWN_PROXY_NO_APT_CONFIG");
        setenv("http_proxy", "http://envproxy.example:8080", 1);

        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_string_equal(r.url, "http://aptconf.example:3142/");
        assert_string_equal(r.how, "the host's Acquire::http::Proxy");
        assert_false(r.detected);
        proxy_result_done(&r);

        /* apt has none: $http_proxy */
        tests_write(dir, "apt-config.empty", "");
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_string_equal(r.url, "http://envproxy.example:8080");
        proxy_result_done(&r);

        /* not a URL in $http_proxy: nothing */
        setenv("http_proxy", "proxy.example 8080", 1);
        assert_int_equal(proxy_resolve("auto", tests_paths(), &r), 0);
        assert_null(r.url);
        proxy_result_done(&r);

        unsetenv("http_proxy");
        setenv("PATH", old_path, 1);
        setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
        tests_rm_rf(dir);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify),          cmocka_unit_test(test_hosts),
                cmocka_unit_test(test_apt_config),        cmocka_unit_test(test_probe),
                cmocka_unit_test(test_resolve_modes),     cmocka_unit_test(test_socket_table_parse),
                cmocka_unit_test(test_listeners_trusted), cmocka_unit_test(test_login_defs),
                cmocka_unit_test(test_keep),              cmocka_unit_test(test_resolve_other_server),
                cmocka_unit_test(test_resolve_apt_config),
        };
        const struct CMUnitTest root_tests[] = {
                cmocka_unit_test(test_root_resolve_trusts_system_accounts),
                cmocka_unit_test(test_root_resolve_refuses_users),
                cmocka_unit_test(test_root_dual_stack),
                cmocka_unit_test(test_root_apt_proxy_on_loopback),
                cmocka_unit_test(test_root_approx_and_squid),
        };
        unsetenv("http_proxy");
        unsetenv("HTTP_PROXY");
        /* "--root": listeners of other users; a separate meson test that skips (77) without root. It binds
         * 127.0.0.2 only, so a real proxy on 127.0.0.1 is neither disturbed nor in the way. */
        if (argc > 1 && streq(argv[1], "--root")) {
                _cleanup_free_ char *dir = tests_mkdtemp(), *hosts = NULL;
                int r;

                if (geteuid() != 0) {
                        printf("SKIP: needs root (listeners as other users)\n");
                        return 77;
                }
                tests_write(dir, "hosts", "127.0.0.1 localhost\n");
                assert_true(asprintf(&hosts, "%s/hosts", dir) > 0);
                setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
                setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
                setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
                r = cmocka_run_group_tests(root_tests, NULL, NULL);
                tests_rm_rf(dir);
                return r;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
