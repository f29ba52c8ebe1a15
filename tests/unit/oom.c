/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every allocation failed in turn: this file replaces malloc and friends (as glibc allows) in the program
 * it is linked into, and checks an operation against each failure (oom.h). */
#include <errno.h>
#include <stdio.h>

#include "oom.h"
#include "strv.h"
#include "tests.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

/* -1: no failures; else the number of allocations to let through before failing one */
static long countdown = -1;
static bool injected;

static bool fail_now(void) {
        if (countdown < 0)
                return false;
        if (countdown-- > 0)
                return false;
        injected = true;
        return true;
}

void *malloc(size_t size) {
        if (fail_now()) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
        if (fail_now()) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
        if (fail_now()) {
                errno = ENOMEM;
                return NULL;
        }
        return __libc_realloc(p, size);
}

void free(void *p) {
        __libc_free(p);
}

/* The operation under test arms the failure around its work and renders its result afterwards. */
static long arm_at = -1;
void oom_begin(void) {
        countdown = arm_at;
}
void oom_end(void) {
        countdown = -1;
}

void oom_check_operation(const char *name, OomOperation op) {
        _cleanup_free_ char *want = NULL;
        long n;

        arm_at = -1;
        assert_int_equal(op(&want), 0);
        assert_non_null(want);
        for (n = 0;; n++) {
                _cleanup_free_ char *got = NULL;
                int r;

                arm_at = n;
                injected = false;
                r = op(&got);
                countdown = -1;
                if (!injected) {
                        assert_int_equal(r, 0);
                        assert_string_equal(got, want);
                        break;
                }
                /* an error, even one that is not -ENOMEM (a parser may report the value it could not
                 * store), is a failure reported */
                if (r < 0)
                        continue;
                if (!streq_ptr(got, want))
                        fail_msg("%s: allocation %ld failed, reported success, but the result differs:\n%s\n---\n%s",
                                 name, n, got ?: "(none)", want);
        }
        printf("%s: %ld allocations failed in turn\n", name, n);
}
