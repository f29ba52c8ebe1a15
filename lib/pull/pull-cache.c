/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>

#include "fileio.h"
#include "pull-cache.h"
#include "pull-verify.h"
#include "sha256.h"
#include "strv.h"

void cached_image_done(CachedImage *c) {
        free(c->file);
        free(c->meta);
        free(c->etag);
        free(c->last_modified);
        free(c->sha256);
        *c = (CachedImage) {};
}

static char *meta_get(const char *text, const char *key) {
        _cleanup_free_ char *k = strjoin("\n", key, "=");
        const char *p;
        if (!k || !text)
                return NULL;
        p = strstr(text, k);
        if (!p)
                return NULL;
        p += strlen(k);
        return strndup(p, strcspn(p, "\n"));
}

int cached_image_load(const char *cache_dir, const char *url, CachedImage *c) {
        _cleanup_free_ char *dir = strjoin(cache_dir, "/images"), *text = NULL;
        char key[65];

        if (sha256_hex(url, strlen(url), key) < 0)
                return -ENOMEM;
        key[16] = 0;
        c->file = strjoin(dir, "/", key, ".archive");
        c->meta = strjoin(dir, "/", key, ".meta");
        if (!dir || !c->file || !c->meta)
                return -ENOMEM;
        if (read_full_file(c->meta, &text, NULL) < 0 || access(c->file, R_OK) < 0)
                return 0;
        c->etag = meta_get(text, "etag");
        c->last_modified = meta_get(text, "last-modified");
        c->sha256 = meta_get(text, "sha256");
        /* a server without ETag (or Last-Modified) leaves an empty line: not a validator */
        if (isempty(c->etag))
                c->etag = mfree(c->etag);
        if (isempty(c->last_modified))
                c->last_modified = mfree(c->last_modified);
        return 0;
}

int cached_image_condition(const CachedImage *c, char **ret) {
        /* a conditional request when we have a copy: an unchanged image costs one round trip */
        if (c->etag)
                *ret = strjoin("If-None-Match: ", c->etag);
        else if (c->last_modified)
                *ret = strjoin("If-Modified-Since: ", c->last_modified);
        else {
                *ret = NULL;
                return 0;
        }
        return *ret ? 0 : -ENOMEM;
}

size_t cached_image_on_header(char *data, size_t size, size_t n, void *userdata) {
        CachedImage *fresh = userdata;
        size_t len = size * n;
        _cleanup_free_ char *line = strndup(data, len);
        char **field = NULL;
        const char *v;

        if (!line)
                return 0;
        line[strcspn(line, "\r\n")] = 0;
        if ((v = startswith(line, "ETag: ")) || (v = startswith(line, "etag: ")))
                field = &fresh->etag;
        else if ((v = startswith(line, "Last-Modified: ")) || (v = startswith(line, "last-modified: ")))
                field = &fresh->last_modified;
        if (field) {
                free(*field);
                *field = strdup(v);
        }
        return len;
}

int cached_image_open_verified(const CachedImage *c, const char *url, const char *expected, char ret_actual[65],
                               Diagnostics *d) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* one descriptor for hashing and unpacking, so that what is unpacked is what was checked */
        fd = open(c->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return diag_error(d, NULL, 0, errno, "Cannot read the cached copy %s: %m", c->file);
        r = verify_hash_fd(fd, ret_actual);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot read the cached copy %s: %m", c->file);
        if ((expected && !streq(ret_actual, expected)) || (!expected && c->sha256 && !streq(ret_actual, c->sha256))) {
                /* dropped, so that the next pull downloads it again */
                (void) unlink(c->meta);
                (void) unlink(c->file);
                return diag_error(d, NULL, 0, EBADMSG, "The cached copy of %s does not match its checksum "
                                  "(%s, expected %s); removed it from the cache.", url, ret_actual,
                                  expected ?: c->sha256);
        }
        return TAKE_FD(fd);
}

int cache_keep_begin(const CachedImage *c, CacheKeep *ret, Diagnostics *d) {
        int fd;

        ret->tmp = strjoin(c->file, ".XXXXXX");
        if (!ret->tmp)
                return -ENOMEM;
        fd = mkostemp(ret->tmp, O_CLOEXEC);
        if (fd < 0) {
                ret->tmp = mfree(ret->tmp);
                return diag_error(d, NULL, 0, errno, "Cannot create %s.XXXXXX: %m", c->file);
        }
        ret->f = fdopen(fd, "w");
        if (!ret->f) {
                close(fd);
                return -ENOMEM;
        }
        return 0;
}

void cache_keep_done(CacheKeep *k) {
        if (k->f)
                fclose(k->f);
        if (k->tmp)
                (void) unlink(k->tmp);
        free(k->tmp);
        *k = (CacheKeep) {};
}

int cache_keep_commit(CacheKeep *k, const CachedImage *c, const char *url, const CachedImage *fresh,
                      const char *sha256, Diagnostics *d) {
        _cleanup_free_ char *meta = NULL;

        if (fflush(k->f) != 0 || fsync(fileno(k->f)) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot write %s: %m", k->tmp);
        if (rename(k->tmp, c->file) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot keep the download in %s: %m", c->file);
        k->tmp = mfree(k->tmp);
        meta = strjoin("url=", url, "\netag=", strempty(fresh->etag), "\nlast-modified=",
                       strempty(fresh->last_modified), "\nsha256=", sha256, "\n");
        if (!meta)
                return -ENOMEM;
        return write_file_atomic(c->meta, meta, strlen(meta), 0644, WRITE_DURABLE);
}
