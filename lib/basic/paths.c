/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "build-config.h"
#include "macro.h"
#include "paths.h"

/* An empty value means the default, as an unset one does. */
static const char *env_or(const char *name, const char *def) {
        const char *e = getenv(name);
        return isempty(e) ? def : e;
}

void paths_from_environment(Paths *ret) {
        *ret = (Paths) {
                .machines_dir = env_or("MACHINESPAWN_MACHINES_DIR", "/var/lib/machines"),
                .run_dir = env_or("MACHINESPAWN_RUN_DIR", "/run/machinespawn"),
                .state_dir = env_or("MACHINESPAWN_STATE_DIR", "/var/lib/machinespawn"),
                .nspawn_dir = env_or("MACHINESPAWN_NSPAWN_DIR", PATHS_NSPAWN_DIR_DEFAULT),
                .sysconf_dir = env_or("MACHINESPAWN_SYSCONFDIR", "/etc/machinespawn"),
                .vendor_conf = env_or("MACHINESPAWN_VENDOR_CONF", VENDOR_CONF_DIR "/machinespawn.conf"),
                /* set but empty: no directories at all */
                .config_path = getenv("MACHINESPAWN_CONFIG_PATH"),
                .distro_info_dir = env_or("MACHINESPAWN_DISTRO_INFO_DIR", "/usr/share/distro-info"),
                .ca_bundle = env_or("MACHINESPAWN_CA_BUNDLE", NULL),
                .hosts_file = env_or("MACHINESPAWN_HOSTS_FILE", "/etc/hosts"),
                .cache_format = env_or("MACHINESPAWN_CACHE_FORMAT", NULL),
                .dev_dir = env_or("MACHINESPAWN_DEV_DIR", "/dev"),
                .polkit_dir = env_or("MACHINESPAWN_POLKIT_DIR", "/etc/polkit-1/rules.d"),
                .ldconfig = env_or("MACHINESPAWN_LDCONFIG", "ldconfig"),
                .proxy_probe_host = env_or("MACHINESPAWN_PROXY_PROBE_HOST", "127.0.0.1"),
                .proxy_no_apt_config = getenv("MACHINESPAWN_PROXY_NO_APT_CONFIG"),
                .socket_table_proc = streq_ptr(getenv("MACHINESPAWN_SOCKET_TABLE"), "proc"),
                .chase_no_openat2 = streq_ptr(getenv("MACHINESPAWN_CHASE_NO_OPENAT2"), "1"),
                .log_kmsg = streq_ptr(getenv("MACHINESPAWN_LOG_KMSG"), "1"),
                .test_fail_at = getenv("MACHINESPAWN_TEST_FAIL_AT"),
        };
}
