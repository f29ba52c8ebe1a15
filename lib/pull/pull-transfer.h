/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <archive.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "sha256.h"

typedef void (*TransferProgress)(void *userdata, uint64_t done, uint64_t total); /* total 0: unknown */

typedef struct TransferOptions {
        const char *ca_bundle; /* NULL: the system's */
        TransferProgress progress;
        void *userdata;
} TransferOptions;

/* One download through curl's multi interface, driven by whoever reads it (libarchive, or a loop): what
 * arrives is hashed, copied to keep if set, and buffered for the reader. */
typedef struct Transfer {
        CURLM *multi;
        CURL *easy;
        struct curl_slist *headers;
        bool done;
        CURLcode result;
        /* what arrived and the reader has not taken yet; "out" is what it is reading now */
        char *in, *out;
        size_t in_size, in_alloc, out_alloc;
        Sha256 hash;
        FILE *keep; /* not owned */
        uint64_t received, total;
        long status;
        bool status_checked;
        const TransferOptions *o;
        int error; /* our own, from the write callback */
} Transfer;

/* The request for url: https never redirected to http, TLS always verified, stalls time out. extra_header
 * (e.g. "If-None-Match: ...") may be NULL; on_header, if set, sees every response header line. */
int transfer_start(Transfer *t, const TransferOptions *o, const char *url, const char *extra_header,
                   curl_write_callback on_header, void *header_data, FILE *keep);
/* Frees the buffers and handles; t may be reused after it. */
void transfer_done(Transfer *t);

/* Runs the transfer until the response status is known (or it ended): 304 needs no reading. */
int transfer_wait_status(Transfer *t, long *ret_code);
/* Makes the archive in read the transfer as it arrives. */
int transfer_archive_open(Transfer *t, struct archive *in);
/* Reads what the reader left (archive padding), so that the digest covers the whole file. */
int transfer_drain(Transfer *t);
/* After the end: 0 if curl and the server said the whole file came, else -EIO (reported, naming url). */
int transfer_check_complete(Transfer *t, const char *url, Diagnostics *d);
/* The lower-case hex digest of everything received. */
void transfer_digest(Transfer *t, char ret[65]);

/* url into f while hashing it: for a blob that is checked before it is used. */
int transfer_fetch_file(const TransferOptions *o, const char *url, FILE *f, char ret_sha256[65],
                        uint64_t *ret_size, Diagnostics *d);
/* A small file (up to 1 MiB, e.g. SHA256SUMS) into memory. -ENOENT on 404 and 410. */
int transfer_fetch_small(const TransferOptions *o, const char *url, char **ret, Diagnostics *d);
