/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "diag.h"

/* The cache of base trees: DIR/KEY is a complete tree (on file systems with reflinks, where a clone of it
 * is nearly free) or DIR/KEY.tar.zst its archive (elsewhere: a cold base then costs a sequential read of
 * a third of the size, and unpacking runs on two cores, which beats copying the tree file by file), DIR/KEY.info says when and how it was built,
 * DIR/KEY.lock is what concurrent users flock(): shared to copy from a base, exclusive to build, replace
 * or delete it. Trees are built as DIR/.tmp-KEY-XXXXXX and published by rename, so DIR/KEY is always
 * whole. */

typedef struct CacheEntry {
        char *key;
        time_t built;     /* 0: unknown (no .info) */
        time_t last_used; /* a machine was last built from it; 0: never recorded */
        char *info;       /* the .info text */
        bool busy;        /* someone holds its lock */
} CacheEntry;

/* The one reader of KEY.info: "built=EPOCH" and "last-used=EPOCH" lines (0 where missing). */
void cache_info_parse(const char *info, time_t *ret_built, time_t *ret_last_used);

void cache_entries_free(CacheEntry *e, size_t n);

char *cache_path(const char *dir, const char *key, const char *suffix);

#define CACHE_ARCHIVE_SUFFIX ".tar.zst"

/* The base of KEY: the tree or the archive, whichever is there; -ENOENT if neither. */
int cache_base(const char *dir, const char *key, char **ret_path, bool *ret_is_archive);

/* Whether new bases in dir are kept as archives: format "tree" or "archive" (Paths.cache_format), else
 * (NULL) by whether dir has reflinks. */
bool cache_use_archives(const char *dir, const char *format);

/* flock()s KEY.lock (creating dir and file); operation is LOCK_SH or LOCK_EX, optionally | LOCK_NB.
 * Returns the fd; closing it releases the lock. */
int cache_lock(const char *dir, const char *key, int operation);

/* 1 if DIR/KEY exists and was built no longer than max_age_sec before now, 0 if missing or stale. */
int cache_entry_fresh(const char *dir, const char *key, uint64_t max_age_sec, time_t now);

/* A new empty temporary directory for building KEY. */
int cache_tmp_dir(const char *dir, const char *key, char **ret);

/* Removes temporaries of KEY left by killed builds. Call with the exclusive lock held. */
int cache_clean_tmp(const char *dir, const char *key);

/* Publishes tmp, a finished tree or archive, as KEY (replacing an older base of either kind) with info as
 * KEY.info. Exclusive lock. */
int cache_publish(const char *dir, const char *key, const char *tmp, const char *info);

/* Every KEY with its info, sorted by key. */
int cache_list(const char *dir, CacheEntry **ret, size_t *ret_n);

/* Records in KEY.info that a machine is being built from KEY now (a "last-used=" line, replaced). Call
 * with a lock on KEY held. */
int cache_mark_used(const char *dir, const char *key, time_t when);

/* Bytes of KEY on disk: its archive, or its tree counted file by file. */
int cache_entry_size(const char *dir, const char *key, uint64_t *ret);

/* Whether a base is to be pruned: not in use, and no machine built from it (or, never used, built) for
 * more than unused_sec before now. A base without a .info is pruned: it is rebuilt before any use
 * anyway. unused_sec UINT64_MAX: never. Pure. */
bool cache_entry_prunable(const CacheEntry *e, uint64_t unused_sec, time_t now);

/* The keys of the entries cache_entry_prunable() picks, in order. */
int cache_prune_select(const CacheEntry *e, size_t n, uint64_t unused_sec, time_t now, char ***ret_keys);

/* Removes what cache_prune_select() picks, checking each again under its exclusive lock (a machine built
 * from it meanwhile keeps it). Failures go to d; ret_removed lists what went. */
int cache_prune(const char *dir, uint64_t unused_sec, time_t now, char ***ret_removed, Diagnostics *d);

/* Deletes KEY unless someone holds its lock (-EBUSY). */
int cache_remove(const char *dir, const char *key);

/* Deletes the named bases (keys NULL: every base), carrying on past failures, which go to d with the
 * reason (in use, unknown, ...). Returns the first error; ret_removed lists what went. */
int cache_remove_keys(const char *dir, char **keys, char ***ret_removed, Diagnostics *d);
