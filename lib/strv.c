/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

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

int strv_push_n(char ***l, size_t *n, char *value) {
        char **c = realloc(*l, sizeof(char *) * (*n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[*n] = value;
        c[++*n] = NULL;
        *l = c;
        return 0;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        return strv_push_n(l, &n, value);
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

int strv_extend_strv(char ***a, char * const *b) {
        for (size_t i = 0; b && b[i]; i++) {
                int r = strv_extend(a, b[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int strv_split(char ***ret, const char *s, const char *separators) {
        _cleanup_strv_free_ char **l = NULL;

        /* Always hand out a real (possibly empty) array so callers can tell "nothing" from failure. */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (const char *p = s; p && *p;) {
                size_t skip = strspn(p, separators), len;
                p += skip;
                len = strcspn(p, separators);
                if (len == 0)
                        break;
                char *w = strndup(p, len);
                if (!w)
                        return -ENOMEM;
                int r = strv_push(&l, w);
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
