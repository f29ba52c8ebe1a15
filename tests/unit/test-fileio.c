/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <pthread.h>
#include <signal.h>

#include "tests.h"

#include "fileio.h"

typedef struct Feed {
        int fd;
        size_t bytes;
} Feed;

/* Writes bytes into a pipe and closes it: a stream whose size no fstat() tells, like a device. */
static void *feed(void *p) {
        Feed *f = p;
        char chunk[4096];

        memset(chunk, 'x', sizeof chunk);
        for (size_t left = f->bytes; left > 0;) {
                ssize_t k = write(f->fd, chunk, left < sizeof chunk ? left : sizeof chunk);
                if (k <= 0)
                        break; /* the reader stopped at its cap */
                left -= (size_t) k;
        }
        close(f->fd);
        return NULL;
}

static int read_stream(size_t bytes, size_t max, char **ret, size_t *ret_size) {
        int p[2], r;
        pthread_t t;
        Feed f;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        f = (Feed) { .fd = p[1], .bytes = bytes };
        assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
        r = read_fd_bounded(p[0], max, ret, ret_size);
        close(p[0]);
        pthread_join(t, NULL);
        return r;
}

/* The cap holds for what the descriptor gives, not for what fstat() promised. */
static void test_read_fd_bounded(void **state) {
        static const struct {
                size_t bytes, max;
                int r;
        } table[] = {
                { 0, 0, 0 },           { 1, 0, -EFBIG },           { 100, 100, 0 },
                { 101, 100, -EFBIG },  { 200000, 200000, 0 },      { 200001, 200000, -EFBIG },
                { 1 << 20, 65536, -EFBIG }, { 300000, SIZE_MAX - 1, 0 },
        };

        /* the feeder writes on after the reader stopped at its cap */
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                _cleanup_free_ char *buf = NULL;
                size_t n = 12345;

                assert_int_equal(read_stream(table[i].bytes, table[i].max, &buf, &n), table[i].r);
                if (table[i].r < 0) {
                        assert_null(buf);
                        continue;
                }
                assert_int_equal(n, table[i].bytes);
                assert_int_equal(strlen(buf), table[i].bytes);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_fd_bounded),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
