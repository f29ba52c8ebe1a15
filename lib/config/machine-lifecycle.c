/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The [Machine] keys that say what happens to a machine after its first build: what a rebuild carries
 * over (Keep=), commands run in it (Run=, RunOnStart=), files copied in (Copy=), and whether a change
 * that needs a new tree rebuilds it (RebuildOnChange=). */
#include <limits.h>

#include "machine-lifecycle.h"
#include "strv.h"
#include "valid.h"

void lifecycle_config_done(LifecycleConfig *l) {
        strv_free(l->keep);
        strv_free(l->run);
        strv_free(l->run_on_start);
        strv_free(l->copy);
        *l = (LifecycleConfig) { .rebuild_on_change = -1, .remove_unlisted = -1 };
}

bool machine_path_is_valid(const char *p) {
        const char *c;

        if (!p || p[0] != '/' || p[1] == '\0' || strlen(p) >= PATH_MAX)
                return false;
        for (c = p; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return false;
        /* every component: non-empty, not "." or ".." */
        for (c = p + 1;;) {
                size_t n = strcspn(c, "/");
                if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (c[n] == '\0')
                        return true;
                c += n + 1;
        }
}

int copy_spec_split(const char *spec, char **ret_source, char **ret_dest) {
        const char *colon = strchr(spec, ':');
        _cleanup_free_ char *source = NULL;

        if (!colon)
                return -EINVAL;
        source = strndup(spec, colon - spec);
        if (!source)
                return -ENOMEM;
        if (!machine_path_is_valid(source) || !machine_path_is_valid(colon + 1))
                return -EINVAL;
        if (ret_dest) {
                *ret_dest = strdup(colon + 1);
                if (!*ret_dest)
                        return -ENOMEM;
        }
        if (ret_source)
                *ret_source = TAKE_PTR(source);
        return 0;
}

int lifecycle_parse_keep(const UnitAssignment *a, void *field, _unused_ struct ParseContext *ctx, Diagnostics *d) {
        _cleanup_strv_free_ char **words = NULL;
        char ***l = field;
        int r;

        if (isempty(a->value)) {
                *l = strv_free(*l);
                return 0;
        }
        r = strv_split_words(&words, a->value);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
                if (!machine_path_is_valid(*w))
                        return diag_error(d, a->file, a->line, EINVAL,
                                          "Keep=: '%s' is not an absolute path inside the machine (no \"..\", "
                                          "\".\", \"//\" or trailing \"/\").", *w);
        STRV_FOREACH(w, words)
                if (!strv_contains(*l, *w) && strv_extend(l, *w) < 0)
                        return -ENOMEM;
        return 0;
}

int lifecycle_parse_command(const UnitAssignment *a, void *field, _unused_ struct ParseContext *ctx,
                            _unused_ Diagnostics *d) {
        char ***l = field;

        if (isempty(a->value)) {
                *l = strv_free(*l);
                return 0;
        }
        /* the same command twice runs twice: no deduplication */
        return strv_extend(l, a->value);
}

int lifecycle_parse_copy(const UnitAssignment *a, void *field, _unused_ struct ParseContext *ctx, Diagnostics *d) {
        char ***l = field;
        int r;

        if (isempty(a->value)) {
                *l = strv_free(*l);
                return 0;
        }
        r = copy_spec_split(a->value, NULL, NULL);
        if (r == -EINVAL)
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Copy=%s is not SOURCE:DEST, two absolute paths (no \"..\", \".\", \"//\" or "
                                  "trailing \"/\").", a->value);
        if (r < 0)
                return r;
        return strv_extend(l, a->value);
}
