/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "chase.h"
#include "finish.h"
#include "strv.h"

/* Everything here goes through chase.h: the tree may come from a tarball anyone made, so a path inside
 * it must never lead out of it, whatever links, FIFOs or devices it holds. */
static int write_in(int root_fd, const char *rel, const char *content) {
        return chase_write_file(root_fd, rel, content, strlen(content), 0644, (uid_t) -1, (gid_t) -1, CHASE_MKDIR_P);
}

static int unlink_in(int root_fd, const char *rel) {
        int r = chase_unlink(root_fd, rel, 0);
        return r == -ENOENT ? 0 : r;
}

static bool keep_non_deb(const char *name) {
        return !endswith(name, ".deb");
}

static bool keep_lock(const char *name) {
        return streq(name, "lock");
}

int base_tidy(const char *root) {
        _cleanup_close_ int root_fd = chase_root_open(root);
        int r;

        if (root_fd < 0)
                return root_fd;

        r = write_in(root_fd, "etc/machine-id", "");
        if (r < 0)
                return r;
        /* mmdebstrap keeps its --aptopt settings here; a proxy of the build host has no place in a base */
        r = unlink_in(root_fd, "etc/apt/apt.conf.d/99mmdebstrap");
        if (r < 0)
                return r;
        r = chase_empty_dir(root_fd, "var/cache/apt/archives", keep_non_deb);
        if (r < 0)
                return r;
        r = chase_empty_dir(root_fd, "var/lib/apt/lists", keep_lock);
        if (r < 0)
                return r;
        return unlink_in(root_fd, "var/lib/dbus/machine-id");
}

int machine_finish(const char *root, const BootstrapPlan *p, const char *keep_proxy) {
        _cleanup_free_ char *hostname = NULL, *hosts = NULL, *sources = NULL, *proxy_conf = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        hostname = strjoin(p->hostname, "\n");
        hosts = strjoin("127.0.0.1\tlocalhost\n127.0.1.1\t", p->hostname,
                        "\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\n"
                        "ff02::2\t\tip6-allrouters\n");
        if (!hostname || !hosts)
                return -ENOMEM;
        r = bootstrap_plan_sources_list(p, &sources);
        if (r < 0)
                return r;
        root_fd = chase_root_open(root);
        if (root_fd < 0)
                return root_fd;

        r = write_in(root_fd, "etc/hostname", hostname);
        if (r >= 0)
                r = write_in(root_fd, "etc/hosts", hosts);
        if (r >= 0)
                r = write_in(root_fd, "etc/machine-id", "");
        if (r >= 0)
                r = write_in(root_fd, "etc/apt/sources.list", sources);
        if (r >= 0)
                r = write_in(root_fd, "etc/default/locale", "LANG=C.UTF-8\n");
        if (r >= 0)
                r = write_in(root_fd, "etc/locale.conf", "LANG=C.UTF-8\n");
        if (r < 0)
                return r;

        if (keep_proxy) {
                proxy_conf = strjoin("// Written by machinespawn (KeepProxy=yes)\nAcquire::http::Proxy \"", keep_proxy,
                                     "\";\n");
                if (!proxy_conf)
                        return -ENOMEM;
                return write_in(root_fd, "etc/apt/apt.conf.d/01machinespawn-proxy", proxy_conf);
        }
        return unlink_in(root_fd, "etc/apt/apt.conf.d/01machinespawn-proxy");
}

int machine_finish_image(const char *root, const char *hostname) {
        _cleanup_free_ char *h = strjoin(hostname, "\n");
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        if (!h)
                return -ENOMEM;
        root_fd = chase_root_open(root);
        if (root_fd < 0)
                return root_fd;
        r = write_in(root_fd, "etc/hostname", h);
        if (r < 0)
                return r;
        return write_in(root_fd, "etc/machine-id", "");
}
