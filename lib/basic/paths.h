/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Where machinespawn keeps and finds things, and the overrides the tests use: read once from the
 * environment by paths_from_environment() and handed to whatever needs it. Each field is never NULL
 * unless it says so. */
typedef struct Paths {
        const char *machines_dir;    /* /var/lib/machines, $MACHINESPAWN_MACHINES_DIR */
        const char *run_dir;         /* /run/machinespawn (per-machine locks), $MACHINESPAWN_RUN_DIR */
        const char *state_dir;       /* /var/lib/machinespawn (origins), $MACHINESPAWN_STATE_DIR */
        const char *nspawn_dir;      /* /run/systemd/nspawn, $MACHINESPAWN_NSPAWN_DIR */
        const char *sysconf_dir;     /* /etc/machinespawn, $MACHINESPAWN_SYSCONFDIR */
        const char *vendor_conf;     /* VENDOR_CONF_DIR/machinespawn.conf, $MACHINESPAWN_VENDOR_CONF */
        const char *config_path;     /* $MACHINESPAWN_CONFIG_PATH, colon-separated; NULL: the built-in list */
        const char *distro_info_dir; /* /usr/share/distro-info, $MACHINESPAWN_DISTRO_INFO_DIR */
        const char *ca_bundle;       /* $MACHINESPAWN_CA_BUNDLE; NULL: libcurl's default */
        const char *hosts_file;      /* /etc/hosts, $MACHINESPAWN_HOSTS_FILE */
        const char *cache_format;    /* "archive" or "tree", $MACHINESPAWN_CACHE_FORMAT; NULL: by file system */
        const char *dev_dir;         /* /dev, where GPU= looks for nodes, $MACHINESPAWN_DEV_DIR */
        const char *polkit_dir;      /* /etc/polkit-1/rules.d, $MACHINESPAWN_POLKIT_DIR */
        const char *ldconfig;        /* "ldconfig" (the host's linker cache, for GPU=), $MACHINESPAWN_LDCONFIG */

        /* For tests only. */
        const char *proxy_probe_host; /* 127.0.0.1, $MACHINESPAWN_PROXY_PROBE_HOST */
        bool proxy_no_apt_config;     /* $MACHINESPAWN_PROXY_NO_APT_CONFIG set: do not ask apt-config */
        bool socket_table_proc;       /* $MACHINESPAWN_SOCKET_TABLE=proc: /proc/net/tcp*, not sock_diag */
        bool chase_no_openat2;        /* $MACHINESPAWN_CHASE_NO_OPENAT2=1: the resolver without openat2() */
        bool log_kmsg;                /* $MACHINESPAWN_LOG_KMSG=1: the generator logs to /dev/kmsg too */
        const char *test_fail_at;     /* $MACHINESPAWN_TEST_FAIL_AT: tests only, see test_fail_point() */
} Paths;

/* The only reader of the MACHINESPAWN_* environment. The strings point into the environment: fill it
 * again after changing a variable. */
void paths_from_environment(Paths *ret);

#define PATHS_NSPAWN_DIR_DEFAULT "/run/systemd/nspawn"
