/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "fileio.h"
#include "strv.h"
#include "log.h"
#include "unit-file.h"

#define LINE_MAX_BYTES (1024U * 1024U)

void unit_file_done(UnitFile *u) {
        for (size_t i = 0; i < u->n; i++) {
                free(u->items[i].key);
                free(u->items[i].value);
        }
        free(u->items);
        strv_free(u->files);
        strv_free(u->sections);
        *u = (UnitFile) {};
}

/* Returns the interned copy of s, adding it when new. */
static const char *intern(char ***l, size_t *n, const char *s) {
        for (size_t i = *n; i > 0; i--)
                if (streq((*l)[i - 1], s))
                        return (*l)[i - 1];
        char *c = strdup(s);
        if (!c || strv_push_n(l, n, c) < 0)
                return NULL;
        return c;
}

static char *strip(char *s) {
        size_t l;
        while (*s && isspace((unsigned char) *s))
                s++;
        l = strlen(s);
        while (l > 0 && isspace((unsigned char) s[l - 1]))
                s[--l] = 0;
        return s;
}

/* A line continues when it ends in a backslash that is not itself escaped. */
static bool line_continues(const char *s) {
        size_t l = strlen(s), n = 0;
        while (l > 0 && s[l - 1] == '\\') {
                n++;
                l--;
        }
        return n % 2 == 1;
}

static bool section_name_valid(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!isprint((unsigned char) *s) || strchr("[]", *s))
                        return false;
        return true;
}

static int unit_file_append(UnitFile *u, const char *section, const char *key, const char *value,
                            const char *path, unsigned line) {
        UnitAssignment *n, a = {};

        a.section = section;
        a.key = strdup(key);
        a.value = strdup(value);
        a.file = path;
        a.line = line;
        if (!a.key || !a.value)
                goto fail;

        n = realloc(u->items, sizeof(UnitAssignment) * (u->n + 1));
        if (!n)
                goto fail;
        u->items = n;
        u->items[u->n++] = a;
        return 0;
fail:
        free(a.key);
        free(a.value);
        return -ENOMEM;
}

static int parse_one(UnitFile *u, const char *path, unsigned line, char *l, const char **section,
                     Diagnostics *d) {
        char *eq, *key, *value;

        l = strip(l);
        if (*l == 0 || strchr("#;", *l))
                return 0;

        if (*l == '[') {
                size_t n = strlen(l);
                const char *name;

                if (l[n - 1] != ']')
                        return diag_error(d, path, line, EBADMSG, "Invalid section header '%s'.", l);
                l[n - 1] = 0;
                if (!section_name_valid(l + 1))
                        return diag_error(d, path, line, EBADMSG, "Invalid section name '%s'.", l + 1);
                name = intern(&u->sections, &u->n_sections, l + 1);
                if (!name)
                        return -ENOMEM;
                *section = name;
                return 0;
        }

        eq = strchr(l, '=');
        if (!eq)
                return diag_error(d, path, line, EBADMSG, "Missing '=' in '%s'.", l);
        *eq = 0;
        key = strip(l);
        value = strip(eq + 1);
        if (*key == 0)
                return diag_error(d, path, line, EBADMSG, "Missing key name before '='.");
        if (!*section)
                return diag_error(d, path, line, EBADMSG, "Assignment '%s=' outside of any section.", key);

        return unit_file_append(u, *section, key, value, path, line);
}

int unit_file_parse_buffer(UnitFile *u, const char *path_in, char *buf, size_t size, Diagnostics *d) {
        _cleanup_free_ char *cont = NULL;
        const char *section = NULL, *path;
        size_t cont_len = 0;
        unsigned line = 0, cont_line = 0;
        char *next = buf, *end = buf + size;
        int r, ret = 0;

        path = intern(&u->files, &u->n_files, path_in);
        if (!path)
                return -ENOMEM;

        /* Lines are cut in place: buf is the caller's scratch copy of the file. */
        while (next < end) {
                char *l = next, *nl = memchr(next, '\n', end - next);
                size_t k;

                if (nl) {
                        *nl = 0;
                        next = nl + 1;
                } else
                        next = end; /* the last line without a newline ends at the NUL after buf[size] */
                line++;
                k = strlen(l);
                while (k > 0 && l[k - 1] == '\r')
                        l[--k] = 0;
                if (k > LINE_MAX_BYTES || cont_len + k > LINE_MAX_BYTES) {
                        ret = diag_error(d, path, line, ENOBUFS, "Line too long.");
                        cont = mfree(cont);
                        cont_len = 0;
                        continue;
                }

                /* Comment lines never continue, and inside a continued assignment they are skipped, as
                 * systemd does. */
                const char *t = l + strspn(l, " \t");
                if (*t && strchr("#;", *t))
                        continue;

                bool more = line_continues(l);
                if (more)
                        l[k - 1] = ' '; /* the backslash becomes a space */

                if (cont || more) {
                        char *c = realloc(cont, cont_len + k + 1);
                        if (!c)
                                return -ENOMEM;
                        memcpy(c + cont_len, l, k + 1);
                        cont = c;
                        if (cont_len == 0)
                                cont_line = line;
                        cont_len += k;
                }
                if (more)
                        continue;

                if (cont) {
                        r = parse_one(u, path, cont_line, cont, &section, d);
                        cont = mfree(cont);
                        cont_len = 0;
                } else
                        r = parse_one(u, path, line, l, &section, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = -EBADMSG;
        }

        /* A backslash on the very last line continues into nothing: take what we have. */
        if (cont) {
                r = parse_one(u, path, cont_line, cont, &section, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = -EBADMSG;
        }

        return ret;
}

int unit_file_parse(UnitFile *u, const char *path, FILE *f, Diagnostics *d) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                if (alloc - size < 4096) {
                        char *b = realloc(buf, alloc + 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        alloc += 65536;
                }
                size_t k = fread(buf + size, 1, alloc - size - 1, f);
                size += k;
                if (k == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        buf[size] = 0;
        return unit_file_parse_buffer(u, path, buf, size, d);
}

int unit_file_parse_path(UnitFile *u, const char *path, Diagnostics *d) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file(path, &buf, &size);
        if (r < 0)
                return diag_error(d, path, 0, r, "Failed to read: %s", strerror(-r));
        return unit_file_parse_buffer(u, path, buf, size, d);
}
