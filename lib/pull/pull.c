/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fileio.h"
#include "pull-cache.h"
#include "pull-extract.h"
#include "pull-transfer.h"
#include "pull-verify.h"
#include "pull.h"

/* After a 304: the cached copy, checked again, then unpacked. */
static int pull_from_cache(const CachedImage *cached, const char *url, const char *expected, const char *target,
                           PullResult *res, Diagnostics *d) {
        _cleanup_(archive_read_freep) struct archive *in = extract_reader_new();
        _cleanup_close_ int fd = -EBADF;
        ExtractStats stats = {};
        char actual[65];
        int r;

        if (!in)
                return -ENOMEM;
        fd = cached_image_open_verified(cached, url, expected, actual, d);
        if (fd < 0)
                return fd;
        if (archive_read_open_fd(in, fd, 1024 * 1024) != ARCHIVE_OK)
                return diag_error(d, NULL, 0, EBADMSG, "Cannot read %s: %s", cached->file, archive_error_string(in));
        r = extract_archive(in, target, &stats, d);
        res->not_modified = true;
        res->entries = stats.entries;
        res->skipped_devices = stats.skipped_devices;
        memcpy(res->sha256, actual, sizeof res->sha256);
        return r;
}

static int open_error(Transfer *t, struct archive *in, const char *url, long code, Diagnostics *d) {
        if (t->status >= 400 || (t->done && t->result == CURLE_OK && t->received == 0 && code >= 400))
                return diag_error(d, NULL, 0, EIO, "Cannot download %s: HTTP %ld", url, code ?: t->status);
        if (t->done && t->result != CURLE_OK)
                return diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", url, curl_easy_strerror(t->result));
        return diag_error(d, NULL, 0, EBADMSG, "%s is not a tar archive (or in a compression not known): %s", url,
                          archive_error_string(in));
}

/* Unpacks while it downloads; then the whole file's digest against expected (NULL: none). */
static int pull_from_network(Transfer *t, const char *url, long code, const char *expected, const char *target,
                             PullResult *res, Diagnostics *d) {
        _cleanup_(archive_read_freep) struct archive *in = extract_reader_new();
        ExtractStats stats = {};
        int r;

        if (!in)
                return -ENOMEM;
        if (transfer_archive_open(t, in) < 0)
                return open_error(t, in, url, code, d);
        r = extract_archive(in, target, &stats, d);
        if (r < 0) {
                if (t->done && t->result != CURLE_OK)
                        r = diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", url, curl_easy_strerror(t->result));
                return r;
        }
        r = transfer_drain(t);
        if (r < 0)
                return r;
        r = transfer_check_complete(t, url, d);
        if (r < 0)
                return r;
        transfer_digest(t, res->sha256);
        res->downloaded = t->received;
        res->entries = stats.entries;
        res->skipped_devices = stats.skipped_devices;
        if (expected && !streq(res->sha256, expected))
                return diag_error(d, NULL, 0, EBADMSG, "%s does not match its checksum: got %s, expected %s.", url,
                                  res->sha256, expected);
        return 0;
}

int pull_image(const PullOptions *o, const char *target, PullResult *ret, Diagnostics *d) {
        const TransferOptions to = { .ca_bundle = o->ca_bundle, .progress = o->progress, .userdata = o->userdata };
        _cleanup_(cached_image_done) CachedImage cached = {}, fresh = {};
        _cleanup_(cache_keep_done) CacheKeep keep = {};
        _cleanup_(transfer_done) Transfer t = {};
        _cleanup_free_ char *cond = NULL;
        PullResult res = {};
        char expected[65];
        bool have_expected;
        long code = 0;
        int r;

        *ret = (PullResult) {};
        r = verify_expected_digest(&to, o->url, o->verify, o->sha256, expected, &have_expected, d);
        if (r < 0)
                return r;
        r = cached_image_load(o->cache_dir, o->url, &cached);
        if (r < 0)
                return r;
        r = mkdir_parents(cached.file, 0700);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot create %s: %s", o->cache_dir, strerror(-r));
        r = cached_image_condition(&cached, &cond);
        if (r < 0)
                return r;
        r = cache_keep_begin(&cached, &keep, d);
        if (r < 0)
                return r;

        r = transfer_start(&t, &to, o->url, cond, cached_image_on_header, &fresh, keep.f);
        if (r < 0)
                return r;
        /* wait for the status before unpacking anything: a 304 means the cached copy */
        r = transfer_wait_status(&t, &code);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot download %s: %s", o->url, strerror(-r));
        if (code == 304 && cond) {
                transfer_done(&t);
                r = pull_from_cache(&cached, o->url, have_expected ? expected : NULL, target, &res, d);
        } else {
                r = pull_from_network(&t, o->url, code, have_expected ? expected : NULL, target, &res, d);
                /* keep the download for the next machine, with what makes the next request conditional */
                if (r >= 0)
                        r = cache_keep_commit(&keep, &cached, o->url, &fresh, res.sha256, d);
        }
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}
