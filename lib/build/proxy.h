/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "paths.h"

/* Finding a local package proxy, the way auto-apt-proxy does: a cache answering on its well-known port
 * (recognised by what it answers, not by an open port), an "apt-proxy" host, the host apt's
 * Acquire::http::Proxy, $http_proxy. */
typedef enum ProxyKind {
        PROXY_KIND_UNKNOWN,
        PROXY_KIND_APT_CACHER_NG,
        PROXY_KIND_APPROX,
        PROXY_KIND_SQUID_DEB_PROXY,
} ProxyKind;

typedef struct ProxyResult {
        char *url;       /* NULL: none */
        const char *how; /* what found it, for the log */
        bool detected;   /* found by looking around (loopback ports, apt-proxy), not configured: never kept */
        char *ignored;   /* a proxy that was found but not trusted, and why; for a warning */
} ProxyResult;

void proxy_result_done(ProxyResult *r);

/* Pure parsers, unit-tested. */
ProxyKind proxy_classify_reply(const char *reply);
/* http://apt-proxy:3142 if a line names apt-proxy; the line's address in *ret_address when given. */
char *proxy_from_hosts(const char *hosts_text, char **ret_address);
char *proxy_from_apt_config(const char *shell_output); /* `apt-config shell P Acquire::http::Proxy` output */

/* Connects to host:port, sends "GET / HTTP/1.0", returns what came back within timeout_ms. */
int proxy_probe(const char *host, uint16_t port, int timeout_ms, char **ret_reply);

/* A TCP socket in LISTEN state, as the kernel's socket tables have it. */
typedef struct SocketListener {
        int family;       /* AF_INET or AF_INET6 */
        uint8_t addr[16]; /* the bytes of struct in_addr or struct in6_addr */
        uint16_t port;    /* host byte order */
        uid_t uid;
} SocketListener;

/* Pure: appends the LISTEN sockets on port from the text of /proc/net/tcp (family AF_INET) or
 * /proc/net/tcp6 (AF_INET6). Addresses there are the kernel's words in the byte order of the machine
 * that wrote the text. Lines that do not parse are skipped; -ENOMEM. */
int socket_table_parse(const char *text, int family, uint16_t port, SocketListener **l, size_t *n);

/* Every LISTEN socket on port in this network namespace: NETLINK_SOCK_DIAG, or /proc/net/tcp and tcp6
 * where that is not available (proc_tables forces those, for tests). */
int socket_listeners(uint16_t port, bool proc_tables, SocketListener **ret, size_t *ret_n);

/* Pure: SYS_UID_MAX from the text of /etc/login.defs; 999, Debian's default, when it is not set. */
uid_t login_defs_sys_uid_max(const char *text);

/* Pure: 1 when every listener that could accept a connection to addr:port (that address or a wildcard,
 * IPv4 also through IPv6 sockets) belongs to a UID up to max_uid, and there is one; 0 otherwise, with the
 * first offending listener's UID in *ret_uid ((uid_t) -1 when there was none). */
int socket_listeners_trusted(const SocketListener *l, size_t n, int family, const void *addr, uint16_t port,
                             uid_t max_uid, uid_t *ret_uid);

/* The whole check for a numeric host address: 1 trusted, 0 not (*ret_uid as above), < 0 on errors. */
int proxy_listener_trusted(const Paths *paths, const char *host, uint16_t port, uid_t *ret_uid);

/* What KeepProxy= may write into a machine: a configured proxy only. One found by looking around is this
 * host's for now; it may be gone, or someone else's, when the machine runs. NULL: nothing. */
const char *proxy_to_keep(const ProxyResult *r, bool keep_proxy);

/* mode is "auto", "none" or a URL. $MACHINESPAWN_PROXY_PROBE_HOST (default 127.0.0.1) and
 * $MACHINESPAWN_HOSTS_FILE (default /etc/hosts) redirect the probes, for tests. A proxy found on a
 * loopback address is used only when its listening socket belongs to root or a system account (UID up to
 * SYS_UID_MAX): anyone else on the host could otherwise serve every package of every machine built here.
 * Configured ones (mode a URL, apt's setting, $http_proxy) are the admin's word and used as they are. */
int proxy_resolve(const char *mode, const Paths *paths, ProxyResult *ret);
