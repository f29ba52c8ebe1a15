/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The origin record: parsing, formatting, what changed since (pure), and the record files. */
#include <stdint.h>
#include <sys/stat.h>

#include "fileio.h"
#include "origin.h"
#include "strv.h"

void origin_done(Origin *o) {
        free(o->base);
        free(o->image);
        free(o->created);
        free(o->tree);
        free(o->distribution);
        free(o->release);
        free(o->architecture);
        free(o->variant);
        free(o->release_declared);
        strv_free(o->packages);
        strv_free(o->unlisted);
        strv_free(o->hooks);
        *o = (Origin) {};
}

int origin_parse(const char *text, Origin *ret) {
        _cleanup_(origin_done) Origin o = { .legacy = true };
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = strv_split(&lines, text, "\n");
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                const char *eq = strchr(*l, '=');
                static const struct {
                        const char *key;
                        size_t offset;
                } fields[] = {
                        { "base", offsetof(Origin, base) },
                        { "image", offsetof(Origin, image) },
                        { "created", offsetof(Origin, created) },
                        { "tree", offsetof(Origin, tree) },
                        { "distribution", offsetof(Origin, distribution) },
                        { "release", offsetof(Origin, release) },
                        { "architecture", offsetof(Origin, architecture) },
                        { "variant", offsetof(Origin, variant) },
                        { "release-declared", offsetof(Origin, release_declared) },
                };
                _cleanup_free_ char *key = NULL;
                const char *value;
                bool done = false;

                if (isempty(*l))
                        continue;
                if (!eq)
                        return -EBADMSG;
                key = strndup(*l, eq - *l);
                if (!key)
                        return -ENOMEM;
                value = eq + 1;
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (streq(key, fields[i].key)) {
                                char **f = (char **) ((uint8_t *) &o + fields[i].offset);
                                free(*f);
                                *f = strdup(value);
                                if (!*f)
                                        return -ENOMEM;
                                done = true;
                        }
                if (done)
                        continue;
                if (streq(key, "format"))
                        o.legacy = false;
                else if (streq(key, "packages")) {
                        o.packages = strv_free(o.packages);
                        r = strv_split_words(&o.packages, value);
                        if (r < 0)
                                return r;
                } else if (streq(key, "unlisted")) {
                        o.unlisted = strv_free(o.unlisted);
                        r = strv_split_words(&o.unlisted, value);
                        if (r < 0)
                                return r;
                } else if (streq(key, "hook")) {
                        r = strv_extend(&o.hooks, value);
                        if (r < 0)
                                return r;
                }
        }
        *ret = o;
        o = (Origin) {};
        return 0;
}

int origin_format(const Origin *o, char **ret) {
        _cleanup_free_ char *pkgs = NULL, *unlisted = NULL, *hooks = NULL, *text = NULL;

        pkgs = o->packages ? strv_join(o->packages, " ") : strdup("");
        if (!pkgs)
                return -ENOMEM;
        if (o->unlisted) {
                unlisted = strv_join(o->unlisted, " ");
                if (!unlisted)
                        return -ENOMEM;
        }
        if (o->hooks) {
                hooks = strv_join(o->hooks, "\nhook=");
                if (!hooks)
                        return -ENOMEM;
        }
        text = strjoin(o->image ? "image=" : "base=", o->image ?: strempty(o->base), "\ncreated=",
                       strempty(o->created), "\nformat=2\ntree=", strempty(o->tree), "\ndistribution=",
                       strempty(o->distribution), "\nrelease=", strempty(o->release), "\narchitecture=",
                       strempty(o->architecture), "\nvariant=", strempty(o->variant), "\npackages=", pkgs, "\n",
                       unlisted ? "unlisted=" : "", strempty(unlisted), unlisted ? "\n" : "",
                       o->release_declared ? "release-declared=" : "", strempty(o->release_declared),
                       o->release_declared ? "\n" : "",
                       hooks ? "hook=" : "", strempty(hooks), hooks ? "\n" : "");
        if (!text)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

void origin_diff_done(OriginDiff *d) {
        strv_free(d->added);
        strv_free(d->removed);
        strv_free(d->unlisted);
        *d = (OriginDiff) {};
}

int origin_diff(const Origin *built, const Origin *wanted, OriginDiff *ret) {
        _cleanup_(origin_diff_done) OriginDiff d = {};
        const struct {
                const char *key, *old_value, *new_value;
        } keys[] = {
                { "Distribution=", built->distribution, wanted->distribution },
                { "Release=", built->release, wanted->release },
                { "Image=", built->image, wanted->image },
                { "Architecture=", built->architecture, wanted->architecture },
                { "Variant=", built->variant, wanted->variant },
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (streq(strempty(keys[i].old_value), strempty(keys[i].new_value)))
                        continue;
                /* "Release=stable" as before, but stable means another release now: the machine was not
                 * edited, so it is not stopped; the start says what a rebuild would bring */
                if (streq(keys[i].key, "Release=") && built->release_declared && wanted->release_declared &&
                    streq(built->release_declared, wanted->release_declared)) {
                        d.alias_moved = wanted->release_declared;
                        continue;
                }
                        d.blocking[d.n_blocking++] = (OriginChange) {
                                .key = keys[i].key,
                                .old_value = strempty(keys[i].old_value),
                                .new_value = strempty(keys[i].new_value),
                        };
        }
        /* an unlisted one listed again is still installed: nothing to do for it */
        STRV_FOREACH(p, wanted->packages)
                if (!strv_contains(built->packages, *p) && !strv_contains(built->unlisted, *p) &&
                    strv_extend(&d.added, *p) < 0)
                        return -ENOMEM;
        STRV_FOREACH(p, built->packages)
                if (!strv_contains(wanted->packages, *p) && strv_extend(&d.removed, *p) < 0)
                        return -ENOMEM;
        STRV_FOREACH(p, built->unlisted)
                if (!strv_contains(wanted->packages, *p) && !strv_contains(d.removed, *p) &&
                    strv_extend(&d.unlisted, *p) < 0)
                        return -ENOMEM;
        *ret = d;
        d = (OriginDiff) {};
        return 0;
}

char *origin_change_message(const OriginChange *c, const char *name) {
        return strjoin(c->key, " changed from ", isempty(c->old_value) ? "(none)" : c->old_value, " to ",
                       isempty(c->new_value) ? "(none)" : c->new_value, ": machine ", name,
                       " cannot follow it in place; apply it with \"machinespawn rebuild ", name,
                       "\" (Keep= lists what it carries over) or set RebuildOnChange=yes.");
}

int origin_tree_id(const char *path, char **ret) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (asprintf(ret, "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino) < 0)
                return -ENOMEM;
        return 0;
}

int origin_read(const char *path, Origin *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return r;
        return origin_parse(text, ret);
}

int origin_write(const char *path, const Origin *o) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = origin_format(o, &text);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, strlen(text), 0644, 0);
}

int origin_matches_tree(const char *path, const char *tree) {
        _cleanup_(origin_done) Origin rec = {};
        _cleanup_free_ char *id = NULL;
        int r;

        r = origin_read(path, &rec);
        if (r == -ENOENT || r == -EBADMSG)
                return 0;
        if (r < 0)
                return r;
        r = origin_tree_id(tree, &id);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return r;
        return rec.tree && streq(rec.tree, id);
}
