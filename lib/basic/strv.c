/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "alloc-util.h"
#include "strv.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char * const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char * const *l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

int strv_push_greedy(char ***l, size_t *n, size_t *allocated, char *value) {
        if (GREEDY_REALLOC(*l, *allocated, *n + 2) < 0) {
                free(value);
                return -ENOMEM;
        }
        (*l)[*n] = value;
        (*l)[++*n] = NULL;
        return 0;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);

        if (GREEDY_REALLOC_UNKNOWN(*l, n + 2) < 0) {
                free(value);
                return -ENOMEM;
        }
        (*l)[n] = value;
        (*l)[n + 1] = NULL;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

int strv_extend_strv(char ***a, char * const *b) {
        size_t n = strv_length(*a), k = strv_length(b);
        char **c;

        if (k == 0)
                return 0;
        /* one allocation for all of b, not one per element */
        if (GREEDY_REALLOC_UNKNOWN(*a, n + k + 1) < 0)
                return -ENOMEM;
        c = *a;
        for (size_t i = 0; i < k; i++) {
                c[n + i] = strdup(b[i]);
                if (!c[n + i]) {
                        c[n + i] = NULL;
                        return -ENOMEM;
                }
        }
        c[n + k] = NULL;
        return 0;
}

int strv_split(char ***ret, const char *s, const char *separators) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, allocated = 0;

        /* Always hand out a real (possibly empty) array so callers can tell "nothing" from failure. */
        if (GREEDY_REALLOC(l, allocated, 1) < 0)
                return -ENOMEM;
        l[0] = NULL;

        for (const char *p = s; p && *p;) {
                size_t skip = strspn(p, separators), len;
                p += skip;
                len = strcspn(p, separators);
                if (len == 0)
                        break;
                char *w = strndup(p, len);
                if (!w)
                        return -ENOMEM;
                int r = strv_push_greedy(&l, &n, &allocated, w);
                if (r < 0)
                        return r;
                p += len;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

int strv_split_words(char ***ret, const char *s) {
        return strv_split(ret, s, " \t\n");
}

char *strv_join(char * const *l, const char *separator) {
        size_t n = 1, k = strlen(separator);
        char *r, *p;

        for (size_t i = 0; l && l[i]; i++)
                n += strlen(l[i]) + (i > 0 ? k : 0);
        r = p = malloc(n);
        if (!r)
                return NULL;
        *p = 0;
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, separator);
                p = stpcpy(p, l[i]);
        }
        return r;
}

static int str_compare(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

void strv_sort(char **l) {
        size_t n = strv_length(l);
        if (n > 1)
                qsort(l, n, sizeof(char *), str_compare);
}

void strv_uniq_sorted(char **l) {
        size_t j = 0;

        for (size_t i = 0; l && l[i]; i++) {
                if (j > 0 && streq(l[j - 1], l[i])) {
                        free(l[i]);
                        continue;
                }
                l[j++] = l[i];
        }
        if (l)
                l[j] = NULL;
}

char **strv_copy(char * const *l) {
        _cleanup_strv_free_ char **c = calloc(1, sizeof(char *));
        if (!c)
                return NULL;
        if (strv_extend_strv(&c, l) < 0)
                return NULL;
        return TAKE_PTR(c);
}

char *strjoin_real(const char *first, ...) {
        va_list ap;
        size_t n = 0;
        char *r, *p;

        va_start(ap, first);
        for (const char *x = first; x; x = va_arg(ap, const char *))
                n += strlen(x);
        va_end(ap);

        r = p = malloc(n + 1);
        if (!r)
                return NULL;
        va_start(ap, first);
        for (const char *x = first; x; x = va_arg(ap, const char *))
                p = stpcpy(p, x);
        va_end(ap);
        *p = 0;
        return r;
}

static int index_compare(const void *a, const void *b, void *userdata) {
        char **base = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        int c = strcmp(base[x], base[y]);
        return c != 0 ? c : (x > y) - (x < y);
}

int strv_uniq_stable(char **l) {
        _cleanup_free_ size_t *idx = NULL;
        _cleanup_free_ bool *drop = NULL;
        size_t n = strv_length(l), j = 0;

        if (n < 2)
                return 0;
        idx = malloc(sizeof(size_t) * n);
        drop = calloc(n, sizeof(bool));
        if (!idx || !drop)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                idx[i] = i;
        /* sorted by text, then position: of equal strings the first in the list comes first */
        qsort_r(idx, n, sizeof(size_t), index_compare, l);
        for (size_t i = 1; i < n; i++)
                if (streq(l[idx[i - 1]], l[idx[i]]))
                        drop[idx[i]] = true;
        for (size_t i = 0; i < n; i++) {
                if (drop[i]) {
                        free(l[i]);
                        continue;
                }
                l[j++] = l[i];
        }
        l[j] = NULL;
        return 0;
}
