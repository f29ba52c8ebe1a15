/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "nspawn-keys.h"

static const char *const exec_keys[] = {
        "Boot", "Ephemeral", "ProcessTwo", "Parameters", "Environment", "User", "WorkingDirectory",
        "PivotRoot", "Capability", "DropCapability", "AmbientCapability", "NoNewPrivileges", "KillSignal",
        "Personality", "MachineID", "PrivateUsers", "NotifyReady", "SystemCallFilter", "LimitCPU",
        "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE", "LimitAS",
        "LimitNPROC", "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE", "LimitNICE",
        "LimitRTPRIO", "LimitRTTIME", "OOMScoreAdjust", "CPUAffinity", "Hostname", "ResolvConf", "Timezone",
        "LinkJournal", "SuppressSync", NULL,
};

static const char *const files_keys[] = {
        "ReadOnly", "Volatile", "Bind", "BindReadOnly", "BindUser", "TemporaryFileSystem", "Inaccessible",
        "Overlay", "OverlayReadOnly", "PrivateUsersOwnership", "PrivateUsersChown", NULL,
};

static const char *const network_keys[] = {
        "Private", "VirtualEthernet", "VirtualEthernetExtra", "Interface", "MACVLAN", "IPVLAN", "Bridge",
        "Zone", "Port", NULL,
};

bool nspawn_key_is_known(const char *section, const char *key) {
        const char *const *keys = streq(section, "Exec")    ? exec_keys
                                  : streq(section, "Files")   ? files_keys
                                  : streq(section, "Network") ? network_keys
                                                              : NULL;
        for (; keys && *keys; keys++)
                if (streq(*keys, key))
                        return true;
        return false;
}
