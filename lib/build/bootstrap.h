/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "diag.h"
#include "distro-info.h"
#include "global-config.h"
#include "machine-config.h"

/* Everything needed to build one machine's base tree, resolved: what the cache key is made of, and how
 * to run the bootstrap tool. Pure: built from the .mspawn, the global config and a few host facts. */
typedef struct BootstrapPlan {
        char *machine;
        DistroRelease release; /* release.codename is what the tools get */
        char *architecture;
        char *variant;    /* minbase, buildd, default */
        char **components;
        char **packages;  /* base set + Packages=, sorted, each once */
        char *mirror;
        char *security_mirror; /* NULL: the release has no security suite */
        char *keyring;    /* NULL: the tool's default */
        char *keyring_package;
        Bootstrapper tool; /* never BOOTSTRAPPER_AUTO here */
        bool foreign;      /* architecture differs from the host's */
        bool archived;     /* past its end of life: from the archive mirror, its Release file past Valid-Until */
        char *cache_key;   /* "debian-bookworm-amd64-minbase-1a2b3c4d" */
        char *hostname;
} BootstrapPlan;

BootstrapPlan *bootstrap_plan_free(BootstrapPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(BootstrapPlan *, bootstrap_plan_free);

typedef struct HostFacts {
        const char *architecture; /* Debian name of the host's */
        bool have_mmdebstrap;
        time_t now;
        const char *distro_info_dir;
} HostFacts;

/* Errors (unknown release, no defaults for the distribution) are reported to d and give -EINVAL. */
int bootstrap_plan_build(const MachineConfig *c, const GlobalConfig *g, const HostFacts *host, BootstrapPlan **ret,
                         Diagnostics *d);

/* The host's architecture as Debian names it, from uname(2); NULL if unknown. */
const char *host_debian_architecture(void);

/* argv for the bootstrap tool building into target. proxy may be NULL. */
int bootstrap_plan_argv(const BootstrapPlan *p, const char *target, const char *proxy, char ***ret);

/* The apt configuration the finished machine gets in etc/apt/apt.conf.d/BOOTSTRAP_APT_CONF_ARCHIVE: for an
 * archived release, not to check Valid-Until. *ret is NULL when the machine needs none. */
#define BOOTSTRAP_APT_CONF_ARCHIVE "01machinespawn-archive"
int bootstrap_plan_apt_conf(const BootstrapPlan *p, char **ret);

/* The sources.list the finished machine gets: the release, its -updates and -security suites when it
 * has them. */
int bootstrap_plan_sources_list(const BootstrapPlan *p, char **ret);
