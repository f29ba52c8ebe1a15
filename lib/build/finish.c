/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "chase.h"
#include "finish.h"
#include "strv.h"

/* Everything here goes through chase.h: the tree may come from a tarball anyone made, so a path inside
 * it must never lead out of it, whatever links, FIFOs or devices it holds. */
static int write_in(int root_fd, const char *rel, const char *content, const char **failed) {
        int r = chase_write_file(root_fd, rel, content, strlen(content), 0644, (uid_t) -1, (gid_t) -1, CHASE_MKDIR_P);
        if (r < 0)
                *failed = rel;
        return r;
}

static int unlink_in(int root_fd, const char *rel, const char **failed) {
        int r = chase_unlink(root_fd, rel, 0);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                *failed = rel;
        return r;
}

static int empty_in(int root_fd, const char *rel, bool (*keep)(const char *name), const char **failed) {
        int r = chase_empty_dir(root_fd, rel, keep);
        if (r < 0)
                *failed = rel;
        return r;
}

static bool keep_non_deb(const char *name) {
        return !endswith(name, ".deb");
}

static bool keep_lock(const char *name) {
        return streq(name, "lock");
}

int base_tidy(const char *root, const char **ret_failed) {
        const char *ignored, **failed = ret_failed ?: &ignored;
        _cleanup_close_ int root_fd = chase_root_open(root);
        int r;

        if (root_fd < 0)
                return root_fd;

        r = write_in(root_fd, "etc/machine-id", "", failed);
        if (r < 0)
                return r;
        /* mmdebstrap keeps its --aptopt settings here; a proxy of the build host has no place in a base */
        r = unlink_in(root_fd, "etc/apt/apt.conf.d/99mmdebstrap", failed);
        if (r < 0)
                return r;
        r = empty_in(root_fd, "var/cache/apt/archives", keep_non_deb, failed);
        if (r < 0)
                return r;
        r = empty_in(root_fd, "var/lib/apt/lists", keep_lock, failed);
        if (r < 0)
                return r;
        return unlink_in(root_fd, "var/lib/dbus/machine-id", failed);
}

int machine_finish(const char *root, const BootstrapPlan *p, const char *keep_proxy, const char **ret_failed) {
        const char *ignored, **failed = ret_failed ?: &ignored;
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

        r = write_in(root_fd, "etc/hostname", hostname, failed);
        if (r >= 0)
                r = write_in(root_fd, "etc/hosts", hosts, failed);
        if (r >= 0)
                r = write_in(root_fd, "etc/machine-id", "", failed);
        if (r >= 0)
                r = write_in(root_fd, "etc/apt/sources.list", sources, failed);
        if (r >= 0)
                r = write_in(root_fd, "etc/default/locale", "LANG=C.UTF-8\n", failed);
        if (r >= 0)
                r = write_in(root_fd, "etc/locale.conf", "LANG=C.UTF-8\n", failed);
        if (r < 0)
                return r;

        if (keep_proxy) {
                proxy_conf = strjoin("// Written by machinespawn (KeepProxy=yes)\nAcquire::http::Proxy \"", keep_proxy,
                                     "\";\n");
                if (!proxy_conf)
                        return -ENOMEM;
                return write_in(root_fd, "etc/apt/apt.conf.d/01machinespawn-proxy", proxy_conf, failed);
        }
        return unlink_in(root_fd, "etc/apt/apt.conf.d/01machinespawn-proxy", failed);
}

int machine_finish_image(const char *root, const char *hostname, const char **ret_failed) {
        const char *ignored, **failed = ret_failed ?: &ignored;
        _cleanup_free_ char *h = strjoin(hostname, "\n");
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        if (!h)
                return -ENOMEM;
        root_fd = chase_root_open(root);
        if (root_fd < 0)
                return root_fd;
        r = write_in(root_fd, "etc/hostname", h, failed);
        if (r < 0)
                return r;
        return write_in(root_fd, "etc/machine-id", "", failed);
}
