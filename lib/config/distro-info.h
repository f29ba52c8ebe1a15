/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "macro.h"

/* Releases as distro-info-data lists them (/usr/share/distro-info/DISTRIBUTION.csv), so a new release
 * needs a data update, not a code change. */
typedef struct DistroRelease {
        char *distribution; /* "debian" */
        char *codename;     /* "bookworm": what debootstrap and sources.list want */
        char *version;      /* "12", "22.04"; NULL for sid */
        unsigned major, minor; /* numeric version; UINT_MAX for a release without a version (sid) */
        bool released;
        /* When support on the distribution's regular mirrors ends (distro-info's eol-lts for Debian, the last of
         * eol, eol-esm, eol-legacy for Ubuntu); 0 if the data has no date. */
        time_t end_of_life;
} DistroRelease;

void distro_release_done(DistroRelease *r);

/* Resolves a codename ("bookworm"), a version ("12", "22.04") or, for Debian, a suite alias ("stable",
 * "testing", "unstable", "oldstable") as of now. -ENOENT: no data for this distribution; -ESRCH: not a
 * release of it, and then *ret_known (if given) lists the codenames it knows. */
int distro_release_resolve(const char *dir, const char *distribution, const char *release, time_t now,
                           DistroRelease *ret, char **ret_known);

/* <0, 0, >0 as a's version is older, equal or newer than major.minor. */
int distro_release_compare_version(const DistroRelease *a, unsigned major, unsigned minor);
