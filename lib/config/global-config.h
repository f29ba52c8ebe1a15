/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "distro-info.h"

typedef enum Bootstrapper {
        BOOTSTRAPPER_AUTO,
        BOOTSTRAPPER_DEBOOTSTRAP,
        BOOTSTRAPPER_MMDEBSTRAP,
        _BOOTSTRAPPER_MAX,
} Bootstrapper;

/* Per-distribution defaults: a section named after the distribution ([debian], [ubuntu]). */
typedef struct DistroDefaults {
        char *name;
        char *mirror, *ports_mirror, *security_mirror;
        char **components; /* may carry ">=VERSION" qualifiers, see distro_defaults_components() */
        char *keyring, *keyring_package;
        /* Where a release goes once its end of life (DistroRelease.end_of_life) is archive_after_sec past: its
         * mirror, its security mirror (NULL: no security and updates suites) and the keyring that still holds
         * its keys (NULL: keyring). No archive_mirror: releases stay on mirror forever. */
        char *archive_mirror, *archive_security_mirror, *archive_keyring;
        uint64_t archive_after_sec;
} DistroDefaults;

typedef struct GlobalConfig {
        Bootstrapper bootstrapper;
        char **base_packages; /* what every machine needs to boot and be entered */
        char *proxy; /* "auto", "none" or a URL */
        bool keep_proxy;
        char *cache_dir;
        uint64_t max_age_sec;
        uint64_t prune_unused_after_sec; /* a base no machine was built from for this long goes */
        DistroDefaults *distros;
        size_t n_distros;
} GlobalConfig;

GlobalConfig *global_config_free(GlobalConfig *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(GlobalConfig *, global_config_free);

/* The vendor file, then etc_dir/machinespawn.conf, then etc_dir/machinespawn.conf.d/ *.conf in lexical order;
 * only those that exist: Paths' vendor_conf and sysconf_dir. */
int global_config_files(const char *vendor_file, const char *etc_dir, char ***ret);

/* Reads the files with iniparser, later files overriding earlier ones key by key. Bad values are errors
 * naming FILE:LINE and key; unknown keys warnings. */
int global_config_load(char **files, GlobalConfig **ret, Diagnostics *d);

const DistroDefaults *global_config_distro(const GlobalConfig *c, const char *name);

/* The components that apply to release r: "non-free-firmware>=12" only from 12 on. */
int distro_defaults_components(const DistroDefaults *dd, const DistroRelease *r, char ***ret);

const char *bootstrapper_to_string(Bootstrapper b);
