/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <sys/stat.h>

#include "fileio.h"
#include "finish.h"
#include "strv.h"

/* Writes root/rel. The tree is ours, but a path inside it must never lead out of it: refuse symlinks in
 * the last component (O_NOFOLLOW on the temporary, rename() replaces a link rather than following it). */
static int write_in(const char *root, const char *rel, const char *content) {
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        int r;

        if (!p)
                return -ENOMEM;
        r = mkdir_parents(p, 0755);
        if (r < 0)
                return r;
        return write_file_atomic(p, content, strlen(content), 0644, 0);
}

static int unlink_in(const char *root, const char *rel) {
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        if (!p)
                return -ENOMEM;
        if (unlink(p) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Deletes the regular files in root/rel whose names end in suffix (NULL: all but "lock"). */
static int empty_dir_in(const char *root, const char *rel, const char *suffix) {
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        struct dirent *de;
        DIR *d;

        if (!p)
                return -ENOMEM;
        d = opendir(p);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d)))
                if (de->d_type == DT_REG && (suffix ? !!endswith(de->d_name, suffix) : !streq(de->d_name, "lock")))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return 0;
}

int base_tidy(const char *root) {
        int r;

        r = write_in(root, "etc/machine-id", "");
        if (r < 0)
                return r;
        /* mmdebstrap keeps its --aptopt settings here; a proxy of the build host has no place in a base */
        r = unlink_in(root, "etc/apt/apt.conf.d/99mmdebstrap");
        if (r < 0)
                return r;
        r = empty_dir_in(root, "var/cache/apt/archives", ".deb");
        if (r < 0)
                return r;
        r = empty_dir_in(root, "var/lib/apt/lists", NULL);
        if (r < 0)
                return r;
        return unlink_in(root, "var/lib/dbus/machine-id") ;
}

int machine_finish(const char *root, const BootstrapPlan *p, const char *keep_proxy) {
        _cleanup_free_ char *hostname = NULL, *hosts = NULL, *sources = NULL, *proxy_conf = NULL;
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

        r = write_in(root, "etc/hostname", hostname);
        if (r >= 0)
                r = write_in(root, "etc/hosts", hosts);
        if (r >= 0)
                r = write_in(root, "etc/machine-id", "");
        if (r >= 0)
                r = write_in(root, "etc/apt/sources.list", sources);
        if (r >= 0)
                r = write_in(root, "etc/default/locale", "LANG=C.UTF-8\n");
        if (r >= 0)
                r = write_in(root, "etc/locale.conf", "LANG=C.UTF-8\n");
        if (r < 0)
                return r;

        if (keep_proxy) {
                proxy_conf = strjoin("// Written by machinespawn (KeepProxy=yes)\nAcquire::http::Proxy \"", keep_proxy,
                                     "\";\n");
                if (!proxy_conf)
                        return -ENOMEM;
                return write_in(root, "etc/apt/apt.conf.d/01machinespawn-proxy", proxy_conf);
        }
        return unlink_in(root, "etc/apt/apt.conf.d/01machinespawn-proxy");
}

int machine_finish_image(const char *root, const char *hostname) {
        _cleanup_free_ char *h = strjoin(hostname, "\n");
        int r;

        if (!h)
                return -ENOMEM;
        r = write_in(root, "etc/hostname", h);
        if (r < 0)
                return r;
        return write_in(root, "etc/machine-id", "");
}
