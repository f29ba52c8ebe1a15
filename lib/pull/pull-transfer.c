/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <strings.h>

#include "alloc-util.h"
#include "pull-transfer.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);

static int easy_setup(CURL *easy, const TransferOptions *o, const char *url) {
        if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
                return -EINVAL;
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https,file");
        /* what came over TLS is never redirected to plain HTTP, where anyone on the path could answer */
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR,
                         strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https");
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 30L);
        /* a stalled transfer fails rather than hanging the machine's start forever */
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 60L);
        /* TLS verification is always on; Verify=no is about the content, never about the transport */
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (o->ca_bundle)
                curl_easy_setopt(easy, CURLOPT_CAINFO, o->ca_bundle);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "machinespawn");
        curl_easy_setopt(easy, CURLOPT_FILETIME, 1L);
        return 0;
}

static size_t on_data(char *data, size_t size, size_t n, void *userdata) {
        Transfer *t = userdata;
        size_t len = size * n;

        if (!t->status_checked) {
                curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
                t->status_checked = true;
        }
        if (t->status != 200 && t->status != 0) /* 0: file:// */
                return len; /* an error page: drained, not unpacked */

        if (GREEDY_REALLOC(t->in, t->in_alloc, t->in_size + len) < 0) {
                t->error = -ENOMEM;
                return 0;
        }
        memcpy(t->in + t->in_size, data, len);
        t->in_size += len;
        sha256_update(&t->hash, data, len);
        if (t->keep && fwrite(data, 1, len, t->keep) != len) {
                t->error = -EIO;
                return 0;
        }
        t->received += len;
        if (t->o->progress)
                t->o->progress(t->o->userdata, t->received, t->total);
        return len;
}

int transfer_start(Transfer *t, const TransferOptions *o, const char *url, const char *extra_header,
                   curl_write_callback on_header, void *header_data, FILE *keep) {
        *t = (Transfer) { .o = o, .keep = keep };
        t->easy = curl_easy_init();
        t->multi = curl_multi_init();
        if (!t->easy || !t->multi || easy_setup(t->easy, o, url) < 0)
                return -ENOMEM;
        if (extra_header) {
                t->headers = curl_slist_append(NULL, extra_header);
                if (!t->headers)
                        return -ENOMEM;
                curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
        }
        if (on_header) {
                curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
                curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, header_data);
        }
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        if (sha256_init(&t->hash) < 0)
                return -ENOMEM;
        if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
                return -ENOMEM;
        return 0;
}

void transfer_done(Transfer *t) {
        if (t->multi && t->easy)
                curl_multi_remove_handle(t->multi, t->easy);
        if (t->easy)
                curl_easy_cleanup(t->easy);
        if (t->multi)
                curl_multi_cleanup(t->multi);
        curl_slist_free_all(t->headers);
        sha256_done(&t->hash);
        free(t->in);
        free(t->out);
        *t = (Transfer) {};
}

static int transfer_step(Transfer *t) {
        int running = 0;
        CURLMsg *m;
        int left;

        if (curl_multi_perform(t->multi, &running) != CURLM_OK)
                return -EIO;
        while ((m = curl_multi_info_read(t->multi, &left)))
                if (m->msg == CURLMSG_DONE) {
                        t->done = true;
                        t->result = m->data.result;
                }
        if (!t->done && running == 0)
                t->done = true;
        if (!t->done && t->in_size == 0)
                (void) curl_multi_poll(t->multi, NULL, 0, 1000, NULL);
        if (t->total == 0) {
                curl_off_t cl = -1;
                if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
                        t->total = (uint64_t) cl;
        }
        return t->error;
}

int transfer_wait_status(Transfer *t, long *ret_code) {
        long code = 0;
        int r;

        while (!t->done && !t->status_checked && t->in_size == 0) {
                r = transfer_step(t);
                if (r < 0)
                        return r;
                curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
                if (code == 304)
                        break;
        }
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, ret_code);
        return 0;
}

static la_ssize_t archive_read_from_transfer(struct archive *a, void *userdata, const void **buf) {
        Transfer *t = userdata;

        while (t->in_size == 0 && !t->done)
                if (transfer_step(t) < 0) {
                        archive_set_error(a, EIO, "transfer failed");
                        return -1;
                }
        if (t->in_size == 0) {
                if (t->result != CURLE_OK) {
                        archive_set_error(a, EIO, "%s", curl_easy_strerror(t->result));
                        return -1;
                }
                return 0; /* end of data */
        }
        /* hand the filled buffer over and keep the other one for what comes next */
        char *tmp = t->out;
        size_t tmp_alloc = t->out_alloc, n = t->in_size;
        t->out = t->in;
        t->out_alloc = t->in_alloc;
        t->in = tmp;
        t->in_alloc = tmp_alloc;
        t->in_size = 0;
        *buf = t->out;
        return (la_ssize_t) n;
}

int transfer_archive_open(Transfer *t, struct archive *in) {
        return archive_read_open(in, t, NULL, archive_read_from_transfer, NULL) == ARCHIVE_OK ? 0 : -EBADMSG;
}

int transfer_drain(Transfer *t) {
        while (!t->done) {
                t->in_size = 0;
                int r = transfer_step(t);
                if (r < 0)
                        return r;
        }
        t->in_size = 0;
        return 0;
}

int transfer_check_complete(Transfer *t, const char *url, Diagnostics *d) {
        long code = 0;

        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
        if (t->result != CURLE_OK)
                return diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", url, curl_easy_strerror(t->result));
        if (code != 200 && code != 0)
                return diag_error(d, NULL, 0, EIO, "Cannot download %s: HTTP %ld", url, code);
        return 0;
}

void transfer_digest(Transfer *t, char ret[65]) {
        uint8_t digest[32];

        sha256_final(&t->hash, digest);
        sha256_to_hex(digest, ret);
}

int transfer_fetch_file(const TransferOptions *o, const char *url, FILE *f, char ret_sha256[65],
                        uint64_t *ret_size, Diagnostics *d) {
        _cleanup_(transfer_done) Transfer t = {};
        int r;

        r = transfer_start(&t, o, url, NULL, NULL, NULL, f);
        if (r < 0)
                return r;
        r = transfer_drain(&t);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot download %s: %s", url, strerror(-r));
        r = transfer_check_complete(&t, url, d);
        if (r < 0)
                return r;
        if (fflush(f) != 0)
                return diag_error(d, NULL, 0, errno, "Cannot write the download of %s: %m", url);
        transfer_digest(&t, ret_sha256);
        if (ret_size)
                *ret_size = t.received;
        return 0;
}

static size_t on_small(char *data, size_t size, size_t n, void *userdata) {
        char **buf = userdata;
        size_t len = size * n, have = *buf ? strlen(*buf) : 0;

        if (have + len > 1024 * 1024)
                return 0; /* a SHA256SUMS file is small */
        if (GREEDY_REALLOC_UNKNOWN(*buf, have + len + 1) < 0)
                return 0;
        memcpy(*buf + have, data, len);
        (*buf)[have + len] = 0;
        return len;
}

int transfer_fetch_small(const TransferOptions *o, const char *url, char **ret, Diagnostics *d) {
        _cleanup_(curl_easy_cleanupp) CURL *easy = curl_easy_init();
        _cleanup_free_ char *buf = NULL;
        long status = 0;
        CURLcode c;

        if (!easy || easy_setup(easy, o, url) < 0)
                return -ENOMEM;
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_small);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &buf);
        c = curl_easy_perform(easy);
        if (c == CURLE_FILE_COULDNT_READ_FILE)
                return -ENOENT;
        if (c != CURLE_OK)
                return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: %s", url, curl_easy_strerror(c));
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status == 404 || status == 410)
                return -ENOENT;
        if (status != 200 && status != 0)
                return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: HTTP %ld", url, status);
        *ret = buf ? TAKE_PTR(buf) : strdup("");
        return *ret ? 0 : -ENOMEM;
}
