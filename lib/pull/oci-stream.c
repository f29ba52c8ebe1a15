/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "layer-input.h"
#include "oci-stream.h"
#include "strv.h"

typedef struct Applier {
        int fd;
        const char *target;
        struct archive *copy;
        OciLayerStats *stats;
        Diagnostics d;
        int r;
} Applier;

static void *applier_run(void *userdata) {
        Applier *a = userdata;
        char buf[64 * 1024];

        a->r = oci_layer_apply_copy(a->fd, a->target, a->copy, a->stats, &a->d);
        /* what follows the tar's end (padding, the gzip trailer) is read too: the sender hashes it all */
        while (a->r >= 0) {
                ssize_t n = read(a->fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
        }
        /* the sender sees -EPIPE from now on, if it is still sending */
        (void) shutdown(a->fd, SHUT_RDWR);
        return NULL;
}

static void diagnostics_take(Diagnostics *to, Diagnostics *from) {
        for (size_t i = 0; i < from->n; i++)
                (void) diag_add(to, from->items[i].level, 0, from->items[i].file, from->items[i].line, "%s",
                                from->items[i].message);
        diagnostics_done(from);
}

int oci_stream_layer(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, const char *target,
                     struct archive *copy, OciLayerStats *stats, Diagnostics *d) {
        Applier a = { .target = target, .copy = copy, .stats = stats };
        pthread_t thread;
        int pair[2], k;

        layer_input_prepare();
        /* the other thread's chdir must not change what a relative path names here: then one after the other */
        if (blob_dir[0] != '/' || (r->ca_bundle && r->ca_bundle[0] != '/')) {
                _cleanup_close_ int fd = oci_registry_get_blob(r, desc, blob_dir, d);
                return fd < 0 ? fd : oci_layer_apply_copy(fd, target, copy, stats, d);
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        a.fd = pair[0];
        k = pthread_create(&thread, NULL, applier_run, &a);
        if (k != 0) {
                close(pair[0]);
                close(pair[1]);
                return -k;
        }
        k = oci_registry_stream_blob(r, desc, blob_dir, pair[1], d);
        /* the end of the stream for the reader, whatever happened */
        (void) shutdown(pair[1], SHUT_RDWR);
        (void) pthread_join(thread, NULL);
        close(pair[0]);
        close(pair[1]);
        if (k == -EPIPE && a.r < 0)
                k = 0; /* the reader gave up first: its reason is the one to tell */
        else if (k == -EPIPE)
                k = diag_error(d, NULL, 0, EPIPE, "Layer %s stopped being read before its end.", desc->digest);
        if (k < 0) {
                /* the reader's complaints about a stream cut short say nothing more */
                diagnostics_done(&a.d);
                return k;
        }
        diagnostics_take(d, &a.d);
        return a.r;
}
