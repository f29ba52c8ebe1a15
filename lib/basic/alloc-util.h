/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

/* Grows an array to hold at least need elements, doubling its capacity, so that appending n elements one
 * at a time costs O(n) copies in all, not O(n²). *allocated counts elements and starts at 0 with *p NULL.
 * Returns 0, or -ENOMEM with *p unchanged. */
static inline int greedy_realloc(void **p, size_t *allocated, size_t need, size_t size) {
        size_t a;
        void *q;

        if (need <= *allocated)
                return 0;
        a = need < 8 ? 8 : need;
        if (a <= SIZE_MAX / 2)
                a *= 2;
        if (a > SIZE_MAX / size)
                return -ENOMEM;
        q = realloc(*p, a * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = a;
        return 0;
}

#define GREEDY_REALLOC(array, allocated, need)                                                   \
        greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]))

/* The same for an array whose capacity nobody counts (a string vector made anywhere): what malloc gave it
 * is its capacity. Sanitizers and valgrind report the size asked for, so nothing past it is ever used. */
static inline int greedy_realloc_unknown(void **p, size_t need, size_t size) {
        size_t allocated = *p ? malloc_usable_size(*p) / size : 0;
        return greedy_realloc(p, &allocated, need, size);
}

#define GREEDY_REALLOC_UNKNOWN(array, need)                                                      \
        greedy_realloc_unknown((void **) &(array), (need), sizeof((array)[0]))
