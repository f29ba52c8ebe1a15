/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "alloc-util.h"
#include "oci-exec.h"
#include "strv.h"
#include "unit-file.h"
#include "valid.h"

static int set_string(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

void oci_exec_done(OciExec *e) {
        strv_free(e->environment);
        free(e->working_directory);
        free(e->user);
        strv_free(e->argv);
        *e = (OciExec) {};
}

OciExec *oci_exec_free(OciExec *e) {
        if (e) {
                oci_exec_done(e);
                free(e);
        }
        return NULL;
}

static int append_line(char **buf, size_t *len, const char *key, const char *value) {
        size_t k = strlen(key), v = strlen(value);
        char *b;

        if (strchr(value, '\n'))
                return -EINVAL;
        if (GREEDY_REALLOC_UNKNOWN(*buf, *len + k + v + 3) < 0)
                return -ENOMEM;
        b = *buf;
        memcpy(b + *len, key, k);
        b[*len + k] = '=';
        memcpy(b + *len + k + 1, value, v);
        b[*len + k + 1 + v] = '\n';
        b[*len + k + v + 2] = 0;
        *buf = b;
        *len += k + v + 2;
        return 0;
}

int oci_exec_format(const OciExec *e, char **ret) {
        _cleanup_free_ char *buf = strdup("");
        size_t len = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        r = append_line(&buf, &len, "boot", e->boot > 0 ? "yes" : "no");
        STRV_FOREACH(s, e->environment)
                if (r >= 0)
                        r = append_line(&buf, &len, "env", *s);
        if (r >= 0 && e->working_directory)
                r = append_line(&buf, &len, "workdir", e->working_directory);
        if (r >= 0 && e->user)
                r = append_line(&buf, &len, "user", e->user);
        STRV_FOREACH(s, e->argv)
                if (r >= 0)
                        r = append_line(&buf, &len, "arg", *s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int oci_exec_parse(const char *text, OciExec *ret) {
        _cleanup_(oci_exec_done) OciExec e = {};
        const char *p = text;
        int r;

        while (*p) {
                size_t n = strcspn(p, "\n");
                _cleanup_free_ char *line = strndup(p, n);
                const char *v;

                if (!line)
                        return -ENOMEM;
                p += n + (p[n] == '\n');
                if ((v = startswith(line, "boot=")))
                        e.boot = streq(v, "yes");
                else if ((v = startswith(line, "env=")))
                        r = strv_extend(&e.environment, v);
                else if ((v = startswith(line, "workdir=")))
                        r = set_string(&e.working_directory, v);
                else if ((v = startswith(line, "user=")))
                        r = set_string(&e.user, v);
                else if ((v = startswith(line, "arg=")))
                        r = strv_extend(&e.argv, v);
                else
                        continue; /* a newer version's key */
                if (r < 0)
                        return r;
                r = 0;
        }
        *ret = e;
        e = (OciExec) {};
        return 0;
}

/* One word for a list setting: systemd-nspawn splits Parameters= and Environment= on blanks, honouring
 * quotes (a backslash is an ordinary character there). */
static int quote_word(const char *s, char **ret) {
        char q = !strchr(s, '\'') ? '\'' : !strchr(s, '"') ? '"' : 0;
        char b[2] = { q, 0 };

        if (!q || !unit_value_is_safe(s))
                return -EINVAL;
        *ret = strjoin(b, s, b);
        return *ret ? 0 : -ENOMEM;
}

static int write_words(const char *key, char * const *words, FILE *f) {
        STRV_FOREACH(w, words) {
                _cleanup_free_ char *q = NULL;
                int r = quote_word(*w, &q);
                if (r < 0)
                        return r;
                fprintf(f, "%s=%s\n", key, q);
        }
        return 0;
}

static int write_single(const char *key, const char *value, FILE *f) {
        if (!value)
                return 0;
        if (!unit_value_is_safe(value) || isempty(value) || value[strlen(value) - 1] == '\\')
                return -EINVAL;
        fprintf(f, "%s=%s\n", key, value);
        return 0;
}

int oci_exec_write_nspawn(const OciExec *e, const SettingList *exec, FILE *f) {
        int boot = -1, r;

        /* the .mspawn's Boot= (the last one) decides over the image */
        for (size_t i = 0; exec && i < exec->n; i++)
                if (streq(exec->items[i].key, "Boot"))
                        boot = parse_boolean(exec->items[i].value);
        if (boot < 0) {
                boot = e->boot > 0;
                fprintf(f, "Boot=%s\n", yes_no(boot));
        }
        r = write_words("Environment", e->environment, f);
        if (r < 0)
                return r;
        if (boot)
                return 0; /* init takes over: the entrypoint, directory and user are for a process */
        r = write_single("WorkingDirectory", e->working_directory, f);
        if (r >= 0)
                r = write_single("User", e->user, f);
        if (r >= 0)
                r = write_words("Parameters", e->argv, f);
        return r;
}
