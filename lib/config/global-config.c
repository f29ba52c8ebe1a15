/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <strings.h>

#include <iniparser.h>

#include "alloc-util.h"
#include "build-config.h"
#include "global-config.h"
#include "strv.h"
#include "valid.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(dictionary *, iniparser_freedict);

static void distro_defaults_done(DistroDefaults *dd) {
        free(dd->name);
        free(dd->mirror);
        free(dd->ports_mirror);
        free(dd->security_mirror);
        strv_free(dd->components);
        free(dd->keyring);
        free(dd->keyring_package);
        free(dd->archive_mirror);
        free(dd->archive_security_mirror);
        free(dd->archive_keyring);
}

GlobalConfig *global_config_free(GlobalConfig *c) {
        if (!c)
                return NULL;
        strv_free(c->base_packages);
        free(c->proxy);
        free(c->cache_dir);
        for (size_t i = 0; i < c->n_distros; i++)
                distro_defaults_done(c->distros + i);
        free(c->distros);
        free(c);
        return NULL;
}

const char *bootstrapper_to_string(Bootstrapper b) {
        static const char *const t[_BOOTSTRAPPER_MAX] = {
                [BOOTSTRAPPER_AUTO] = "auto",
                [BOOTSTRAPPER_DEBOOTSTRAP] = "debootstrap",
                [BOOTSTRAPPER_MMDEBSTRAP] = "mmdebstrap",
        };
        return b < _BOOTSTRAPPER_MAX ? t[b] : NULL;
}

int global_config_files(const char *vendor_file, const char *etc_dir, char ***ret) {
        _cleanup_strv_free_ char **files = NULL, **dropins = NULL;
        _cleanup_free_ char *main_file = NULL, *dropin_dir = NULL;
        DIR *d;
        int r;

        files = calloc(1, sizeof(char *));
        dropins = calloc(1, sizeof(char *));
        if (!files || !dropins)
                return -ENOMEM;
        if (asprintf(&main_file, "%s/machinespawn.conf", etc_dir) < 0 ||
            asprintf(&dropin_dir, "%s/machinespawn.conf.d", etc_dir) < 0)
                return -ENOMEM;

        if (access(vendor_file, F_OK) >= 0 && (r = strv_extend(&files, vendor_file)) < 0)
                return r;
        if (access(main_file, F_OK) >= 0 && (r = strv_extend(&files, main_file)) < 0)
                return r;

        d = opendir(dropin_dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (endswith(de->d_name, ".conf") && de->d_name[0] != '.') {
                                char *p;
                                if (asprintf(&p, "%s/%s", dropin_dir, de->d_name) < 0 ||
                                    strv_push(&dropins, p) < 0) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                        }
                closedir(d);
        }
        strv_sort(dropins);
        r = strv_extend_strv(&files, dropins);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(files);
        return 0;
}

/* iniparser forgets where a key was: find the (last) line that sets section:key for the message. */
static unsigned find_key_line(const char *path, const char *section, const char *key) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        size_t sz = 0;
        unsigned line = 0, found = 0;
        bool in_section = false;

        if (!f)
                return 0;
        while (getline(&buf, &sz, f) >= 0) {
                char *l = buf + strspn(buf, " \t");
                size_t n;

                line++;
                if (*l == '[') {
                        n = strcspn(l + 1, "]");
                        in_section = strlen(section) == n && strncasecmp(l + 1, section, n) == 0;
                        continue;
                }
                n = strcspn(l, " \t=");
                if (in_section && strlen(key) == n && strncasecmp(l, key, n) == 0)
                        found = line;
        }
        return found;
}

static char iniparser_last_error[512];

_printf_(1, 2) static int iniparser_error_cb(const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        vsnprintf(iniparser_last_error, sizeof iniparser_last_error, format, ap);
        va_end(ap);
        /* iniparser ends its messages with a newline */
        iniparser_last_error[strcspn(iniparser_last_error, "\n")] = 0;
        return 0;
}

static DistroDefaults *distro_get(GlobalConfig *c, const char *name) {
        DistroDefaults *n;

        for (size_t i = 0; i < c->n_distros; i++)
                if (streq(c->distros[i].name, name))
                        return c->distros + i;
        if (GREEDY_REALLOC_UNKNOWN(c->distros, c->n_distros + 1) < 0)
                return NULL;
        n = c->distros + c->n_distros;
        *n = (DistroDefaults) { .name = strdup(name) };
        if (!n->name)
                return NULL;
        c->n_distros++;
        return n;
}

static int set_string(char **field, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*field);
        *field = v;
        return 0;
}

static int apply_key(GlobalConfig *c, const char *path, const char *section, const char *key, const char *value,
                     Diagnostics *d) {
        unsigned line;
        int r;

#define BAD(fmt, ...)                                                                                     \
        (line = find_key_line(path, section, key),                                                      \
         diag_error(d, path, line, EINVAL, "[%s] %s=%s: " fmt, section, key, value, ##__VA_ARGS__))

        if (streq(section, "bootstrap")) {
                if (streq(key, "bootstrapper")) {
                        for (Bootstrapper b = 0; b < _BOOTSTRAPPER_MAX; b++)
                                if (streq(value, bootstrapper_to_string(b))) {
                                        c->bootstrapper = b;
                                        return 0;
                                }
                        return BAD("not one of auto, debootstrap, mmdebstrap.");
                }
                if (streq(key, "packages")) {
                        _cleanup_strv_free_ char **l = NULL;
                        r = strv_split_words(&l, value);
                        if (r < 0)
                                return r;
                        STRV_FOREACH(w, l)
                                if (!package_name_is_valid(*w))
                                        return BAD("'%s' is not a package name.", *w);
                        strv_free(c->base_packages);
                        c->base_packages = TAKE_PTR(l);
                        return 0;
                }
                if (streq(key, "proxy")) {
                        if (!streq(value, "auto") && !streq(value, "none") && !url_is_valid(value, false))
                                return BAD("not auto, none or an http:// URL.");
                        return set_string(&c->proxy, value);
                }
                if (streq(key, "keepproxy")) {
                        r = parse_boolean(value);
                        if (r < 0)
                                return BAD("not a boolean.");
                        c->keep_proxy = r;
                        return 0;
                }
        } else if (streq(section, "cache")) {
                if (streq(key, "directory")) {
                        if (value[0] != '/')
                                return BAD("not an absolute path.");
                        return set_string(&c->cache_dir, value);
                }
                if (streq(key, "maxage")) {
                        if (parse_timespan_sec(value, &c->max_age_sec) < 0)
                                return BAD("not a time span (7d, 12h, infinity).");
                        return 0;
                }
                if (streq(key, "pruneunusedafter")) {
                        if (parse_timespan_sec(value, &c->prune_unused_after_sec) < 0)
                                return BAD("not a time span (30d, 12h, infinity).");
                        return 0;
                }
        } else {
                DistroDefaults *dd;

                if (!distribution_name_is_valid(section))
                        return diag_error(d, path, find_key_line(path, section, key), EINVAL,
                                          "[%s] is not a distribution name.", section);
                dd = distro_get(c, section);
                if (!dd)
                        return -ENOMEM;
                if (streq(key, "mirror") || streq(key, "portsmirror") || streq(key, "securitymirror")) {
                        if (!url_is_valid(value, true))
                                return BAD("not an http://, https:// or file:/// URL.");
                        return set_string(streq(key, "mirror")        ? &dd->mirror
                                          : streq(key, "portsmirror") ? &dd->ports_mirror
                                                                      : &dd->security_mirror,
                                          value);
                }
                if (streq(key, "archivemirror") || streq(key, "archivesecuritymirror")) {
                        char **field = streq(key, "archivemirror") ? &dd->archive_mirror : &dd->archive_security_mirror;
                        /* empty: none (no archive, or an archive without security and updates suites) */
                        if (isempty(value)) {
                                *field = mfree(*field);
                                return 0;
                        }
                        if (!url_is_valid(value, true))
                                return BAD("not an http://, https:// or file:/// URL.");
                        return set_string(field, value);
                }
                if (streq(key, "archivekeyring")) {
                        if (isempty(value)) {
                                dd->archive_keyring = mfree(dd->archive_keyring);
                                return 0;
                        }
                        if (value[0] != '/')
                                return BAD("not an absolute path.");
                        return set_string(&dd->archive_keyring, value);
                }
                if (streq(key, "archiveafter")) {
                        if (parse_timespan_sec(value, &dd->archive_after_sec) < 0)
                                return BAD("not a time span (0, 30d, 365d, infinity).");
                        return 0;
                }
                if (streq(key, "components")) {
                        _cleanup_strv_free_ char **l = NULL;
                        r = strv_split_words(&l, value);
                        if (r < 0)
                                return r;
                        STRV_FOREACH(w, l) {
                                _cleanup_free_ char *name = strndup(*w, strcspn(*w, ">"));
                                const char *q = strstr(*w, ">=");
                                if (!name)
                                        return -ENOMEM;
                                if (!component_name_is_valid(name) ||
                                    (strchr(*w, '>') && (!q || !isdigit((unsigned char) q[2]))))
                                        return BAD("'%s' is not a component (NAME or NAME>=VERSION).", *w);
                        }
                        strv_free(dd->components);
                        dd->components = TAKE_PTR(l);
                        return 0;
                }
                if (streq(key, "keyring")) {
                        if (value[0] != '/')
                                return BAD("not an absolute path.");
                        return set_string(&dd->keyring, value);
                }
                if (streq(key, "package")) {
                        if (!package_name_is_valid(value))
                                return BAD("not a package name.");
                        return set_string(&dd->keyring_package, value);
                }
        }
#undef BAD

        diag_warning(d, path, find_key_line(path, section, key), "Unknown key '%s' in section [%s], ignoring.", key,
                     section);
        return 0;
}

static int load_one(GlobalConfig *c, const char *path, Diagnostics *d) {
        _cleanup_(iniparser_freedictp) dictionary *dict = NULL;
        int ret = 0;

        iniparser_last_error[0] = 0;
        iniparser_set_error_callback(iniparser_error_cb);
        dict = iniparser_load(path);
        iniparser_set_error_callback(NULL);
        if (!dict)
                return diag_error(d, path, 0, EBADMSG, "Cannot parse: %s",
                                  iniparser_last_error[0] ? iniparser_last_error : "unreadable");

        for (int s = 0; s < iniparser_getnsec(dict); s++) {
                const char *section = iniparser_getsecname(dict, s);
                int n = iniparser_getsecnkeys(dict, section);
                _cleanup_free_ const char **keys = NULL;

                if (n <= 0)
                        continue;
                keys = calloc(n, sizeof(char *));
                if (!keys)
                        return -ENOMEM;
                if (!iniparser_getseckeys(dict, section, keys))
                        continue;
                for (int k = 0; k < n; k++) {
                        /* "section:key" */
                        const char *key = keys[k] + strlen(section) + 1;
                        const char *value = iniparser_getstring(dict, keys[k], "");
                        int r = apply_key(c, path, section, key, value, d);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                ret = -EBADMSG;
                }
        }
        return ret;
}

int global_config_load(char **files, GlobalConfig **ret, Diagnostics *d) {
        _cleanup_(global_config_freep) GlobalConfig *c = NULL;
        int r, ret_r = 0;

        c = calloc(1, sizeof(GlobalConfig));
        if (!c)
                return -ENOMEM;
        /* Built-in fallbacks for what no file set; distributions come only from files. */
        c->bootstrapper = BOOTSTRAPPER_AUTO;
        c->max_age_sec = 7 * 86400;
        c->prune_unused_after_sec = 30 * 86400;
        if (set_string(&c->proxy, "auto") < 0 || set_string(&c->cache_dir, "/var/cache/machinespawn") < 0)
                return -ENOMEM;

        STRV_FOREACH(f, files) {
                r = load_one(c, *f, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret_r = r;
        }
        if (ret_r < 0)
                return ret_r;

        *ret = TAKE_PTR(c);
        return 0;
}

const DistroDefaults *global_config_distro(const GlobalConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_distros; i++)
                if (streq(c->distros[i].name, name))
                        return c->distros + i;
        return NULL;
}

int distro_defaults_components(const DistroDefaults *dd, const DistroRelease *rel, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        STRV_FOREACH(w, dd->components) {
                const char *q = strstr(*w, ">=");
                if (q) {
                        unsigned major = 0, minor = 0;
                        (void) sscanf(q + 2, "%u.%u", &major, &minor);
                        if (distro_release_compare_version(rel, major, minor) < 0)
                                continue;
                }
                char *name = strndup(*w, q ? (size_t) (q - *w) : strlen(*w));
                if (!name)
                        return -ENOMEM;
                r = strv_push(&l, name);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}
