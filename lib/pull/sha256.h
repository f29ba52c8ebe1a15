/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4), streaming: cache keys and image verification hash with it. */
typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length; /* bytes */
        uint8_t block[64];
        size_t fill;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[32]);

/* Lower-case hex of the digest of data: ret needs 65 bytes. */
void sha256_hex(const void *data, size_t n, char ret[65]);
void sha256_to_hex(const uint8_t digest[32], char ret[65]);
