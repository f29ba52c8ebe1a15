/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "diag.h"
#include "machine-build.h"
#include "tree.h"

/* What the command and the helpers do with a machine besides building it: its systemd unit, removal with
 * its saved declaration, the listing, and entering it. */

/* systemd as PID 1 with its bus; otherwise systemd-nspawn runs unregistered (CI machines, chroots). */
bool host_has_systemd(void);

/* "systemctl VERB systemd-nspawn@NAME.service": 0, -EIO when systemctl fails, other -errno when it cannot
 * run. */
int machine_systemctl(const char *verb, const char *name);

/* "systemctl daemon-reload" where systemd runs, so the generator sees a changed declaration. */
void host_daemon_reload(void);

typedef enum MachineUninstallFlags {
        MACHINE_UNINSTALL_STOP = 1 << 0,        /* stop a running machine through systemd first */
        MACHINE_UNINSTALL_KEEP_CONFIG = 1 << 1, /* keep the .mspawn even if "bootstrap" wrote it */
} MachineUninstallFlags;

typedef struct MachineUninstallResult {
        RemoveStats stats;
        char *config_removed; /* the .mspawn removed with it, or NULL */
} MachineUninstallResult;

void machine_uninstall_result_done(MachineUninstallResult *r);

/* Removes machine NAME (machine_remove(), with Paths.nspawn_dir) and the .mspawn in Paths.sysconf_dir that
 * "bootstrap" saved for it.
 * A running machine is -EBUSY unless MACHINE_UNINSTALL_STOP and systemd runs it. Reasons go to d. */
int machine_uninstall(const char *name, const BuildOptions *o, MachineUninstallFlags flags, MachineUninstallResult *ret,
                      Diagnostics *d);

/* state_dir/NAME.origin: its first line ("base=KEY", "image=URL"), and the KEY of a base (else NULL). */
int machine_origin_read(const BuildOptions *o, const char *name, char **ret_origin, char **ret_base_key);

typedef struct MachineListEntry {
        char *name;
        char *declared;      /* the .mspawn, or NULL */
        char *origin;        /* see machine_origin_read(), or NULL */
        bool image, running;
        uint64_t size;
        long long base_age;  /* seconds since its base was built, -1 unknown */
} MachineListEntry;

void machine_list_free(MachineListEntry *l, size_t n);

/* Every declared machine and every tree in machines_dir, sorted by name. */
int machine_list(const BuildOptions *o, const char *cache_dir, time_t now, MachineListEntry **ret,
                 size_t *ret_n);

/* Waits until a machine systemd just started answers on its bus (it comes up a moment after systemd-nspawn
 * reports ready), polling every 250 ms for at most timeout_ms; -ETIMEDOUT after. */
int machine_wait_answering(const char *name, unsigned timeout_ms);

/* The command line that enters running machine NAME as user (enter.h): as root "machinectl shell USER@NAME"
 * for a shell, "systemd-run --wait" for a command (it ends with the command's exit status; machinectl shell
 * of systemd 252 drops it), with the host session's display and audio from the machine's session
 * environment; as anyone else "machinectl shell" through polkit. A session environment that cannot be used
 * is a warning in d. */
int machine_enter_argv(const char *machines_dir, const char *name, const char *user, char **cmd, bool tty,
                       char ***ret, Diagnostics *d);
