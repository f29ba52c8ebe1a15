/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

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
} ProxyResult;

void proxy_result_done(ProxyResult *r);

/* Pure parsers, unit-tested. */
ProxyKind proxy_classify_reply(const char *reply);
char *proxy_from_hosts(const char *hosts_text);        /* http://apt-proxy:3142 if a line names apt-proxy */
char *proxy_from_apt_config(const char *shell_output); /* `apt-config shell P Acquire::http::Proxy` output */

/* Connects to host:port, sends "GET / HTTP/1.0", returns what came back within timeout_ms. */
int proxy_probe(const char *host, uint16_t port, int timeout_ms, char **ret_reply);

/* mode is "auto", "none" or a URL. $MACHINESPAWN_PROXY_PROBE_HOST (default 127.0.0.1) and
 * $MACHINESPAWN_HOSTS_FILE (default /etc/hosts) redirect the probes, for tests. */
int proxy_resolve(const char *mode, ProxyResult *ret);
