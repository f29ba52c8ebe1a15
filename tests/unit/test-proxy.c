/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

#include "tests.h"

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
        _cleanup_free_ char *a = proxy_from_hosts("127.0.0.1 localhost\n10.0.0.5 cache apt-proxy # lan cache\n");
        _cleanup_free_ char *b = proxy_from_hosts("127.0.0.1 localhost\n# 10.0.0.5 apt-proxy\n10.0.0.6 apt-proxy2\n");

        assert_string_equal(a, "http://apt-proxy:3142");
        assert_null(b);
        assert_null(proxy_from_hosts(NULL));
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

        assert_int_equal(proxy_resolve("none", &r), 0);
        assert_null(r.url);
        assert_int_equal(proxy_resolve("http://cache.example:3142", &r), 0);
        assert_string_equal(r.url, "http://cache.example:3142");
        proxy_result_done(&r);

        /* auto, with nothing on the probed ports: the hosts file, then $http_proxy */
        setenv("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.2", 1);
        setenv("MACHINESPAWN_PROXY_NO_APT_CONFIG", "1", 1);
        tests_write(dir, "hosts", "127.0.0.1 localhost\n192.0.2.7 apt-proxy\n");
        assert_true(asprintf(&hosts, "%s/hosts", dir) > 0);
        setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
        assert_int_equal(proxy_resolve("auto", &r), 0);
        assert_string_equal(r.url, "http://apt-proxy:3142");
        proxy_result_done(&r);

        tests_write(dir, "hosts2", "127.0.0.1 localhost\n");
        free(hosts);
        assert_true(asprintf(&hosts, "%s/hosts2", dir) > 0);
        setenv("MACHINESPAWN_HOSTS_FILE", hosts, 1);
        setenv("http_proxy", "http://envproxy.example:8080", 1);
        assert_int_equal(proxy_resolve("auto", &r), 0);
        assert_string_equal(r.url, "http://envproxy.example:8080");
        assert_string_equal(r.how, "$http_proxy");
        proxy_result_done(&r);
        unsetenv("http_proxy");
        assert_int_equal(proxy_resolve("auto", &r), 0);
        assert_null(r.url);
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
        assert_int_equal(proxy_resolve("auto", &r), 0);
        /* wakes the server's accept() should the probe not have come */
        (void) shutdown(s.fd, SHUT_RDWR);
        pthread_join(t, NULL);
        close(s.fd);
        assert_null(r.url);
        proxy_result_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_classify), cmocka_unit_test(test_hosts),
                cmocka_unit_test(test_apt_config), cmocka_unit_test(test_probe),
                cmocka_unit_test(test_resolve_modes),   cmocka_unit_test(test_resolve_other_server),
        };
        unsetenv("http_proxy");
        unsetenv("HTTP_PROXY");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
