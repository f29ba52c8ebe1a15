/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>

#include "alloc-util.h"
#include "strv.h"
#include "fileio.h"
#include "unit-file.h"

/* systemd's WHITESPACE is " \t\n\r"; CR and LF always end a line, so inside one only these two are left.
 * Vertical tab and form feed are not blanks for systemd, nor here. */
#define BLANKS " \t"
#define UTF8_BOM "\xEF\xBB\xBF"

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

bool utf8_is_valid_n(const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *) str, *end = s + n;

        while (s < end) {
                unsigned c = *s;
                size_t k;
                uint32_t cp;

                if (c < 0x80) {
                        s++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        k = 1;
                        cp = c & 0x1F;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        k = 2;
                        cp = c & 0x0F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        k = 3;
                        cp = c & 0x07;
                } else
                        return false; /* a continuation byte first, an overlong lead (C0, C1), or > U+10FFFF */
                if ((size_t) (end - s) <= k)
                        return false;
                for (size_t i = 1; i <= k; i++) {
                        if ((s[i] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i] & 0x3F);
                }
                /* overlong forms, UTF-16 surrogates, beyond Unicode */
                if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
                    cp > 0x10FFFF)
                        return false;
                s += k + 1;
        }
        return true;
}

static bool is_control(unsigned char c) {
        return (c < 0x20 && c != '\t') || c == 0x7F;
}

/* The first control character (but tab) in s, or NULL. */
static const char *find_control(const char *s) {
        for (; *s; s++)
                if (is_control((unsigned char) *s))
                        return s;
        return NULL;
}

/* Whether s ends in a backslash that escapes nothing: systemd reads that as "continued on the next line". */
static bool ends_in_lone_backslash(const char *s, size_t l) {
        size_t n = 0;
        while (l > 0 && s[l - 1] == '\\') {
                n++;
                l--;
        }
        return n % 2 == 1;
}

bool unit_value_is_safe(const char *s) {
        size_t l = strlen(s);

        if (!utf8_is_valid_n(s, l) || find_control(s))
                return false;
        if (l > 0 && (strchr(BLANKS, s[0]) || strchr(BLANKS, s[l - 1])))
                return false;
        return !ends_in_lone_backslash(s, l);
}

bool unit_key_is_safe(const char *s) {
        size_t l = strlen(s);

        /* A trailing backslash is harmless here: "=" follows. At the start of a line a byte order mark is
         * skipped by systemd if no line had one before. */
        return l > 0 && utf8_is_valid_n(s, l) && !find_control(s) && !strchr(BLANKS, s[0]) &&
                !strchr(BLANKS, s[l - 1]) && !strchr(s, '=') && !strchr("#;[", s[0]) && !startswith(s, UTF8_BOM);
}

char *unit_escape_comment(const char *s) {
        char *r = malloc(strlen(s) * 4 + 1), *p = r;

        if (!r)
                return NULL;
        for (; *s; s++) {
                unsigned char c = *s;
                if (c < 0x20 || c >= 0x7F || c == '\\')
                        p += sprintf(p, "\\x%02x", c);
                else
                        *p++ = c;
        }
        *p = 0;
        return r;
}

static char *strip(char *s) {
        size_t l;

        s += strspn(s, BLANKS);
        l = strlen(s);
        while (l > 0 && strchr(BLANKS, s[l - 1]))
                s[--l] = 0;
        return s;
}

static int unit_file_append(UnitFile *u, const char *section, const char *key, const char *value,
                            unsigned line) {
        UnitAssignment a = {
                .section = section,
                .key = strdup(key),
                .value = strdup(value),
                .file = u->files[u->n_files - 1],
                .file_index = u->n_files - 1,
                .line = line,
        };

        if (!a.key || !a.value || GREEDY_REALLOC(u->items, u->n_allocated, u->n + 1) < 0) {
                free(a.key);
                free(a.value);
                return -ENOMEM;
        }
        u->items[u->n++] = a;
        return 0;
}

/* Names the key of a bad line, when it has one that can be shown, for messages. */
static const char *key_for_message(char *l, char *buf, size_t size) {
        const char *eq = strchr(l, '=');
        size_t k;

        if (!eq || *l == '[')
                return NULL;
        k = eq - l;
        while (k > 0 && strchr(BLANKS, l[k - 1]))
                k--;
        if (k == 0 || k >= size)
                return NULL;
        memcpy(buf, l, k);
        buf[k] = 0;
        if (!utf8_is_valid_n(buf, k) || find_control(buf))
                return NULL;
        return buf;
}

static int parse_one(UnitFile *u, const char *path, unsigned line, char *l, const char **section,
                     Diagnostics *d) {
        char *eq, *key, *value, keybuf[256];
        const char *bad, *k;

        l = strip(l);
        if (*l == 0 || strchr("#;", *l))
                return 0;

        /* Refused before anything of the line is echoed: messages must not carry raw bytes either. */
        if (!utf8_is_valid_n(l, strlen(l))) {
                k = key_for_message(l, keybuf, sizeof(keybuf));
                if (k)
                        return diag_error(d, path, line, EBADMSG,
                                          "%s=: the value is not valid UTF-8 (systemd would refuse this line and "
                                          "drop the rest of the file).", k);
                return diag_error(d, path, line, EBADMSG,
                                  "Line is not valid UTF-8 (systemd would refuse it and drop the rest of the file).");
        }
        bad = find_control(l);
        if (bad) {
                k = key_for_message(l, keybuf, sizeof(keybuf));
                if (k)
                        return diag_error(d, path, line, EBADMSG,
                                          "%s=: control character 0x%02x in the value (only tab is allowed).", k,
                                          (unsigned char) *bad);
                return diag_error(d, path, line, EBADMSG, "Control character 0x%02x in line (only tab is allowed).",
                                  (unsigned char) *bad);
        }

        /* Where systemd skips one depends on whether an earlier line had one: refuse the guesswork. */
        if (startswith(l, UTF8_BOM))
                return diag_error(d, path, line, EBADMSG,
                                  "Line starts with a byte order mark (U+FEFF), which is allowed only at the start "
                                  "of the file.");

        if (*l == '[') {
                size_t n = strlen(l);

                if (l[n - 1] != ']')
                        return diag_error(d, path, line, EBADMSG, "Invalid section header '%s'.", l);
                l[n - 1] = 0;
                if (isempty(l + 1) || strpbrk(l + 1, "[]"))
                        return diag_error(d, path, line, EBADMSG, "Invalid section name '%s'.", l + 1);
                char *name = strdup(l + 1);
                if (!name || strv_push_greedy(&u->sections, &u->n_sections, &u->n_sections_allocated, name) < 0)
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
        if (ends_in_lone_backslash(value, strlen(value)))
                return diag_error(d, path, line, EBADMSG,
                                  "%s=: the value ends in a backslash followed by blanks; written into a unit, "
                                  "systemd would join the next line to it. Remove the backslash or the blanks.",
                                  key);

        return unit_file_append(u, *section, key, value, line);
}

/* Where the next line starts. systemd ends a line at LF, CR, CR LF or LF CR: a run of end-of-line bytes
 * ends one line as long as no byte repeats in it. */
static char *line_end(char *p, char *end, char **ret_next) {
        size_t n = strcspn(p, "\r\n"); /* buf has no NUL before end, see below */
        char *e = p + n;

        if (e >= end) {
                *ret_next = end;
                return end;
        }
        *ret_next = e + 1;
        if (*ret_next < end && (**ret_next == '\r' || **ret_next == '\n') && **ret_next != *e)
                (*ret_next)++;
        return e;
}

int unit_file_parse_buffer(UnitFile *u, const char *path_in, char *buf, size_t size, Diagnostics *d) {
        _cleanup_free_ char *cont = NULL;
        size_t cont_len = 0, cont_allocated = 0;
        const char *section = NULL, *path;
        unsigned line = 0, cont_line = 0;
        char *next = buf, *end = buf + size, *nul;
        bool bom_seen = false;
        int r, ret = 0;

        char *p = strdup(path_in);
        if (!p || strv_push_greedy(&u->files, &u->n_files, &u->n_files_allocated, p) < 0)
                return -ENOMEM;
        path = p;

        if (size > UNIT_FILE_SIZE_MAX)
                return unit_file_read_error(d, path, -EFBIG, size);

        /* systemd ends a line at a NUL, a text editor shows none: what such a file means is anybody's guess. */
        nul = memchr(buf, 0, size);
        if (nul) {
                unsigned l = 1;
                for (char *q = buf; q < nul; q++)
                        if (*q == '\n' || (*q == '\r' && !(q + 1 < nul && q[1] == '\n')))
                                l++;
                return diag_error(d, path, l, EBADMSG, "File contains a NUL byte, refusing it.");
        }

        while (next < end) {
                char *l = next, *e = line_end(next, end, &next);
                size_t k;

                *e = 0;
                line++;

                /* Comment lines never continue, and inside a continued assignment they are skipped, as
                 * systemd does. */
                const char *t = l + strspn(l, BLANKS);
                if (*t && strchr("#;", *t))
                        continue;

                /* systemd skips a byte order mark at the start of the first line that has one */
                if (!bom_seen && startswith(l, UTF8_BOM)) {
                        l += strlen(UTF8_BOM);
                        bom_seen = true;
                }

                k = e - l;
                bool more = ends_in_lone_backslash(l, k);
                if (more)
                        l[k - 1] = ' '; /* the backslash becomes a space */

                if (cont || more) {
                        if (GREEDY_REALLOC(cont, cont_allocated, cont_len + k + 1) < 0)
                                return -ENOMEM;
                        memcpy(cont + cont_len, l, k + 1);
                        if (cont_len == 0)
                                cont_line = line;
                        cont_len += k;
                }
                if (more)
                        continue;

                r = parse_one(u, path, cont ? cont_line : line, cont ?: l, &section, d);
                cont_len = 0;
                cont = mfree(cont);
                cont_allocated = 0;
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

static int read_bounded(int fd, char **ret, size_t *ret_size) {
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) /* a FIFO or socket would block or lie */
                return -EBADFD;
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > UNIT_FILE_SIZE_MAX) {
                *ret_size = st.st_size;
                return -EFBIG;
        }
        r = read_fd_bounded(fd, UNIT_FILE_SIZE_MAX, ret, ret_size);
        if (r == -EFBIG)
                *ret_size = 0; /* not known: reading stopped at the cap */
        return r;
}

int unit_file_read_at(int dir_fd, const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        return read_bounded(fd, ret, ret_size);
}

int unit_file_read_error(Diagnostics *d, const char *path, int r, size_t size) {
        if (r == -EFBIG && size > 0)
                return diag_error(d, path, 0, r, "File is %zu bytes, more than the %zu allowed; refusing it.", size,
                                  UNIT_FILE_SIZE_MAX);
        if (r == -EFBIG)
                return diag_error(d, path, 0, r, "File is more than the %zu bytes allowed; refusing it.",
                                  UNIT_FILE_SIZE_MAX);
        return diag_error(d, path, 0, r, "Failed to read: %m");
}

int unit_file_parse(UnitFile *u, const char *path, FILE *f, Diagnostics *d) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                if (GREEDY_REALLOC(buf, allocated, size + 65536 + 1) < 0)
                        return -ENOMEM;
                size_t k = fread(buf + size, 1, MIN(allocated - size - 1, UNIT_FILE_SIZE_MAX + 1 - size), f);
                size += k;
                if (size > UNIT_FILE_SIZE_MAX)
                        return unit_file_read_error(d, path, -EFBIG, 0);
                if (k == 0) {
                        if (ferror(f))
                                return diag_error(d, path, 0, EIO, "Failed to read: %m");
                        break;
                }
        }
        buf[size] = 0;
        return unit_file_parse_buffer(u, path, buf, size, d);
}

int unit_file_parse_path(UnitFile *u, const char *path, Diagnostics *d) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        int r;

        r = unit_file_read_at(AT_FDCWD, path, &buf, &size);
        if (r < 0)
                return unit_file_read_error(d, path, r, size);
        return unit_file_parse_buffer(u, path, buf, size, d);
}
