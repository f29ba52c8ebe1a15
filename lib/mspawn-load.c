/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <sys/stat.h>

#include "mspawn-load.h"
#include "strv.h"
#include "valid.h"

static const char *const default_search_path[] = {
        "/etc/machinespawn",
        "/run/machinespawn",
        "/usr/local/lib/machinespawn",
        "/usr/lib/machinespawn",
};

int mspawn_search_path(char ***ret) {
        const char *e = getenv("MACHINESPAWN_CONFIG_PATH");
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (e)
                return strv_split(ret, e, ":");

        for (size_t i = 0; i < ELEMENTSOF(default_search_path); i++) {
                r = strv_extend(&l, default_search_path[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static char *path_join(const char *a, const char *b) {
        char *p;
        if (asprintf(&p, "%s/%s", a, b) < 0)
                return NULL;
        return p;
}

int mspawn_enumerate(char **search_path, char ***ret_names) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;

        STRV_FOREACH(dir, search_path) {
                DIR *d = opendir(*dir);
                struct dirent *de;

                if (!d)
                        continue; /* a missing directory is an empty one */
                while ((de = readdir(d))) {
                        const char *suffix = endswith(de->d_name, ".mspawn");
                        char *name;

                        if (!suffix || de->d_type == DT_DIR)
                                continue;
                        name = strndup(de->d_name, suffix - de->d_name);
                        if (!name) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        if (strv_contains(names, name)) {
                                free(name);
                                continue;
                        }
                        r = strv_push(&names, name);
                        if (r < 0) {
                                closedir(d);
                                return r;
                        }
                }
                closedir(d);
        }

        strv_sort(names);
        *ret_names = TAKE_PTR(names);
        return 0;
}

/* Masked: an empty file, or a symlink to /dev/null. */
static int path_is_masked(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (S_ISCHR(st.st_mode)) {
                struct stat null;
                return stat("/dev/null", &null) >= 0 && null.st_rdev == st.st_rdev;
        }
        return S_ISREG(st.st_mode) && st.st_size == 0;
}

static int collect_dropins(char **search_path, const char *name, char ***ret) {
        _cleanup_strv_free_ char **bases = NULL, **paths = NULL;
        int r;

        bases = calloc(1, sizeof(char *));
        paths = calloc(1, sizeof(char *));
        if (!bases || !paths)
                return -ENOMEM;

        STRV_FOREACH(dir, search_path) {
                _cleanup_free_ char *dropin_dir = NULL;
                struct dirent *de;
                DIR *d;

                if (asprintf(&dropin_dir, "%s/%s.mspawn.d", *dir, name) < 0)
                        return -ENOMEM;
                d = opendir(dropin_dir);
                if (!d)
                        continue;
                while ((de = readdir(d))) {
                        if (!endswith(de->d_name, ".conf") || de->d_name[0] == '.' || de->d_type == DT_DIR)
                                continue;
                        if (strv_contains(bases, de->d_name))
                                continue; /* an earlier directory has this drop-in already */
                        r = strv_extend(&bases, de->d_name);
                        if (r < 0) {
                                closedir(d);
                                return r;
                        }
                }
                closedir(d);
        }

        strv_sort(bases);
        STRV_FOREACH(b, bases)
                STRV_FOREACH(dir, search_path) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s/%s.mspawn.d/%s", *dir, name, *b) < 0)
                                return -ENOMEM;
                        if (access(p, F_OK) < 0)
                                continue;
                        /* a masked drop-in (empty, /dev/null) hides the same name further down, adds nothing */
                        if (path_is_masked(p) <= 0) {
                                r = strv_push(&paths, TAKE_PTR(p));
                                if (r < 0)
                                        return r;
                        }
                        break;
                }

        *ret = TAKE_PTR(paths);
        return 0;
}

int mspawn_find(char **search_path, const char *name, char **ret_main, char ***ret_dropins) {
        _cleanup_free_ char *main_path = NULL, *file = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        int r, masked;

        if (asprintf(&file, "%s.mspawn", name) < 0)
                return -ENOMEM;

        STRV_FOREACH(dir, search_path) {
                _cleanup_free_ char *p = path_join(*dir, file);
                if (!p)
                        return -ENOMEM;
                if (access(p, F_OK) >= 0 || errno != ENOENT) {
                        main_path = TAKE_PTR(p);
                        break;
                }
        }
        if (!main_path)
                return -ENOENT;

        masked = path_is_masked(main_path);
        if (masked < 0)
                return masked;
        if (!masked) {
                r = collect_dropins(search_path, name, &dropins);
                if (r < 0)
                        return r;
        }

        *ret_main = TAKE_PTR(main_path);
        if (ret_dropins)
                *ret_dropins = TAKE_PTR(dropins);
        return masked;
}

int mspawn_parse(const char *main_path, char **dropins, UnitFile *u, Diagnostics *d) {
        int r, ret = 0;

        r = unit_file_parse_path(u, main_path, d);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                ret = r;
        STRV_FOREACH(p, dropins) {
                r = unit_file_parse_path(u, *p, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret = r;
        }
        return ret;
}

int mspawn_load(char **search_path, const char *name, time_t now, MachineConfig **ret, Diagnostics *d) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_free_ char *main_path = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        int r;

        r = mspawn_find(search_path, name, &main_path, &dropins);
        if (r == -ENOENT)
                return diag_error(d, NULL, 0, r, "No %s.mspawn in any of the configuration directories.", name);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Failed to look up %s.mspawn: %s", name, strerror(-r));
        if (r > 0) {
                *ret = NULL;
                return 0;
        }

        if (!machine_name_is_valid(name))
                return diag_error(d, main_path, 0, EINVAL,
                                  "'%s' is not a valid machine name (1-64 letters, digits, '-', '_', '.'; not "
                                  "starting with '.' or '-', no '..').", name);

        r = mspawn_parse(main_path, dropins, &u, d);
        if (r < 0)
                return r;
        r = machine_config_from_unit(name, main_path, &u, now, &c, d);
        if (r < 0)
                return r;

        c->source_path = TAKE_PTR(main_path);
        c->dropin_paths = TAKE_PTR(dropins);
        *ret = TAKE_PTR(c);
        return 0;
}
