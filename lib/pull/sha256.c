/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n) {
        return (x >> n) | (x << (32 - n));
}

static void compress(Sha256 *s, const uint8_t *p) {
        uint32_t w[64], a, b, c, d, e, f, g, h;

        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16 | (uint32_t) p[4 * i + 2] << 8 |
                       p[4 * i + 3];
        for (unsigned i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }

        a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
        e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (unsigned i = 0; i < 64; i++) {
                uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g, g = f, f = e, e = d + t1;
                d = c, c = b, b = a, a = t1 + t2;
        }
        s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
        s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/* The SHA extensions do a block in a few dozen instructions: pulling a 200 MiB image must not wait on
 * the hash. The message schedule is computed four words at a time in a ring of four vectors. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_shani(uint32_t h[8], const uint8_t *p,
                                                                         size_t blocks) {
        const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
        __m128i state0, state1, tmp;

        tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &h[0]), 0xB1);    /* CDAB */
        state1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *) &h[4]), 0x1B); /* EFGH */
        state0 = _mm_alignr_epi8(tmp, state1, 8);                                  /* ABEF */
        state1 = _mm_blend_epi16(state1, tmp, 0xF0);                               /* CDGH */

        for (; blocks > 0; blocks--, p += 64) {
                __m128i w[4], abef = state0, cdgh = state1, msg;

                for (unsigned g = 0; g < 16; g++) {
                        if (g < 4)
                                w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (p + 16 * g)), mask);
                        else {
                                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
                                __m128i x = _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]);
                                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4));
                                w[g % 4] = _mm_sha256msg2_epu32(x, w[(g + 3) % 4]);
                        }
                        msg = _mm_add_epi32(w[g % 4], _mm_loadu_si128((const __m128i *) &K[4 * g]));
                        state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
                        msg = _mm_shuffle_epi32(msg, 0x0E);
                        state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
                }
                state0 = _mm_add_epi32(state0, abef);
                state1 = _mm_add_epi32(state1, cdgh);
        }

        tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
        state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
        state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
        state1 = _mm_alignr_epi8(state1, tmp, 8);    /* ABEF -> HGFE */
        _mm_storeu_si128((__m128i *) &h[0], state0);
        _mm_storeu_si128((__m128i *) &h[4], state1);
}

static bool have_shani(void) {
        static int cached = -1;
        unsigned a, b, c, d;

        if (cached < 0) {
                cached = 0;
                if (getenv("MACHINESPAWN_SHA256_PORTABLE"))
                        return false;
                if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) && __get_cpuid(1, &a, &b, &c, &d) &&
                    (c & (1u << 19)) && (c & (1u << 9)))
                        cached = 1; /* SHA, SSE4.1, SSSE3 */
        }
        return cached;
}
#else
static bool have_shani(void) {
        return false;
}
static void compress_shani(uint32_t h[8], const uint8_t *p, size_t blocks) {
}
#endif

static void compress_blocks(Sha256 *s, const uint8_t *p, size_t blocks) {
        if (have_shani()) {
                compress_shani(s->h, p, blocks);
                return;
        }
        for (; blocks > 0; blocks--, p += 64)
                compress(s, p);
}

void sha256_init(Sha256 *s) {
        static const uint32_t iv[8] = {
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
        };
        memcpy(s->h, iv, sizeof iv);
        s->length = 0;
        s->fill = 0;
}

void sha256_update(Sha256 *s, const void *data, size_t n) {
        const uint8_t *p = data;

        s->length += n;
        if (s->fill > 0) {
                size_t k = 64 - s->fill < n ? 64 - s->fill : n;
                memcpy(s->block + s->fill, p, k);
                s->fill += k;
                p += k;
                n -= k;
                if (s->fill < 64)
                        return;
                compress_blocks(s, s->block, 1);
                s->fill = 0;
        }
        compress_blocks(s, p, n / 64);
        p += n / 64 * 64;
        n %= 64;
        memcpy(s->block, p, n);
        s->fill = n;
}

void sha256_final(Sha256 *s, uint8_t ret[32]) {
        uint64_t bits = s->length * 8;

        s->block[s->fill++] = 0x80;
        if (s->fill > 56) {
                memset(s->block + s->fill, 0, 64 - s->fill);
                compress_blocks(s, s->block, 1);
                s->fill = 0;
        }
        memset(s->block + s->fill, 0, 56 - s->fill);
        for (unsigned i = 0; i < 8; i++)
                s->block[56 + i] = (uint8_t) (bits >> (56 - 8 * i));
        compress_blocks(s, s->block, 1);
        for (unsigned i = 0; i < 8; i++) {
                ret[4 * i] = (uint8_t) (s->h[i] >> 24);
                ret[4 * i + 1] = (uint8_t) (s->h[i] >> 16);
                ret[4 * i + 2] = (uint8_t) (s->h[i] >> 8);
                ret[4 * i + 3] = (uint8_t) s->h[i];
        }
}

void sha256_to_hex(const uint8_t digest[32], char ret[65]) {
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", digest[i]);
}

void sha256_hex(const void *data, size_t n, char ret[65]) {
        Sha256 s;
        uint8_t d[32];

        sha256_init(&s);
        sha256_update(&s, data, n);
        sha256_final(&s, d);
        sha256_to_hex(d, ret);
}
