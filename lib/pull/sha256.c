/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "sha256.h"

int sha256_init(Sha256 *s) {
        s->ctx = EVP_MD_CTX_new();
        if (!s->ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
                sha256_done(s);
                return -ENOMEM;
        }
        return 0;
}

void sha256_update(Sha256 *s, const void *data, size_t n) {
        /* cannot fail for SHA-256 once initialised */
        (void) EVP_DigestUpdate(s->ctx, data, n);
}

void sha256_final(Sha256 *s, uint8_t ret[32]) {
        unsigned len = 0;

        if (EVP_DigestFinal_ex(s->ctx, ret, &len) != 1 || len != 32)
                memset(ret, 0, 32);
        sha256_done(s);
}

void sha256_done(Sha256 *s) {
        EVP_MD_CTX_free(s->ctx);
        s->ctx = NULL;
}

void sha256_to_hex(const uint8_t digest[32], char ret[65]) {
        static const char hex[] = "0123456789abcdef";

        for (unsigned i = 0; i < 32; i++) {
                ret[2 * i] = hex[digest[i] >> 4];
                ret[2 * i + 1] = hex[digest[i] & 15];
        }
        ret[64] = 0;
}

int sha256_hex(const void *data, size_t n, char ret[65]) {
        uint8_t digest[32];
        unsigned len = 0;

        if (EVP_Digest(data, n, digest, &len, EVP_sha256(), NULL) != 1 || len != 32)
                return -ENOMEM;
        sha256_to_hex(digest, ret);
        return 0;
}
