/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "log.h"
#include "unit-file.h"

#define LINE_MAX_BYTES (1024U * 1024U)

void unit_file_done(UnitFile *u) {
        for (size_t i = 0; i < u->n; i++) {
                free(u->items[i].section);
                free(u->items[i].key);
                free(u->items[i].value);
                free(u->items[i].file);
        }
        free(u->items);
        *u = (UnitFile) {};
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

        a.section = strdup(section);
        a.key = strdup(key);
        a.value = strdup(value);
        a.file = strdup(path);
        a.line = line;
        if (!a.section || !a.key || !a.value || !a.file)
                goto fail;

        n = realloc(u->items, sizeof(UnitAssignment) * (u->n + 1));
        if (!n)
                goto fail;
        u->items = n;
        u->items[u->n++] = a;
        return 0;
fail:
        free(a.section);
        free(a.key);
        free(a.value);
        free(a.file);
        return -ENOMEM;
}

static int parse_one(UnitFile *u, const char *path, unsigned line, char *l, char **section, Diagnostics *d) {
        char *eq, *key, *value;

        l = strip(l);
        if (*l == 0 || strchr("#;", *l))
                return 0;

        if (*l == '[') {
                size_t n = strlen(l);
                char *name;

                if (l[n - 1] != ']')
                        return diag_error(d, path, line, EBADMSG, "Invalid section header '%s'.", l);
                l[n - 1] = 0;
                if (!section_name_valid(l + 1))
                        return diag_error(d, path, line, EBADMSG, "Invalid section name '%s'.", l + 1);
                name = strdup(l + 1);
                if (!name)
                        return -ENOMEM;
                free(*section);
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

int unit_file_parse(UnitFile *u, const char *path, FILE *f, Diagnostics *d) {
        _cleanup_free_ char *buf = NULL, *section = NULL, *cont = NULL;
        size_t bufsz = 0, cont_len = 0;
        unsigned line = 0, cont_line = 0;
        int r, ret = 0;

        for (;;) {
                ssize_t k;
                char *l;

                errno = 0;
                k = getline(&buf, &bufsz, f);
                if (k < 0) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                line++;
                l = buf;
                while (k > 0 && (l[k - 1] == '\n' || l[k - 1] == '\r'))
                        l[--k] = 0;
                if ((size_t) k > LINE_MAX_BYTES || cont_len + (size_t) k > LINE_MAX_BYTES) {
                        ret = diag_error(d, path, line, ENOBUFS, "Line too long.");
                        free(cont);
                        cont = NULL;
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
                        l[strlen(l) - 1] = ' '; /* the backslash becomes a space */

                if (cont || more) {
                        size_t n = strlen(l);
                        char *c = realloc(cont, cont_len + n + 1);
                        if (!c)
                                return -ENOMEM;
                        memcpy(c + cont_len, l, n + 1);
                        cont = c;
                        if (cont_len == 0)
                                cont_line = line;
                        cont_len += n;
                }
                if (more)
                        continue;

                if (cont) {
                        r = parse_one(u, path, cont_line, cont, &section, d);
                        free(cont);
                        cont = NULL;
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

int unit_file_parse_path(UnitFile *u, const char *path, Diagnostics *d) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return diag_error(d, path, 0, errno, "Failed to open: %s", strerror(errno));
        return unit_file_parse(u, path, f, d);
}
