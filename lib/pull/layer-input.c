/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

#include "layer-input.h"
#include "macro.h"

#define INPUT_SIZE (256U * 1024U)
#define OUTPUT_SIZE (256U * 1024U)

/* One gzip member after another, each one's CRC and length checked: ISA-L's igzip, or zlib without it. */
typedef struct Inflater {
#if HAVE_ISAL
        struct inflate_state s;
#else
        z_stream s;
        bool initialized;
#endif
        bool member_end;
} Inflater;

static int inflater_start(Inflater *f, const uint8_t *in, size_t size) {
#if HAVE_ISAL
        isal_inflate_init(&f->s);
        f->s.crc_flag = ISAL_GZIP;
        f->s.next_in = (uint8_t *) in;
        f->s.avail_in = (uint32_t) size;
#else
        int k = f->initialized ? inflateReset(&f->s) : inflateInit2(&f->s, 15 + 16);
        if (k != Z_OK)
                return -ENOMEM;
        f->initialized = true;
        f->s.next_in = (Bytef *) in;
        f->s.avail_in = (uInt) size;
#endif
        f->member_end = false;
        return 0;
}

/* Inflates what it can into out: the bytes made, or < 0 for a broken stream. */
static ssize_t inflater_run(Inflater *f, uint8_t *out, size_t size) {
#if HAVE_ISAL
        f->s.next_out = out;
        f->s.avail_out = (uint32_t) size;
        if (isal_inflate(&f->s) != ISAL_DECOMP_OK)
                return -EBADMSG;
        f->member_end = f->s.block_state == ISAL_BLOCK_FINISH;
#else
        f->s.next_out = out;
        f->s.avail_out = (uInt) size;
        int k = inflate(&f->s, Z_NO_FLUSH);
        if (k != Z_OK && k != Z_STREAM_END && k != Z_BUF_ERROR)
                return -EBADMSG;
        f->member_end = k == Z_STREAM_END;
#endif
        return (ssize_t) (size - f->s.avail_out);
}

static void inflater_done(Inflater *f) {
#if !HAVE_ISAL
        if (f->initialized)
                inflateEnd(&f->s);
#endif
        free(f);
}

typedef struct LayerInput {
        int fd;
        uint8_t *in, *out;
        size_t in_size; /* bytes at the start of in not handed on yet (pass-through) */
        bool eof;
        Inflater *gzip; /* NULL: handed through */
} LayerInput;

/* Reads what fits into in after the keep bytes at its start: 0 at the end of the stream. */
static ssize_t fill(LayerInput *li, size_t keep) {
        for (;;) {
                ssize_t n = read(li->fd, li->in + keep, INPUT_SIZE - keep);
                if (n >= 0) {
                        if (n == 0)
                                li->eof = true;
                        return n;
                }
                if (errno != EINTR)
                        return -errno;
        }
}

static bool gzip_magic(const uint8_t *p, size_t n) {
        return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* After a member: the next one starts here, or the stream ends (what follows that is not a member is
 * ignored, as gzip(1) does with trailing zeros; the blob's digest covers it). 1: another member. */
static ssize_t next_member(LayerInput *li) {
        Inflater *f = li->gzip;
        size_t left = f->s.avail_in;

        memmove(li->in, f->s.next_in, left);
        while (left < 2 && !li->eof) {
                ssize_t n = fill(li, left);
                if (n < 0)
                        return n;
                left += (size_t) n;
        }
        if (!gzip_magic(li->in, left))
                return 0;
        return inflater_start(f, li->in, left) < 0 ? -ENOMEM : 1;
}

/* The next piece of the inflated stream: several gzip members read as their concatenation. */
static ssize_t inflate_next(LayerInput *li) {
        Inflater *f = li->gzip;

        for (;;) {
                ssize_t n;

                if (f->member_end) {
                        n = next_member(li);
                        if (n <= 0)
                                return n;
                }
                if (f->s.avail_in == 0 && !li->eof) {
                        n = fill(li, 0);
                        if (n < 0)
                                return n;
                        f->s.next_in = li->in;
                        f->s.avail_in = (uint32_t) n;
                }
                n = inflater_run(f, li->out, OUTPUT_SIZE);
                if (n != 0)
                        return n;
                if (!f->member_end && f->s.avail_in == 0 && li->eof)
                        return -EPIPE; /* cut short */
        }
}

static la_ssize_t input_read(struct archive *a, void *userdata, const void **ret) {
        LayerInput *li = userdata;
        ssize_t n;

        if (li->gzip) {
                n = inflate_next(li);
                *ret = li->out;
        } else if (li->in_size > 0) {
                /* the bytes looked at to decide, handed on first */
                n = (ssize_t) li->in_size;
                li->in_size = 0;
                *ret = li->in;
        } else {
                n = fill(li, 0);
                *ret = li->in;
        }
        if (n < 0) {
                archive_set_error(a, (int) -n, "%s", n == -EBADMSG ? "Broken gzip stream (data or CRC)" :
                                  n == -EPIPE ? "Truncated gzip stream" : "Cannot read the layer");
                return ARCHIVE_FATAL;
        }
        return n;
}

static int input_close(struct archive *a, void *userdata) {
        LayerInput *li = userdata;

        if (li->gzip)
                inflater_done(li->gzip);
        free(li->in);
        free(li->out);
        free(li);
        return ARCHIVE_OK;
}

/* Looks at the stream's first bytes: gzip is inflated here, anything else handed on. */
static int input_start(LayerInput *li) {
        size_t have = 0;

        while (have < 2 && !li->eof) {
                ssize_t n = fill(li, have);
                if (n < 0)
                        return (int) n;
                have += (size_t) n;
        }
        li->in_size = have;
        if (!gzip_magic(li->in, have))
                return 0;
        li->out = malloc(OUTPUT_SIZE);
        li->gzip = calloc(1, sizeof(Inflater));
        if (!li->out || !li->gzip)
                return -ENOMEM;
        li->in_size = 0;
        return inflater_start(li->gzip, li->in, have);
}

int layer_input_open(struct archive *a, int fd) {
        LayerInput *li = calloc(1, sizeof(LayerInput));
        int r;

        if (!li)
                return -ENOMEM;
        li->fd = fd;
        li->in = malloc(INPUT_SIZE);
        r = li->in ? input_start(li) : -ENOMEM;
        if (r < 0) {
                input_close(a, li);
                return r;
        }
        return archive_read_open(a, li, NULL, input_read, input_close) == ARCHIVE_OK ? 0 : -EBADMSG;
}
