/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "machine-config.h"

typedef void (*PullProgress)(void *userdata, uint64_t done, uint64_t total); /* total 0: unknown */

typedef struct PullOptions {
        const char *url;
        VerifyMode verify;
        const char *sha256;    /* with VERIFY_SHA256 */
        const char *cache_dir; /* downloads are kept in cache_dir/images/ */
        const char *ca_bundle; /* NULL: the system's (Paths.ca_bundle) */
        PullProgress progress;
        void *userdata;
} PullOptions;

typedef struct PullResult {
        bool not_modified;   /* the server said 304: nothing was downloaded */
        uint64_t downloaded; /* bytes received */
        uint64_t entries, skipped_devices;
        char sha256[65];
} PullResult;

/* Downloads the root file system tarball at o->url and unpacks it into target (an existing empty
 * directory) while it downloads: no second pass over the data, memory bounded whatever the size. The
 * archive is kept in the cache with its ETag and Last-Modified, so a second pull of an unchanged URL is a
 * conditional request answered with 304 and unpacked from the cache, which is hashed again first (against
 * the expected digest, or with Verify=no the one recorded at download; a mismatch drops it from the cache).
 * An https URL is never redirected to plain http. Verifies as o->verify says; on any
 * failure (mismatch, broken transfer, hostile entry) the caller removes target. Entries that would land
 * outside target are refused; device nodes are skipped. */
int pull_image(const PullOptions *o, const char *target, PullResult *ret, Diagnostics *d);

/* Pure helpers, unit-tested: the SHA256SUMS line for name, and whether an archive path is safe. */
int sha256sums_find(const char *text, const char *name, char ret[65]);
bool archive_path_is_safe(const char *path);
