/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "diag.h"
#include "unit-file.h"

typedef enum VerifyMode {
        VERIFY_CHECKSUM, /* SHA256SUMS beside the image (default) */
        VERIFY_SHA256,   /* an inline sha256:HEX */
        VERIFY_NO,
} VerifyMode;

typedef enum HomeMode {
        HOME_DEFAULT, /* bind when [User] Name= is set */
        HOME_BIND,
        HOME_NONE,
} HomeMode;

/* One key=value of a section that is handed on as it is ([Exec], [Files], [Network], [Unit], [Service]). */
typedef struct Setting {
        char *key;
        char *value;
        const char *file; /* borrowed from MachineConfig.sources */
        unsigned line;
} Setting;

typedef struct SettingList {
        Setting *items;
        size_t n, n_allocated;
} SettingList;

/* A value with the place it was set, so later checks can still say FILE:LINE. */
typedef struct Located {
        char *value;
        const char *file; /* borrowed from MachineConfig.sources */
        unsigned line;
} Located;

typedef struct UserConfig {
        char *name;
        char **groups;
        HomeMode home;
        int sudo, display, audio; /* -1: not set */

        /* Apps, binaries and devices the user gets from the machine on the host */
        char **export_apps; /* desktop file IDs, without ".desktop" */
        char **export_bins; /* absolute paths inside the machine */
        bool gpu;
} UserConfig;

/* [Machine] keys about the machine's life after its first build (lib/config/machine-lifecycle.c). */
typedef struct LifecycleConfig {
        char **keep;           /* Keep=: absolute paths inside the machine, carried over by a rebuild */
        char **run;            /* Run=: commands run once after the build, again when their text changes */
        char **run_on_start;   /* RunOnStart=: commands run before every boot */
        char **copy;           /* Copy=SOURCE:DEST, host file to a path inside */
        int rebuild_on_change; /* RebuildOnChange=: -1 not set */
        int remove_unlisted;   /* RemoveUnlistedPackages=: -1 not set */
} LifecycleConfig;

typedef struct MachineConfig {
        char *name;
        char *source_path;   /* the main .mspawn */
        char **dropin_paths; /* in the order applied */
        char **sources;      /* every file an assignment came from; Setting.file and Located.file point here */

        /* [Machine] */
        Located distribution, release, image, mirror;
        char *architecture;
        char *variant;
        char **components;
        char **packages;
        VerifyMode verify;
        char *verify_sha256;
        char *hostname;
        LifecycleConfig life;

        UserConfig user;

        SettingList exec, files, network; /* systemd.nspawn(5) settings */
        SettingList unit, service;        /* merged into systemd-nspawn@NAME.service */

        char **wanted_by, **required_by; /* [Install] */

        /* Not from the .mspawn: what the image's config said, recorded at pull time, set by whoever writes
         * the machine's settings (machinespawn-prepare). */
        struct OciExec *oci;
} MachineConfig;

MachineConfig *machine_config_free(MachineConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(MachineConfig *, machine_config_free);

/* The pure half: interprets parsed assignments (in order) for machine NAME. Unknown keys are warnings;
 * bad values and contradictions are errors, all reported to d. Fails with -EBADMSG when anything was an
 * error, after reporting every one. main_file names the file in messages about the whole machine; now
 * resolves Release= aliases with the distro-info CSV files in distro_info_dir. */
int machine_config_from_unit(const char *name, const char *main_file, const UnitFile *u, time_t now,
                             const char *distro_info_dir, MachineConfig **ret, Diagnostics *d);

const char *verify_mode_to_string(VerifyMode m);

/* "checksum" (or empty), "no", "sha256:HEX": the mode, and the hex as given for sha256 (else NULL).
 * -EINVAL for anything else. Shared by Verify= and "machinespawn pull-tar --verify=". */
int verify_parse(const char *s, VerifyMode *ret_mode, char **ret_sha256);
