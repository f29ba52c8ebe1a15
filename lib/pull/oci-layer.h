/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "diag.h"

typedef struct OciLayerStats {
        uint64_t entries, whiteouts, opaques, skipped_devices;
        uint64_t replaced; /* lower layers' entries removed, or replaced by one of another type */
} OciLayerStats;

/* Applies one layer (a tar, plain, gzip or zstd, read once from fd: a file or a socket) onto the tree at
 * target, as the image spec says, in one pass: a whiteout (".wh.NAME" deletes NAME of the lower layers) or
 * opaque marker (".wh..wh..opq" hides the lower contents of its directory) is applied where it comes in
 * the tar, and hides only what the lower layers left: what this layer wrote, before or after the marker,
 * stays. Entries and whiteouts are refused when they would land outside target, go through a symbolic
 * link, or are absolute; device nodes are skipped, like pull-tar does; owners, modes, times and xattrs
 * (file capabilities) are kept. On failure target is half-done: the caller removes it. */
int oci_layer_apply(int fd, const char *target, OciLayerStats *stats, Diagnostics *d);

/* The same, and every entry written is also written to the archive copy (when not NULL), in order: with
 * the copies of the layers below, the same tree once unpacked, as long as stats->replaced stays 0 (a tar
 * cannot say that something below is gone). */
struct archive;
int oci_layer_apply_copy(int fd, const char *target, struct archive *copy, OciLayerStats *stats, Diagnostics *d);

/* Pure, unit-tested: "./a/b/" -> "a/b"; NULL if the name is unsafe (absolute, "..", empty). */
char *oci_layer_path_normalize(const char *path);
