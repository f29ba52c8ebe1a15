/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 from libcrypto (EVP), streaming: image verification and cache keys hash with it. */
typedef struct Sha256 {
        struct evp_md_ctx_st *ctx;
} Sha256;

/* -ENOMEM if libcrypto cannot set up a context. */
int sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
/* The digest; frees the context (sha256_done() after it is a no-op). */
void sha256_final(Sha256 *s, uint8_t ret[32]);
void sha256_done(Sha256 *s);

/* Lower-case hex of the digest of data, in one go: ret needs 65 bytes. -ENOMEM on libcrypto failure. */
int sha256_hex(const void *data, size_t n, char ret[65]);
void sha256_to_hex(const uint8_t digest[32], char ret[65]);
