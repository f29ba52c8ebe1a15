/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "diag.h"

/* The download cache: cache_dir/images/KEY.archive (KEY from the URL) with KEY.meta beside it ("url=",
 * "etag=", "last-modified=", "sha256="), so that the next pull of the same URL asks conditionally. */
typedef struct CachedImage {
        char *file, *meta;
        char *etag, *last_modified, *sha256;
} CachedImage;

void cached_image_done(CachedImage *c);

/* Where url's copy lives, and what its .meta says (nothing if there is no complete copy). */
int cached_image_load(const char *cache_dir, const char *url, CachedImage *ret);
/* "If-None-Match: ..." or "If-Modified-Since: ...", or NULL (*ret) without a validator. */
int cached_image_condition(const CachedImage *c, char **ret);
/* A curl header callback: fills etag and last_modified of the CachedImage in userdata. */
size_t cached_image_on_header(char *data, size_t size, size_t n, void *userdata);
/* The copy, hashed again (not taken on the word of its .meta) against expected, or without one against
 * the digest recorded at download: a descriptor at its start, and the digest. On a mismatch the copy is
 * dropped from the cache (-EBADMSG, reported). */
int cached_image_open_verified(const CachedImage *c, const char *url, const char *expected, char ret_actual[65],
                               Diagnostics *d);

/* A temporary beside the cached file that a download is written to, renamed over it once verified. */
typedef struct CacheKeep {
        char *tmp;
        FILE *f;
} CacheKeep;

int cache_keep_begin(const CachedImage *c, CacheKeep *ret, Diagnostics *d);
/* Closes, and removes the temporary unless it was committed. */
void cache_keep_done(CacheKeep *k);
/* Durably in place, with the validators of fresh and the digest. */
int cache_keep_commit(CacheKeep *k, const CachedImage *c, const char *url, const CachedImage *fresh,
                      const char *sha256, Diagnostics *d);
