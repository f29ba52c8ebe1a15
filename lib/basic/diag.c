/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "alloc-util.h"
#include "diag.h"
#include "log.h"

void diagnostics_done(Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].file);
                free(d->items[i].message);
        }
        free(d->items);
        *d = (Diagnostics) {};
}

size_t diagnostics_count(const Diagnostics *d, int max_level) {
        size_t n = 0;
        for (size_t i = 0; i < d->n; i++)
                if (d->items[i].level <= max_level)
                        n++;
        return n;
}

int diag_add(Diagnostics *d, int level, int error, const char *file, unsigned line, const char *format, ...) {
        _cleanup_free_ char *msg = NULL, *f = NULL;
        va_list ap;
        int k;

        error = error > 0 ? -error : error;

        /* "%m" says what error is, not whatever the last failed call left in errno */
        errno = -error;
        va_start(ap, format);
        k = vasprintf(&msg, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;

        log_debug("%s:%u: %s", strempty(file), line, msg);
        if (!d)
                return error;

        if (file) {
                f = strdup(file);
                if (!f)
                        return -ENOMEM;
        }
        if (GREEDY_REALLOC(d->items, d->n_allocated, d->n + 1) < 0)
                return -ENOMEM;
        d->items[d->n++] = (Diagnostic) {
                .level = level,
                .file = TAKE_PTR(f),
                .line = line,
                .message = TAKE_PTR(msg),
        };
        return error;
}

void diagnostics_log(const Diagnostics *d) {
        for (size_t i = 0; i < d->n; i++) {
                const Diagnostic *x = d->items + i;
                if (x->file && x->line > 0)
                        log_syntax(x->file, x->line, x->level, 0, "%s", x->message);
                else if (x->file)
                        log_full(x->level, "%s: %s", x->file, x->message);
                else
                        log_full(x->level, "%s", x->message);
        }
}
