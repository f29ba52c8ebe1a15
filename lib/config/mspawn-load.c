/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <sys/stat.h>

#include "fileio.h"
#include "mspawn-load.h"
#include "strv.h"
#include "valid.h"

static const char *const default_search_path[] = {
        "/etc/machinespawn",
        "/run/machinespawn",
        "/usr/local/lib/machinespawn",
        "/usr/lib/machinespawn",
};

int mspawn_search_path(const Paths *paths, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        if (paths->config_path)
                return strv_split(ret, paths->config_path, ":");

        for (size_t i = 0; i < ELEMENTSOF(default_search_path); i++) {
                r = strv_extend(&l, default_search_path[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void mspawn_index_done(MspawnIndex *idx) {
        for (size_t i = 0; idx->entries && i < idx->n_dirs; i++)
                strv_free(idx->entries[i]);
        free(idx->entries);
        free(idx->n_entries);
        for (size_t i = 0; idx->dir_fds && i < idx->n_dirs; i++)
                closep(&idx->dir_fds[i]);
        free(idx->dir_fds);
        strv_free(idx->dirs);
        *idx = (MspawnIndex) {};
}

/* One readdir() per directory, so that later lookups cost no system calls: with a thousand machines,
 * probing each directory for each machine's file and drop-in directory is most of the generator's time. */
int mspawn_index_build(char **search_path, MspawnIndex *ret) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        int r;

        idx.dirs = strv_copy(search_path);
        idx.n_dirs = strv_length(search_path);
        idx.entries = calloc(idx.n_dirs + 1, sizeof(char **));
        idx.n_entries = calloc(idx.n_dirs + 1, sizeof(size_t));
        idx.dir_fds = malloc(sizeof(int) * (idx.n_dirs + 1));
        /* before anything can fail: mspawn_index_done() closes them */
        for (size_t i = 0; idx.dir_fds && i < idx.n_dirs; i++)
                idx.dir_fds[i] = -EBADF;
        if (!idx.dirs || !idx.entries || !idx.n_entries || !idx.dir_fds)
                return -ENOMEM;

        for (size_t i = 0; i < idx.n_dirs; i++) {
                DIR *d = NULL;
                struct dirent *de;

                /* kept open: files are read relative to it, which saves resolving the path each time */
                idx.dir_fds[i] = open(idx.dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (idx.dir_fds[i] >= 0) {
                        /* a directory that is there but cannot be listed is an error, not an empty one */
                        int fd = dup(idx.dir_fds[i]);
                        if (fd < 0)
                                return -errno;
                        d = fdopendir(fd);
                        if (!d) {
                                r = -errno;
                                close(fd);
                                return r;
                        }
                }

                idx.entries[i] = calloc(1, sizeof(char *));
                if (!idx.entries[i]) {
                        if (d)
                                closedir(d);
                        return -ENOMEM;
                }
                if (!d)
                        continue; /* a missing directory is an empty one */
                size_t *n = idx.n_entries + i, allocated = 1;
                while ((de = readdir(d))) {
                        if (!endswith(de->d_name, ".mspawn") && !endswith(de->d_name, ".mspawn.d"))
                                continue;
                        char *e = strdup(de->d_name);
                        r = e ? strv_push_greedy(&idx.entries[i], n, &allocated, e) : -ENOMEM;
                        if (r < 0) {
                                closedir(d);
                                return r;
                        }
                }
                closedir(d);
                strv_sort(idx.entries[i]);
        }

        *ret = idx;
        idx = (MspawnIndex) {};
        return 0;
}

static int str_cmp_ptr(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static bool index_has(const MspawnIndex *idx, size_t dir, const char *entry) {
        size_t n = idx->n_entries[dir];
        return n > 0 && bsearch(&entry, idx->entries[dir], n, sizeof(char *), str_cmp_ptr);
}

int mspawn_enumerate(const MspawnIndex *idx, char ***ret_names) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        size_t n = 0, allocated = 1;

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;

        for (size_t i = 0; i < idx->n_dirs; i++)
                STRV_FOREACH(e, idx->entries[i]) {
                        const char *suffix = endswith(*e, ".mspawn");
                        if (!suffix)
                                continue;
                        char *name = strndup(*e, suffix - *e);
                        if (!name)
                                return -ENOMEM;
                        r = strv_push_greedy(&names, &n, &allocated, name);
                        if (r < 0)
                                return r;
                }

        strv_sort(names);
        strv_uniq_sorted(names);
        *ret_names = TAKE_PTR(names);
        return 0;
}

/* Masked: an empty file, or a symlink to /dev/null (which reads as empty too). */
static int path_is_masked(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        return S_ISCHR(st.st_mode) || (S_ISREG(st.st_mode) && st.st_size == 0);
}

/* Drop-in names end up in generated comments and messages: keep them to characters that need no
 * escaping anywhere. */
static bool dropin_name_is_safe(const char *s) {
        for (; *s; s++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.@+:", *s))
                        return false;
        return true;
}

static int collect_dropins(const MspawnIndex *idx, const char *name, char ***ret, Diagnostics *diag) {
        _cleanup_strv_free_ char **bases = NULL, **paths = NULL;
        _cleanup_free_ char *dname = NULL;
        size_t n_bases = 0, a_bases = 1, n_paths = 0, a_paths = 1;
        int r, ret_r = 0;

        bases = calloc(1, sizeof(char *));
        paths = calloc(1, sizeof(char *));
        dname = strjoin(name, ".mspawn.d");
        if (!bases || !paths || !dname)
                return -ENOMEM;

        for (size_t i = 0; i < idx->n_dirs; i++) {
                _cleanup_free_ char *dropin_dir = NULL;
                struct dirent *de;
                DIR *d;

                if (!index_has(idx, i, dname))
                        continue;
                dropin_dir = strjoin(idx->dirs[i], "/", dname);
                if (!dropin_dir)
                        return -ENOMEM;
                d = opendir(dropin_dir);
                if (!d) {
                        /* gone, or not a directory: no drop-ins there; anything else loses some */
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return -errno;
                }
                while ((de = readdir(d))) {
                        if (!endswith(de->d_name, ".conf") || de->d_name[0] == '.' || de->d_type == DT_DIR)
                                continue;
                        if (!dropin_name_is_safe(de->d_name)) {
                                _cleanup_free_ char *e = unit_escape_comment(de->d_name);
                                ret_r = diag_error(diag, dropin_dir, 0, EINVAL,
                                                   "Drop-in name \"%s\" has characters other than letters, digits "
                                                   "and \"-_.@+:\"; refusing the machine.", strempty(e));
                                continue;
                        }
                        char *b = strdup(de->d_name);
                        r = b ? strv_push_greedy(&bases, &n_bases, &a_bases, b) : -ENOMEM;
                        if (r < 0) {
                                closedir(d);
                                return r;
                        }
                }
                closedir(d);
        }
        if (ret_r < 0)
                return ret_r;

        /* the same name in several directories: the earliest directory's file is found below */
        strv_sort(bases);
        strv_uniq_sorted(bases);
        STRV_FOREACH(b, bases)
                for (size_t i = 0; i < idx->n_dirs; i++) {
                        _cleanup_free_ char *p = NULL;

                        if (!index_has(idx, i, dname))
                                continue;
                        p = strjoin(idx->dirs[i], "/", dname, "/", *b);
                        if (!p)
                                return -ENOMEM;
                        if (access(p, F_OK) < 0)
                                continue;
                        /* a masked drop-in (empty, /dev/null) hides the same name further down, adds nothing */
                        if (path_is_masked(p) <= 0) {
                                r = strv_push_greedy(&paths, &n_paths, &a_paths, TAKE_PTR(p));
                                if (r < 0)
                                        return r;
                        }
                        break;
                }

        *ret = TAKE_PTR(paths);
        return 0;
}

/* Returns the index of the directory that has NAME.mspawn. */
static int find_main(const MspawnIndex *idx, const char *name, char **ret) {
        _cleanup_free_ char *file = NULL;

        file = strjoin(name, ".mspawn");
        if (!file)
                return -ENOMEM;
        for (size_t i = 0; i < idx->n_dirs; i++)
                if (index_has(idx, i, file)) {
                        *ret = strjoin(idx->dirs[i], "/", file);
                        if (!*ret)
                                return -ENOMEM;
                        return (int) i;
                }
        return -ENOENT;
}

int mspawn_find(const MspawnIndex *idx, const char *name, char **ret_main, char ***ret_dropins) {
        _cleanup_free_ char *main_path = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        int r, masked;

        r = find_main(idx, name, &main_path);
        if (r < 0)
                return r;
        masked = path_is_masked(main_path);
        if (masked < 0)
                return masked;
        if (!masked) {
                r = collect_dropins(idx, name, &dropins, NULL);
                if (r < 0)
                        return r;
        }

        *ret_main = TAKE_PTR(main_path);
        if (ret_dropins)
                *ret_dropins = TAKE_PTR(dropins);
        return masked;
}

int mspawn_load(const MspawnIndex *idx, const char *name, time_t now, const Paths *paths, MachineConfig **ret,
                Diagnostics *d) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_free_ char *main_path = NULL, *text = NULL;
        _cleanup_strv_free_ char **dropins = NULL;
        size_t size = 0;
        int r;

        r = find_main(idx, name, &main_path);
        if (r == -ENOENT)
                return diag_error(d, NULL, 0, r, "No %s.mspawn in any of the configuration directories.", name);
        if (r < 0)
                return r;

        /* Read once: what reads as empty (an empty file, a link to /dev/null) masks the machine. */
        r = unit_file_read_at(idx->dir_fds[r], strrchr(main_path, '/') + 1, &text, &size);
        if (r < 0)
                return unit_file_read_error(d, main_path, r, size);
        if (size == 0) {
                *ret = NULL;
                return 0;
        }

        if (!machine_name_is_valid(name)) {
                /* the name is a file name: anything but '/' and NUL, newlines too; never echo it raw */
                _cleanup_free_ char *e = unit_escape_comment(name), *p = unit_escape_comment(main_path);
                if (!e || !p)
                        return -ENOMEM;
                return diag_error(d, p, 0, EINVAL,
                                  "'%s' is not a valid machine name (1-64 letters, digits, '-', '_', '.'; not "
                                  "starting with '.' or '-', no '..').", e);
        }

        r = collect_dropins(idx, name, &dropins, d);
        if (r < 0)
                return r;

        r = unit_file_parse_buffer(&u, main_path, text, size, d);
        if (r == -ENOMEM)
                return r;
        STRV_FOREACH(p, dropins) {
                int k = unit_file_parse_path(&u, *p, d);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        r = k;
        }
        if (r < 0)
                return r;

        r = machine_config_from_unit(name, main_path, &u, now, paths->distro_info_dir, &c, d);
        if (r < 0)
                return r;

        c->source_path = TAKE_PTR(main_path);
        c->dropin_paths = TAKE_PTR(dropins);
        *ret = TAKE_PTR(c);
        return 0;
}

int mspawn_load_by_name(const char *name, time_t now, const Paths *paths, MachineConfig **ret, Diagnostics *d) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_strv_free_ char **search_path = NULL;
        int r;

        r = mspawn_search_path(paths, &search_path);
        if (r < 0)
                return r;
        r = mspawn_index_build(search_path, &idx);
        if (r < 0)
                return r;
        return mspawn_load(&idx, name, now, paths, ret, d);
}
