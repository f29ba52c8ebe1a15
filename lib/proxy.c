/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "fileio.h"
#include "proxy.h"
#include "strv.h"
#include "valid.h"

void proxy_result_done(ProxyResult *r) {
        free(r->url);
        *r = (ProxyResult) {};
}

ProxyKind proxy_classify_reply(const char *reply) {
        if (!reply)
                return PROXY_KIND_UNKNOWN;
        /* apt-cacher-ng answers "/" with its usage page (HTTP 406, "Apt-Cacher NG" in the body) */
        if (strcasestr(reply, "Apt-Cacher NG") || strcasestr(reply, "apt-cacher-ng"))
                return PROXY_KIND_APT_CACHER_NG;
        if (strcasestr(reply, "\nServer: approx") || strcasestr(reply, "<title>approx"))
                return PROXY_KIND_APPROX;
        if (strcasestr(reply, "\nServer: squid"))
                return PROXY_KIND_SQUID_DEB_PROXY;
        return PROXY_KIND_UNKNOWN;
}

char *proxy_from_hosts(const char *hosts_text) {
        _cleanup_strv_free_ char **lines = NULL;

        if (!hosts_text || strv_split(&lines, hosts_text, "\n") < 0)
                return NULL;
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **words = NULL;
                char *hash = strchr(*l, '#');

                if (hash)
                        *hash = 0;
                if (strv_split_words(&words, *l) < 0)
                        return NULL;
                /* "ADDRESS NAME [ALIAS...]": any name counts */
                for (size_t i = 1; words[0] && words[i]; i++)
                        if (streq(words[i], "apt-proxy"))
                                return strdup("http://apt-proxy:3142");
        }
        return NULL;
}

char *proxy_from_apt_config(const char *out) {
        const char *p = out ? strstr(out, "='") : NULL;
        size_t n;
        char *url;

        /* "PROXY='http://host:3142/'" */
        if (!p)
                return NULL;
        p += 2;
        n = strcspn(p, "'");
        if (n == 0 || p[n] != '\'')
                return NULL;
        url = strndup(p, n);
        if (url && !url_is_valid(url, false)) {
                free(url);
                return NULL;
        }
        return url;
}

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int proxy_probe(const char *host, uint16_t port, int timeout_ms, char **ret_reply) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
        static const char request[] = "GET / HTTP/1.0\r\nConnection: close\r\n\r\n";
        char portstr[8];
        size_t n = 0, alloc = 16384;
        int64_t deadline = now_ms() + timeout_ms;
        int r;

        snprintf(portstr, sizeof portstr, "%u", port);
        r = getaddrinfo(host, portstr, &hints, &ai);
        if (r != 0)
                return -EHOSTUNREACH;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                freeaddrinfo(ai);
                return -errno;
        }
        r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (r < 0 && errno != EINPROGRESS)
                return -errno;

        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        r = poll(&pfd, 1, timeout_ms);
        if (r <= 0)
                return r == 0 ? -ETIMEDOUT : -errno;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
                return -(soerr ?: errno);
        if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t) sizeof request - 1)
                return -EIO;

        buf = malloc(alloc);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                int64_t left = deadline - now_ms();
                ssize_t k;

                if (left <= 0 || n + 1 >= alloc)
                        break;
                pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
                r = poll(&pfd, 1, (int) left);
                if (r <= 0)
                        break;
                k = recv(fd, buf + n, alloc - n - 1, 0);
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        if (n == 0)
                return -ENODATA;
        buf[n] = 0;
        *ret_reply = TAKE_PTR(buf);
        return 0;
}

static const char *kind_name(ProxyKind k) {
        switch (k) {
        case PROXY_KIND_APT_CACHER_NG:
                return "apt-cacher-ng";
        case PROXY_KIND_APPROX:
                return "approx";
        case PROXY_KIND_SQUID_DEB_PROXY:
                return "squid-deb-proxy";
        default:
                return "unknown";
        }
}

int proxy_resolve(const char *mode, ProxyResult *ret) {
        static const struct {
                uint16_t port;
                ProxyKind kind;
        } local[] = {
                { 3142, PROXY_KIND_APT_CACHER_NG },
                { 9999, PROXY_KIND_APPROX },
                { 3563, PROXY_KIND_SQUID_DEB_PROXY },
        };
        const char *host = getenv("MACHINESPAWN_PROXY_PROBE_HOST") ?: "127.0.0.1";
        const char *hosts_file = getenv("MACHINESPAWN_HOSTS_FILE") ?: "/etc/hosts";
        _cleanup_free_ char *hosts = NULL;
        const char *env;

        *ret = (ProxyResult) {};
        if (isempty(mode) || streq(mode, "none"))
                return 0;
        if (!streq(mode, "auto")) {
                ret->url = strdup(mode);
                ret->how = "configured";
                return ret->url ? 0 : -ENOMEM;
        }

        for (size_t i = 0; i < ELEMENTSOF(local); i++) {
                _cleanup_free_ char *reply = NULL;
                char port[8];

                if (proxy_probe(host, local[i].port, 500, &reply) < 0)
                        continue;
                if (proxy_classify_reply(reply) != local[i].kind)
                        continue; /* something else listens there */
                snprintf(port, sizeof port, "%u", local[i].port);
                ret->url = strjoin("http://", host, ":", port);
                ret->how = kind_name(local[i].kind);
                return ret->url ? 0 : -ENOMEM;
        }

        if (read_full_file(hosts_file, &hosts, NULL) >= 0) {
                ret->url = proxy_from_hosts(hosts);
                if (ret->url) {
                        ret->how = "apt-proxy in /etc/hosts";
                        return 0;
                }
        }

        /* the host apt's own proxy setting */
        if (!getenv("MACHINESPAWN_PROXY_NO_APT_CONFIG")) {
                FILE *f = popen("apt-config shell PROXY Acquire::http::Proxy 2>/dev/null", "re");
                if (f) {
                        char line[1024] = "";
                        if (!fgets(line, sizeof line, f))
                                line[0] = 0;
                        pclose(f);
                        ret->url = proxy_from_apt_config(line);
                        if (ret->url) {
                                ret->how = "the host's Acquire::http::Proxy";
                                return 0;
                        }
                }
        }

        env = getenv("http_proxy") ?: getenv("HTTP_PROXY");
        if (!isempty(env) && url_is_valid(env, false)) {
                ret->url = strdup(env);
                ret->how = "$http_proxy";
                return ret->url ? 0 : -ENOMEM;
        }
        return 0;
}
