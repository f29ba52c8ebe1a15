/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#if HAVE_ISAL
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#endif

#include "layer-input.h"
#include "macro.h"

#define INPUT_SIZE (256U * 1024U)
#define OUTPUT_SIZE (256U * 1024U)

#if HAVE_ISAL
/* ISA-L is loaded when it is installed (libisal2), like systemd loads its optional compression libraries:
 * a machine without it inflates with zlib. */
static struct {
        void (*inflate_init)(struct inflate_state *s);
        int (*inflate)(struct inflate_state *s);
} isal;

static void isal_load(void) {
        void *h = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);

        if (!h)
                return;
        isal.inflate_init = (void (*)(struct inflate_state *)) dlsym(h, "isal_inflate_init");
        isal.inflate = (int (*)(struct inflate_state *)) dlsym(h, "isal_inflate");
        if (!isal.inflate_init || !isal.inflate) {
                isal.inflate = NULL;
                dlclose(h);
        }
}

static bool isal_usable(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        (void) pthread_once(&once, isal_load);
        return isal.inflate;
}
#endif

void layer_input_prepare(void) {
#if HAVE_ISAL
        (void) isal_usable();
#endif
}

/* One gzip member after another, each one's CRC and length checked: ISA-L's igzip, or zlib without it.
 * in/avail_in mirror the input of the one in use. */
typedef struct Inflater {
#if HAVE_ISAL
        bool isal;
        struct inflate_state st;
#endif
        z_stream z;
        bool z_initialized, member_end;
        uint8_t *next_in;
        size_t avail_in;
} Inflater;

static int inflater_start(Inflater *f, uint8_t *in, size_t size) {
        f->member_end = false;
        f->next_in = in;
        f->avail_in = size;
#if HAVE_ISAL
        if (f->isal) {
                isal.inflate_init(&f->st);
                f->st.crc_flag = ISAL_GZIP;
                return 0;
        }
#endif
        if ((f->z_initialized ? inflateReset(&f->z) : inflateInit2(&f->z, 15 + 16)) != Z_OK)
                return -ENOMEM;
        f->z_initialized = true;
        return 0;
}

/* Inflates what it can into out: the bytes made, or < 0 for a broken stream. */
static ssize_t inflater_run(Inflater *f, uint8_t *out, size_t size) {
        size_t left;
#if HAVE_ISAL
        if (f->isal) {
                f->st.next_in = f->next_in;
                f->st.avail_in = (uint32_t) f->avail_in;
                f->st.next_out = out;
                f->st.avail_out = (uint32_t) size;
                if (isal.inflate(&f->st) != ISAL_DECOMP_OK)
                        return -EBADMSG;
                f->member_end = f->st.block_state == ISAL_BLOCK_FINISH;
                f->next_in = f->st.next_in;
                f->avail_in = f->st.avail_in;
                return (ssize_t) (size - f->st.avail_out);
        }
#endif
        f->z.next_in = f->next_in;
        f->z.avail_in = (uInt) f->avail_in;
        f->z.next_out = out;
        f->z.avail_out = (uInt) size;
        int k = inflate(&f->z, Z_NO_FLUSH);
        if (k != Z_OK && k != Z_STREAM_END && k != Z_BUF_ERROR)
                return -EBADMSG;
        f->member_end = k == Z_STREAM_END;
        f->next_in = f->z.next_in;
        f->avail_in = f->z.avail_in;
        left = f->z.avail_out;
        return (ssize_t) (size - left);
}

static void inflater_done(Inflater *f) {
        if (f->z_initialized)
                inflateEnd(&f->z);
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
        size_t left = f->avail_in;

        memmove(li->in, f->next_in, left);
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
                if (f->avail_in == 0 && !li->eof) {
                        n = fill(li, 0);
                        if (n < 0)
                                return n;
                        f->next_in = li->in;
                        f->avail_in = (size_t) n;
                }
                n = inflater_run(f, li->out, OUTPUT_SIZE);
                if (n != 0)
                        return n;
                if (!f->member_end && f->avail_in == 0 && li->eof)
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
#if HAVE_ISAL
        li->gzip->isal = isal_usable();
#endif
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
