/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <string.h>

#include "fileio.h"
#include "mspawn-write.h"
#include "strv.h"

/* Length of the UTF-8 sequence at s, or 0 when it is not one (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_sequence_length(const unsigned char *s) {
        unsigned char c = s[0];
        size_t n;
        unsigned cp;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

bool mspawn_value_is_writable(const char *s) {
        size_t l;

        if (!s)
                return false;
        l = strlen(s);
        if (l > 0 && (strchr(" \t", s[0]) || strchr(" \t\\", s[l - 1])))
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p;) {
                size_t n;

                if (*p < 0x20 || *p == 0x7f)
                        return false;
                n = utf8_sequence_length(p);
                if (n == 0)
                        return false;
                p += n;
        }
        return true;
}

bool mspawn_key_is_writable(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (!(isascii((unsigned char) *s) && (isalnum((unsigned char) *s) || strchr("-_.", *s))))
                        return false;
        return true;
}

/* A list of words joined by spaces, read back with a split on blanks: every word must be one word. */
static bool word_is_writable(const char *w) {
        return !isempty(w) && !strpbrk(w, " \t") && mspawn_value_is_writable(w);
}

typedef struct Writer {
        FILE *f;
        const char *section; /* the header written last */
        const char *bad_key;
} Writer;

static int put(Writer *w, const char *section, const char *key, const char *value) {
        if (!mspawn_key_is_writable(key) || !mspawn_value_is_writable(value)) {
                w->bad_key = key;
                return -EINVAL;
        }
        if (!w->section || !streq(w->section, section)) {
                fprintf(w->f, "%s[%s]\n", w->section ? "\n" : "", section);
                w->section = section;
        }
        fprintf(w->f, "%s=%s\n", key, value);
        return 0;
}

static int put_located(Writer *w, const char *section, const char *key, const Located *l) {
        return l->value ? put(w, section, key, l->value) : 0;
}

static int put_string(Writer *w, const char *section, const char *key, const char *value) {
        return value ? put(w, section, key, value) : 0;
}

static int put_words(Writer *w, const char *section, const char *key, char **words) {
        _cleanup_free_ char *joined = NULL;

        if (!words || !words[0])
                return 0;
        STRV_FOREACH(word, words)
                if (!word_is_writable(*word)) {
                        w->bad_key = key;
                        return -EINVAL;
                }
        joined = strv_join(words, " ");
        if (!joined)
                return -ENOMEM;
        return put(w, section, key, joined);
}

static int put_tristate(Writer *w, const char *section, const char *key, int value) {
        return value < 0 ? 0 : put(w, section, key, value ? "yes" : "no");
}

static int put_settings(Writer *w, const char *section, const SettingList *l) {
        int r;

        for (size_t i = 0; i < l->n; i++) {
                r = put(w, section, l->items[i].key, l->items[i].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_machine(Writer *w, const MachineConfig *c) {
        static const char *const s = "Machine";
        _cleanup_free_ char *verify = NULL;
        int r;

        if ((r = put_located(w, s, "Distribution", &c->distribution)) < 0 ||
            (r = put_located(w, s, "Release", &c->release)) < 0 ||
            (r = put_located(w, s, "Image", &c->image)) < 0 ||
            (r = put_located(w, s, "Mirror", &c->mirror)) < 0 ||
            (r = put_string(w, s, "Architecture", c->architecture)) < 0 ||
            (r = put_string(w, s, "Variant", c->variant)) < 0 ||
            (r = put_words(w, s, "Components", c->components)) < 0 ||
            (r = put_words(w, s, "Packages", c->packages)) < 0)
                return r;
        switch (c->verify) {
        case VERIFY_CHECKSUM:
                break; /* the default */
        case VERIFY_NO:
                r = put(w, s, "Verify", "no");
                break;
        case VERIFY_SHA256:
                verify = strjoin("sha256:", strempty(c->verify_sha256));
                r = verify ? put(w, s, "Verify", verify) : -ENOMEM;
                break;
        default:
                w->bad_key = "Verify";
                return -EINVAL;
        }
        if (r < 0)
                return r;
        return put_string(w, s, "Hostname", c->hostname);
}

static int write_user(Writer *w, const UserConfig *u) {
        static const char *const s = "User";
        int r;

        if ((r = put_string(w, s, "Name", u->name)) < 0 || (r = put_words(w, s, "Groups", u->groups)) < 0)
                return r;
        if (u->home == HOME_BIND || u->home == HOME_NONE) {
                r = put(w, s, "Home", u->home == HOME_BIND ? "bind" : "none");
                if (r < 0)
                        return r;
        } else if (u->home != HOME_DEFAULT) {
                w->bad_key = "Home";
                return -EINVAL;
        }
        if ((r = put_tristate(w, s, "Sudo", u->sudo)) < 0 || (r = put_tristate(w, s, "Display", u->display)) < 0 ||
            (r = put_tristate(w, s, "Audio", u->audio)) < 0)
                return r;
        if ((r = put_words(w, s, "ExportApps", u->export_apps)) < 0 ||
            (r = put_words(w, s, "ExportBins", u->export_bins)) < 0 ||
            (u->gpu && (r = put(w, s, "GPU", "yes")) < 0))
                return r;
        return 0;
}

int mspawn_write(const MachineConfig *c, const char *comment, FILE *f, const char **ret_bad_key) {
        Writer w = { .f = f };
        int r;

        if (comment) {
                if (!mspawn_value_is_writable(comment)) {
                        w.bad_key = "(comment)";
                        r = -EINVAL;
                        goto finish;
                }
                fprintf(f, "# %s\n", comment);
        }
        if ((r = write_machine(&w, c)) < 0 || (r = write_user(&w, &c->user)) < 0 ||
            (r = put_settings(&w, "Exec", &c->exec)) < 0 || (r = put_settings(&w, "Files", &c->files)) < 0 ||
            (r = put_settings(&w, "Network", &c->network)) < 0 || (r = put_settings(&w, "Unit", &c->unit)) < 0 ||
            (r = put_settings(&w, "Service", &c->service)) < 0 ||
            (r = put_words(&w, "Install", "WantedBy", c->wanted_by)) < 0 ||
            (r = put_words(&w, "Install", "RequiredBy", c->required_by)) < 0)
                goto finish;
        r = ferror(f) ? -EIO : 0;
finish:
        if (r < 0 && ret_bad_key)
                *ret_bad_key = w.bad_key;
        return r;
}

typedef struct FormatArgs {
        const MachineConfig *c;
        const char *comment;
        const char **bad_key;
} FormatArgs;

static int format_writer(const void *userdata, FILE *f) {
        const FormatArgs *a = userdata;
        return mspawn_write(a->c, a->comment, f, a->bad_key);
}

int mspawn_format(const MachineConfig *c, const char *comment, char **ret, const char **ret_bad_key) {
        const char *bad = NULL;
        FormatArgs a = { c, comment, &bad };
        int r;

        r = write_to_string(format_writer, &a, ret);
        if (r < 0 && ret_bad_key)
                *ret_bad_key = bad;
        return r;
}
