/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <archive.h>
#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free);

typedef struct ExtractStats {
        uint64_t entries, skipped_devices;
} ExtractStats;

/* Whether an archive path stays below the directory it is unpacked into: relative, no ".." component,
 * shorter than PATH_MAX. Pure, unit-tested. */
bool archive_path_is_safe(const char *path);

/* A reader for a tar stream in any compression libarchive knows, found from the content. */
struct archive *extract_reader_new(void);

/* A disk writer with libarchive's guards (no "..", no absolute paths, never writing through a symlink),
 * keeping owners, modes, times, xattrs and ACLs. */
struct archive *extract_disk_writer_new(void);

/* Our checks on one header, what naming it in the message ("archive entry"): 1 to unpack it, 0 to skip it
 * (the top directory; a device node, counted), < 0 refused (reported). */
struct archive_entry;
int extract_entry_check(struct archive_entry *e, const char *what, uint64_t *skipped_devices, Diagnostics *d);

/* Writes the entry e that in just read (header, data, finish) through out, and to the archive copy as well
 * if not NULL (a stream: holes become zeros); failures are reported. */
int extract_entry_copy(struct archive *in, struct archive *out, struct archive_entry *e, struct archive *copy,
                       Diagnostics *d);

/* Unpacks what in reads into target (an existing directory), with libarchive's guards and ours: entries
 * and hard link targets that would land outside target are refused, writing through a symlink is refused,
 * device nodes are skipped (counted). Fails on a broken or empty archive. On failure the caller removes
 * target. */
int extract_archive(struct archive *in, const char *target, ExtractStats *stats, Diagnostics *d);
