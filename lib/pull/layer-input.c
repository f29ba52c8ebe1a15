/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include "layer-input.h"
#include "macro.h"

#define INPUT_SIZE (256U * 1024U)
#define OUTPUT_SIZE (256U * 1024U)

typedef struct LayerInput {
        int fd;
        uint8_t *in;
        size_t in_size; /* bytes of in that hold data (pass-through) */
        bool eof;
#if HAVE_ISAL
        bool gzip;
        uint8_t *out;
        struct inflate_state inflate;
#endif
} LayerInput;

/* Reads what fits into in (after the keep bytes at its start): 0 at the end of the stream. */
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

#if HAVE_ISAL
static bool gzip_magic(const uint8_t *p, size_t n) {
        return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* The next piece of inflated data; a stream of several gzip members is read as their concatenation, and what
 * follows the last member when it is not another one is ignored, as gzip(1) does with trailing zeros. */
static ssize_t inflate_next(struct archive *a, LayerInput *li, const void **ret) {
        struct inflate_state *s = &li->inflate;

        for (;;) {
                if (s->block_state == ISAL_BLOCK_FINISH) {
                        if (s->avail_in < 2 && !li->eof) {
                                memmove(li->in, s->next_in, s->avail_in);
                                ssize_t n = fill(li, s->avail_in);
                                if (n < 0) {
                                        archive_set_error(a, (int) -n, "Cannot read the layer");
                                        return ARCHIVE_FATAL;
                                }
                                s->avail_in += (uint32_t) n;
                                s->next_in = li->in;
                                continue;
                        }
                        if (!gzip_magic(s->next_in, s->avail_in))
                                return 0;
                        uint8_t *next = s->next_in;
                        uint32_t avail = s->avail_in;
                        isal_inflate_reset(s);
                        s->crc_flag = ISAL_GZIP;
                        s->next_in = next;
                        s->avail_in = avail;
                }
                if (s->avail_in == 0 && !li->eof) {
                        ssize_t n = fill(li, 0);
                        if (n < 0) {
                                archive_set_error(a, (int) -n, "Cannot read the layer");
                                return ARCHIVE_FATAL;
                        }
                        s->next_in = li->in;
                        s->avail_in = (uint32_t) n;
                }
                s->next_out = li->out;
                s->avail_out = OUTPUT_SIZE;
                int k = isal_inflate(s);
                if (k != ISAL_DECOMP_OK) {
                        archive_set_error(a, EBADMSG, "Broken gzip stream (ISA-L error %d)", k);
                        return ARCHIVE_FATAL;
                }
                size_t produced = OUTPUT_SIZE - s->avail_out;
                if (produced > 0) {
                        *ret = li->out;
                        return (ssize_t) produced;
                }
                if (s->block_state != ISAL_BLOCK_FINISH && s->avail_in == 0 && li->eof) {
                        archive_set_error(a, EBADMSG, "Truncated gzip stream");
                        return ARCHIVE_FATAL;
                }
        }
}
#endif

static la_ssize_t input_read(struct archive *a, void *userdata, const void **ret) {
        LayerInput *li = userdata;
        ssize_t n;

#if HAVE_ISAL
        if (li->gzip)
                return inflate_next(a, li, ret);
#endif
        if (li->in_size > 0) {
                /* the bytes looked at to decide, handed on first */
                *ret = li->in;
                n = (ssize_t) li->in_size;
                li->in_size = 0;
                return n;
        }
        n = fill(li, 0);
        if (n < 0) {
                archive_set_error(a, (int) -n, "Cannot read the layer");
                return ARCHIVE_FATAL;
        }
        *ret = li->in;
        return n;
}

static int input_close(struct archive *a, void *userdata) {
        LayerInput *li = userdata;

        free(li->in);
#if HAVE_ISAL
        free(li->out);
#endif
        free(li);
        return ARCHIVE_OK;
}

/* Looks at the stream's first bytes: gzip is inflated here when ISA-L is there, anything else handed on. */
static int input_start(LayerInput *li) {
        size_t have = 0;

        while (have < 2 && !li->eof) {
                ssize_t n = fill(li, have);
                if (n < 0)
                        return (int) n;
                have += (size_t) n;
        }
        li->in_size = have;
#if HAVE_ISAL
        if (gzip_magic(li->in, have)) {
                li->out = malloc(OUTPUT_SIZE);
                if (!li->out)
                        return -ENOMEM;
                isal_inflate_init(&li->inflate);
                li->inflate.crc_flag = ISAL_GZIP;
                li->inflate.next_in = li->in;
                li->inflate.avail_in = (uint32_t) have;
                li->gzip = true;
        }
#endif
        return 0;
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
