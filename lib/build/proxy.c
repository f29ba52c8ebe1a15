/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "alloc-util.h"
#include "fileio.h"
#include "proxy.h"
#include "strv.h"
#include "valid.h"

void proxy_result_done(ProxyResult *r) {
        free(r->url);
        free(r->ignored);
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

char *proxy_from_hosts(const char *hosts_text, char **ret_address) {
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
                        if (streq(words[i], "apt-proxy")) {
                                _cleanup_free_ char *a = ret_address ? strdup(words[0]) : NULL;
                                char *url;

                                if (ret_address && !a)
                                        return NULL;
                                url = strdup("http://apt-proxy:3142");
                                if (url && ret_address)
                                        *ret_address = TAKE_PTR(a);
                                return url;
                        }
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

/* ---- who listens: the kernel's socket tables ---- */

static int listeners_append(SocketListener **l, size_t *n, const SocketListener *x) {
        if (GREEDY_REALLOC_UNKNOWN(*l, *n + 1) < 0)
                return -ENOMEM;
        (*l)[(*n)++] = *x;
        return 0;
}

/* "0100007F:0C46": the address as the kernel's 32-bit words in %08X, then the port. */
static bool parse_table_address(const char *s, int family, SocketListener *x) {
        size_t words = family == AF_INET ? 1 : 4;

        for (size_t i = 0; i < words; i++) {
                char hex[9];
                char *end;
                uint32_t w;

                memcpy(hex, s + i * 8, 8);
                hex[8] = 0;
                if (strspn(hex, "0123456789abcdefABCDEF") != 8)
                        return false;
                w = (uint32_t) strtoul(hex, &end, 16);
                memcpy(x->addr + i * 4, &w, 4);
        }
        s += words * 8;
        if (*s != ':' || strspn(s + 1, "0123456789abcdefABCDEF") != 4 || s[5] != 0)
                return false;
        x->port = (uint16_t) strtoul(s + 1, NULL, 16);
        return true;
}

int socket_table_parse(const char *text, int family, uint16_t port, SocketListener **l, size_t *n) {
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;
        if (!text)
                return 0;
        r = strv_split(&lines, text, "\n");
        if (r < 0)
                return r;
        /* "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..." */
        STRV_FOREACH(line, lines) {
                _cleanup_strv_free_ char **f = NULL;
                SocketListener x = { .family = family };
                char *end;
                unsigned long uid;

                r = strv_split_words(&f, *line);
                if (r < 0)
                        return r;
                if (strv_length(f) < 8 || !endswith(f[0], ":") || !isdigit((unsigned char) f[0][0]))
                        continue; /* the header, or something this parser does not know */
                if (strlen(f[1]) != (family == AF_INET ? 8 : 32) + 5 || !parse_table_address(f[1], family, &x))
                        continue;
                if (!streq(f[3], "0A")) /* TCP_LISTEN */
                        continue;
                if (x.port != port)
                        continue;
                errno = 0;
                uid = strtoul(f[7], &end, 10);
                if (errno != 0 || *end || end == f[7] || uid > UINT32_MAX - 1)
                        continue;
                x.uid = (uid_t) uid;
                r = listeners_append(l, n, &x);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* NETLINK_SOCK_DIAG: the kernel hands over the listeners as records, with their UID, for one family; no
 * text to parse, and no need for /proc to be mounted or readable. */
static int listeners_netlink(int family, uint16_t port, SocketListener **l, size_t *n) {
        _cleanup_close_ int fd = -EBADF;
        struct {
                struct nlmsghdr nlh;
                struct inet_diag_req_v2 req;
        } msg = {
                .nlh = {
                        .nlmsg_len = sizeof msg,
                        .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = 1,
                },
                .req = {
                        .sdiag_family = (uint8_t) family,
                        .sdiag_protocol = IPPROTO_TCP,
                        .idiag_states = 1U << TCP_LISTEN,
                },
        };
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        _cleanup_free_ char *buf = NULL;
        const size_t size = 32768;
        int r;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *) &kernel, sizeof kernel) < 0)
                return -errno;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = recv(fd, buf, size, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EPROTO;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, (size_t) k); h = NLMSG_NEXT(h, k)) {
                        const struct inet_diag_msg *m;
                        SocketListener x = { .family = family };

                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) && e->error < 0 ? e->error : -EPROTO;
                        }
                        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof *m))
                                continue;
                        m = NLMSG_DATA(h);
                        if (m->idiag_family != family || m->idiag_state != TCP_LISTEN ||
                            ntohs(m->id.idiag_sport) != port)
                                continue;
                        memcpy(x.addr, m->id.idiag_src, family == AF_INET ? 4 : 16);
                        x.port = port;
                        x.uid = m->idiag_uid;
                        r = listeners_append(l, n, &x);
                        if (r < 0)
                                return r;
                }
        }
}

int socket_listeners(uint16_t port, bool proc_tables, SocketListener **ret, size_t *ret_n) {
        static const struct {
                int family;
                const char *path;
        } tables[] = {
                { AF_INET, "/proc/net/tcp" },
                { AF_INET6, "/proc/net/tcp6" },
        };
        SocketListener *l = NULL;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(tables); i++) {
                _cleanup_free_ char *text = NULL;

                r = proc_tables ? -EOPNOTSUPP : listeners_netlink(tables[i].family, port, &l, &n);
                if (r == -ENOMEM)
                        goto fail;
                if (r >= 0)
                        continue;
                /* no sock_diag for this family (an old kernel, a module that cannot be loaded): the text */
                r = read_full_file(tables[i].path, &text, NULL);
                if (r == -ENOENT && tables[i].family == AF_INET6)
                        continue; /* no IPv6 here: nobody listens on it */
                if (r >= 0)
                        r = socket_table_parse(text, tables[i].family, port, &l, &n);
                if (r < 0)
                        goto fail;
        }
        *ret = l;
        *ret_n = n;
        return 0;
fail:
        free(l);
        return r;
}

uid_t login_defs_sys_uid_max(const char *text) {
        _cleanup_strv_free_ char **lines = NULL;
        uid_t max = 999;

        if (!text || strv_split(&lines, text, "\n") < 0)
                return max;
        STRV_FOREACH(line, lines) {
                _cleanup_strv_free_ char **w = NULL;
                unsigned long v;
                char *end;

                if (strv_split_words(&w, *line) < 0 || strv_length(w) < 2 || !streq(w[0], "SYS_UID_MAX"))
                        continue;
                errno = 0;
                v = strtoul(w[1], &end, 10);
                if (errno == 0 && !*end && end != w[1] && isdigit((unsigned char) w[1][0]) && v < 65534)
                        max = (uid_t) v; /* the last one counts, as for login(1); never up to nobody */
        }
        return max;
}

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Could a connection to family/addr reach listener x? Its address or its wildcard; an IPv6 wildcard or an
 * IPv4-mapped address takes IPv4 too (unless the socket is IPv6-only, which the tables do not say: counted
 * in, which only makes the check stricter). */
static bool listener_reaches(const SocketListener *x, int family, const uint8_t *addr) {
        static const uint8_t zero[16] = {};

        if (x->family == family)
                return memcmp(x->addr, zero, family == AF_INET ? 4 : 16) == 0 ||
                       memcmp(x->addr, addr, family == AF_INET ? 4 : 16) == 0;
        if (family == AF_INET && x->family == AF_INET6)
                return memcmp(x->addr, zero, 16) == 0 ||
                       (memcmp(x->addr, v4mapped_prefix, 12) == 0 && memcmp(x->addr + 12, addr, 4) == 0);
        if (family == AF_INET6 && x->family == AF_INET && memcmp(addr, v4mapped_prefix, 12) == 0)
                return memcmp(x->addr, zero, 4) == 0 || memcmp(x->addr, addr + 12, 4) == 0;
        return false;
}

int socket_listeners_trusted(const SocketListener *l, size_t n, int family, const void *addr, uint16_t port,
                             uid_t max_uid, uid_t *ret_uid) {
        bool found = false;

        if (ret_uid)
                *ret_uid = (uid_t) -1;
        for (size_t i = 0; i < n; i++) {
                if (l[i].port != port || !listener_reaches(l + i, family, addr))
                        continue;
                if (l[i].uid > max_uid) {
                        if (ret_uid)
                                *ret_uid = l[i].uid;
                        return 0;
                }
                found = true;
        }
        return found;
}

int proxy_listener_trusted(const Paths *paths, const char *host, uint16_t port, uid_t *ret_uid) {
        _cleanup_free_ SocketListener *l = NULL;
        _cleanup_free_ char *defs = NULL;
        uint8_t addr[16];
        size_t n = 0;
        int family, r;

        if (inet_pton(AF_INET, host, addr) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, host, addr) == 1)
                family = AF_INET6;
        else
                return -EINVAL;
        r = socket_listeners(port, paths->socket_table_proc, &l, &n);
        if (r < 0)
                return r;
        (void) read_full_file("/etc/login.defs", &defs, NULL);
        return socket_listeners_trusted(l, n, family, addr, port, login_defs_sys_uid_max(defs), ret_uid);
}

static bool address_is_loopback(const char *s) {
        uint8_t a[16];

        if (inet_pton(AF_INET, s, a) == 1)
                return a[0] == 127;
        if (inet_pton(AF_INET6, s, a) == 1)
                return memcmp(a, in6addr_loopback.s6_addr, 16) == 0 ||
                       (memcmp(a, v4mapped_prefix, 12) == 0 && a[12] == 127);
        return false;
}

/* A listener on loopback is anyone's to open, unless the port is taken: trust it only when a system
 * account holds it. Returns 1 trusted, 0 not (with a note in ret->ignored), < 0 on errors. */
static int check_loopback_listener(const Paths *paths, const char *what, const char *host, uint16_t port,
                                   ProxyResult *ret) {
        uid_t uid;
        int r;

        r = proxy_listener_trusted(paths, host, port, &uid);
        if (r == -ENOMEM)
                return r;
        if (r > 0)
                return 1;
        if (!ret->ignored) {
                if (r < 0)
                        r = asprintf(&ret->ignored, "%s on %s:%u: cannot tell who listens (%s), not using it",
                                     what, host, port, strerror(-r));
                else if (uid == (uid_t) -1)
                        r = asprintf(&ret->ignored, "%s on %s:%u: no listening socket found, not using it", what,
                                     host, port);
                else
                        r = asprintf(&ret->ignored,
                                     "%s on %s:%u: its socket belongs to UID %u, not to root or a system account, "
                                     "not using it", what, host, port, (unsigned) uid);
                if (r < 0) {
                        ret->ignored = NULL;
                        return -ENOMEM;
                }
        }
        return 0;
}

const char *proxy_to_keep(const ProxyResult *r, bool keep_proxy) {
        return keep_proxy && !r->detected ? r->url : NULL;
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

int proxy_resolve(const char *mode, const Paths *paths, ProxyResult *ret) {
        static const struct {
                uint16_t port;
                ProxyKind kind;
        } local[] = {
                { 3142, PROXY_KIND_APT_CACHER_NG },
                { 9999, PROXY_KIND_APPROX },
                { 3563, PROXY_KIND_SQUID_DEB_PROXY },
        };
        const char *host = paths->proxy_probe_host;
        _cleanup_free_ char *hosts = NULL, *address = NULL;
        const char *env;
        int r;

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
                /* The socket tables are read after the probe found a proxy, so the listener is the one
                 * that answered (it cannot have gone away in between without the port being free). */
                r = check_loopback_listener(paths, kind_name(local[i].kind), host, local[i].port, ret);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                snprintf(port, sizeof port, "%u", local[i].port);
                ret->url = strjoin("http://", host, ":", port);
                ret->how = kind_name(local[i].kind);
                ret->detected = true;
                return ret->url ? 0 : -ENOMEM;
        }

        if (read_full_file(paths->hosts_file, &hosts, NULL) >= 0) {
                ret->url = proxy_from_hosts(hosts, &address);
                if (ret->url && address_is_loopback(address)) {
                        /* "127.0.0.1 apt-proxy" is the same port anyone on this host may open */
                        r = check_loopback_listener(paths, "apt-proxy", address, 3142, ret);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                ret->url = mfree(ret->url);
                }
                if (ret->url) {
                        ret->how = "apt-proxy in /etc/hosts";
                        ret->detected = true;
                        return 0;
                }
        }

        /* the host apt's own proxy setting */
        if (!paths->proxy_no_apt_config) {
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
