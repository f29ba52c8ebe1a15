/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

#include "chase.h"
#include "export-names.h"
#include "export.h"
#include "fileio.h"
#include "strv.h"
#include "tree.h"
#include "unit-file.h"

/* Caps for what is read from the machine: a desktop entry, an icon, the icon sizes looked at. */
#define DESKTOP_ENTRY_MAX (64U * 1024U)
#define ICON_MAX (4U * 1024U * 1024U)
#define ICON_SIZES_MAX 64U
/* ... and for the list of what was put into the home, which is ours but lives on disk */
#define EXPORTED_LIST_MAX (256U * 1024U)

#define MARKER "# machinespawn-export machine="

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- desktop entries ---- */

static bool key_is_kept(const char *key) {
        static const char *const plain[] = {
                "Type", "Version", "NoDisplay", "Hidden", "OnlyShowIn", "NotShowIn", "Exec", "Path",
                "Terminal", "Actions", "MimeType", "Categories", "Implements", "StartupNotify",
                "StartupWMClass", "PrefersNonDefaultGPU", "SingleMainWindow", NULL,
        };
        /* these may carry a [locale] */
        static const char *const localized[] = { "Name", "GenericName", "Comment", "Keywords", "Icon", NULL };

        for (const char *const *k = plain; *k; k++)
                if (streq(key, *k))
                        return true;
        for (const char *const *k = localized; *k; k++) {
                const char *rest = startswith(key, *k);
                if (rest && (!*rest || (rest[0] == '[' && endswith(rest, "]"))))
                        return true;
        }
        return false;
}

static bool key_is_valid(const char *key, size_t n) {
        size_t i = 0;

        for (; i < n && ((key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= 'a' && key[i] <= 'z') ||
                         (key[i] >= '0' && key[i] <= '9') || key[i] == '-');
             i++)
                ;
        if (i == 0)
                return false;
        if (i == n)
                return true;
        /* a locale: [lang_COUNTRY.ENCODING@MODIFIER] */
        if (key[i] != '[' || key[n - 1] != ']' || n - i < 3)
                return false;
        for (size_t k = i + 1; k < n - 1; k++)
                if (!((key[k] >= 'A' && key[k] <= 'Z') || (key[k] >= 'a' && key[k] <= 'z') ||
                      (key[k] >= '0' && key[k] <= '9') || strchr("_.@-", key[k])))
                        return false;
        return true;
}

static bool icon_name_is_valid(const char *s) {
        return desktop_id_is_valid(s) && !strchr(s, '+');
}

static bool icon_path_is_valid(const char *s) {
        return export_bin_path_is_valid(s) &&
               (endswith(s, ".png") || endswith(s, ".svg") || endswith(s, ".svgz") || endswith(s, ".xpm"));
}

int desktop_entry_rewrite(const char *text, size_t size, const char *launcher, const char *machine,
                          const char *icon_dir, char **ret, char **ret_icon) {
        _cleanup_free_ char *out = NULL, *icon = NULL;
        size_t out_size = 0;
        _cleanup_fclose_ FILE *f = NULL;
        bool in_kept = false, seen_group = false, is_main = false;

        if (memchr(text, 0, size) || !utf8_is_valid_n(text, size))
                return -EBADMSG;
        for (size_t i = 0; i < size; i++)
                if (((unsigned char) text[i] < 0x20 && text[i] != '\n' && text[i] != '\t') || text[i] == 0x7f)
                        return -EBADMSG;

        f = open_memstream(&out, &out_size);
        if (!f)
                return -ENOMEM;

        for (const char *p = text; p < text + size;) {
                const char *eol = memchr(p, '\n', text + size - p) ?: text + size;
                size_t n = eol - p;
                const char *line = p;

                p = eol + (eol < text + size);
                if (n == 0 || line[0] == '#')
                        continue; /* comments are the machine's: not carried over */

                if (line[0] == '[') {
                        if (line[n - 1] != ']' || n < 3 || memchr(line + 1, '[', n - 2) || memchr(line + 1, ']', n - 2))
                                return -EBADMSG;
                        _cleanup_free_ char *g = strndup(line + 1, n - 2);
                        if (!g)
                                return -ENOMEM;
                        if (!seen_group && !streq(g, "Desktop Entry"))
                                return -EBADMSG;
                        seen_group = true;
                        is_main = streq(g, "Desktop Entry");
                        /* other groups (a vendor's X-...) are for launchers we do not know: dropped */
                        in_kept = is_main || startswith(g, "Desktop Action ");
                        if (in_kept) {
                                fprintf(f, "%s[%s]\n", is_main ? "" : "\n", g);
                                if (is_main)
                                        fprintf(f, "X-Machinespawn-Machine=%s\n", machine);
                        }
                        continue;
                }

                const char *eq = memchr(line, '=', n);
                if (!eq || !seen_group)
                        return -EBADMSG;
                size_t kn = eq - line;
                while (kn > 0 && (line[kn - 1] == ' ' || line[kn - 1] == '\t'))
                        kn--;
                if (!key_is_valid(line, kn))
                        return -EBADMSG;
                _cleanup_free_ char *key = strndup(line, kn);
                const char *v = eq + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                        v++;
                _cleanup_free_ char *value = strndup(v, eol - v);
                if (!key || !value)
                        return -ENOMEM;

                if (is_main && streq(key, "Type") && !streq(value, "Application"))
                        return -EBADMSG;
                if (!in_kept || !key_is_kept(key))
                        continue;

                if (streq(key, "Exec")) {
                        fprintf(f, "Exec=%s enter %s -- %s\n", launcher, machine, value);
                        continue;
                }
                if (startswith(key, "Icon")) {
                        bool path = value[0] == '/';
                        if (path ? !icon_path_is_valid(value) : !icon_name_is_valid(value))
                                continue; /* no icon rather than one we cannot place */
                        if (is_main && streq(key, "Icon")) {
                                free(icon);
                                icon = strdup(value);
                                if (!icon)
                                        return -ENOMEM;
                        }
                        if (path) {
                                fprintf(f, "%s=%s/%s\n", key, icon_dir, strrchr(value, '/') + 1);
                                continue;
                        }
                }
                fprintf(f, "%s=%s\n", key, value);
        }
        if (!seen_group)
                return -EBADMSG;
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        f = (fclose(f), NULL);
        if (!out)
                return -ENOMEM; /* the stream's last allocation, in fclose(), failed */
        *ret = TAKE_PTR(out);
        if (ret_icon)
                *ret_icon = TAKE_PTR(icon);
        return 0;
}

/* ---- wrappers ---- */

char *shell_quote(const char *s) {
        size_t n = 2;
        char *q, *t;

        for (const char *p = s; *p; p++)
                n += *p == '\'' ? 4 : 1;
        q = t = malloc(n + 1);
        if (!q)
                return NULL;
        *t++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(t, "'\\''", 4);
                        t += 4;
                } else
                        *t++ = *p;
        }
        *t++ = '\'';
        *t = 0;
        return q;
}

int export_wrapper_text(const char *launcher, const char *machine, const char *path, char **ret) {
        _cleanup_free_ char *ql = shell_quote(launcher), *qm = shell_quote(machine), *qp = shell_quote(path);

        if (!ql || !qm || !qp)
                return -ENOMEM;
        if (asprintf(ret,
                     "#!/bin/sh\n"
                     MARKER "%s\n"
                     "# Runs %s in machine %s; written at each start from [User] ExportBins=.\n"
                     "# The home is the machine's too: there, where there is no machinespawn, the program itself.\n"
                     "[ -x %s ] || exec %s \"$@\"\n"
                     "exec %s enter %s -- %s \"$@\"\n",
                     machine, path, machine, ql, qp, ql, qm, qp) < 0)
                return -ENOMEM;
        return 0;
}

bool export_file_is_ours(const char *text, const char *machine) {
        size_t n = strlen(machine);

        /* a line "MARKER MACHINE", found without allocating: "not ours" never stands for "out of memory",
         * which would drop the export and then remove the file */
        for (const char *l = text; l;) {
                const char *m = startswith(l, MARKER);
                if (m && strncmp(m, machine, n) == 0 && m[n] == '\n')
                        return true;
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

static int environment_text(const char *machine, const char *share, char **ret) {
        /* appended: an app the host has under the same ID stays the host's */
        return asprintf(ret,
                        MARKER "%s\n"
                        "# The desktop entries of machine %s; written at each start from [User] ExportApps=.\n"
                        "XDG_DATA_DIRS=${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:%s\n",
                        machine, machine, share) < 0 ? -ENOMEM : 0;
}

/* ---- the home: the user's own, so resolved inside it, and ours only where marked ---- */

/* Makes the directories of rel inside the home that are missing, owned by the user. */
static int home_mkdir(int home_fd, const char *rel, const ExportUser *u) {
        _cleanup_free_ char *p = strdup(rel);
        int r;

        if (!p)
                return -ENOMEM;
        for (char *s = p;; s++) {
                bool end = *s == 0;
                if (*s != '/' && !end)
                        continue;
                *s = 0;
                struct stat st;
                r = chase_stat(home_fd, p, &st);
                if (r == -ENOENT) {
                        _cleanup_close_ int fd = chase_open_dir(home_fd, p, CHASE_MKDIR_P);
                        if (fd < 0)
                                return fd;
                        r = chase_chown(home_fd, p, u->uid, u->gid);
                }
                if (r < 0)
                        return r;
                if (end)
                        return 0;
                *s = '/';
        }
}

/* Writes rel in the home unless a file that is not ours is there. 0 written, 1 left alone. */
static int home_write(int home_fd, const char *rel, const char *content, mode_t mode, const char *machine,
                      const ExportUser *u) {
        _cleanup_free_ char *old = NULL, *dir = strdup(rel);
        int r;

        if (!dir)
                return -ENOMEM;
        r = chase_read_file(home_fd, rel, EXPORTED_LIST_MAX, &old, NULL, NULL);
        if (r >= 0 && !export_file_is_ours(old, machine))
                return 1;
        if (r < 0 && r != -ENOENT)
                return r == -ELOOP || r == -EBADFD || r == -EFBIG || r == -EMLINK ? 1 : r;
        *strrchr(dir, '/') = 0;
        r = home_mkdir(home_fd, dir, u);
        if (r < 0)
                return r;
        return chase_write_file(home_fd, rel, content, strlen(content), mode, u->uid, u->gid, 0);
}

static int home_remove(int home_fd, const char *rel, const char *machine) {
        _cleanup_free_ char *old = NULL;
        int r;

        r = chase_read_file(home_fd, rel, EXPORTED_LIST_MAX, &old, NULL, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return r == -ENOENT ? 0 : 1; /* gone, or not something we wrote */
        if (!export_file_is_ours(old, machine))
                return 1;
        r = chase_unlink(home_fd, rel, 0);
        return r == -ENOENT ? 0 : r;
}

/* ---- the list of what is in the home ---- */

typedef struct Exported {
        char *home;
        char **files; /* relative to home */
} Exported;

static void exported_done(Exported *e) {
        free(e->home);
        strv_free(e->files);
        *e = (Exported) {};
}

static char *export_dir(const char *state_dir, const char *name) {
        return strjoin(state_dir, "/export/", name);
}

/* A temporary of machine name in export/: ".#NAME." and the six characters of mkdtemp(). The six make it
 * name's alone: "desk.old" may be a machine too, but its temporaries are longer than desk's. */
static bool is_temporary_of(const char *filename, const char *name) {
        const char *s = startswith(filename, ".#");

        s = s ? startswith(s, name) : NULL;
        s = s ? startswith(s, ".") : NULL;
        return s && strlen(s) == 6;
}

/* What an earlier sync of name left: a new tree it was killed building, or the old tree it could not
 * remove. Syncs of one machine never overlap (they run as it starts), so all of them are stale; retried
 * at each sync rather than only on the failure path, where whatever stopped the removal still holds. */
static int remove_temporaries(const char *state_dir, const char *name) {
        _cleanup_free_ char *p = strjoin(state_dir, "/export");
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!p)
                return -ENOMEM;
        d = opendir(p);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                if (!is_temporary_of(de->d_name, name))
                        continue;
                _cleanup_free_ char *t = strjoin(p, "/", de->d_name);
                int k = t ? tree_remove(t, NULL) : -ENOMEM;
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        closedir(d);
        return r;
}

static int exported_read(const char *dir, Exported *ret) {
        _cleanup_free_ char *p = strjoin(dir, "/exported"), *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_close_ int fd = -EBADF;
        Exported e = {};
        int r;

        if (!p)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = read_fd_bounded(fd, EXPORTED_LIST_MAX, &text, NULL);
        if (r < 0)
                return r;
        r = strv_split(&lines, text, "\n");
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                const char *v;
                if ((v = startswith(*l, "home ")) && !e.home)
                        e.home = strdup(v);
                else if ((v = startswith(*l, "file ")) && !strstr(v, "..") && v[0] != '/')
                        r = strv_extend(&e.files, v);
                if ((startswith(*l, "home ") && !e.home) || r < 0) {
                        exported_done(&e);
                        return -ENOMEM;
                }
        }
        *ret = e;
        return 0;
}

/* ---- icons ---- */

/* Copies the machine's icons called icon (a name) into share/icons: the hicolor theme's apps icons of every
 * size, and an unthemed one from /usr/share/pixmaps. */
static int copy_icons(int root_fd, const char *icon, int share_fd) {
        static const char *const exts[] = { ".png", ".svg", ".svgz", ".xpm", NULL };
        _cleanup_close_ int themes = -EBADF;
        DIR *d;
        struct dirent *de;
        unsigned n_sizes = 0;
        int r;

        themes = chase_open_dir(root_fd, "usr/share/icons/hicolor", 0);
        if (themes >= 0 && (d = fdopendir(TAKE_FD(themes)))) {
                while ((de = readdir(d)) && n_sizes < ICON_SIZES_MAX) {
                        if (de->d_name[0] == '.' || !desktop_id_is_valid(de->d_name))
                                continue;
                        n_sizes++;
                        for (const char *const *x = exts; *x; x++) {
                                _cleanup_free_ char *src = strjoin("usr/share/icons/hicolor/", de->d_name, "/apps/",
                                                                   icon, *x);
                                _cleanup_free_ char *dst = strjoin("icons/hicolor/", de->d_name, "/apps/", icon, *x);
                                _cleanup_free_ char *data = NULL;
                                size_t size;
                                if (!src || !dst) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                r = chase_read_file(root_fd, src, ICON_MAX, &data, &size, NULL);
                                if (r == -ENOMEM) {
                                        closedir(d);
                                        return r;
                                }
                                if (r < 0)
                                        continue; /* missing, or refused: no icon of that size */
                                r = mkdir_parents_at(share_fd, dst, 0755);
                                if (r >= 0)
                                        r = write_file_atomic_at(share_fd, dst, data, size, 0644, 0);
                                if (r < 0) {
                                        closedir(d);
                                        return r;
                                }
                        }
                }
                closedir(d);
        }
        for (const char *const *x = exts; *x; x++) {
                _cleanup_free_ char *src = strjoin("usr/share/pixmaps/", icon, *x);
                _cleanup_free_ char *dst = strjoin("icons/", icon, *x);
                _cleanup_free_ char *data = NULL;
                size_t size;
                if (!src || !dst)
                        return -ENOMEM;
                r = chase_read_file(root_fd, src, ICON_MAX, &data, &size, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                r = mkdir_parents_at(share_fd, dst, 0755);
                if (r >= 0)
                        r = write_file_atomic_at(share_fd, dst, data, size, 0644, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int copy_icon_path(int root_fd, const char *path, int share_fd) {
        _cleanup_free_ char *data = NULL, *dst = strjoin("pixmaps/", strrchr(path, '/') + 1);
        size_t size;
        int r;

        if (!dst)
                return -ENOMEM;
        r = chase_read_file(root_fd, path, ICON_MAX, &data, &size, NULL);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        r = mkdir_parents_at(share_fd, dst, 0755);
        return r < 0 ? r : write_file_atomic_at(share_fd, dst, data, size, 0644, 0);
}

/* The new share/ tree, built beside the old one (in tmp). */
static int build_apps(const ExportPaths *p, const char *name, int root_fd, const char *final_share, char **apps,
                      const char *tmp, Diagnostics *d) {
        _cleanup_close_ int share_fd = -EBADF;
        _cleanup_free_ char *share = strjoin(tmp, "/share"), *icon_dir = strjoin(final_share, "/pixmaps");
        int r;

        if (!share || !icon_dir)
                return -ENOMEM;
        r = mkdir_p(share, 0755);
        if (r < 0)
                return r;
        share_fd = open(share, O_DIRECTORY | O_CLOEXEC | O_RDONLY);
        if (share_fd < 0)
                return -errno;
        r = mkdir_p_at(share_fd, "applications", 0755);
        if (r < 0)
                return r;

        STRV_FOREACH(a, apps) {
                _cleanup_free_ char *src = strjoin("usr/share/applications/", *a, ".desktop");
                _cleanup_free_ char *dst = strjoin("applications/", *a, ".desktop");
                _cleanup_free_ char *text = NULL, *out = NULL, *icon = NULL;
                size_t size;

                if (!src || !dst)
                        return -ENOMEM;
                r = root_fd < 0 ? -ENOENT : chase_read_file(root_fd, src, DESKTOP_ENTRY_MAX, &text, &size, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        diag_warning(d, NULL, 0, "ExportApps=%s: machine %s has no /%s (%s), not exported.", *a,
                                     name, src, r == -ENOENT ? "not installed yet?" : chase_strerror(r));
                        continue;
                }
                r = desktop_entry_rewrite(text, size, p->launcher, name, icon_dir, &out, &icon);
                if (r == -EBADMSG) {
                        diag_warning(d, NULL, 0, "ExportApps=%s: /%s in machine %s is not a desktop entry of an "
                                     "application, not exported.", *a, src, name);
                        continue;
                }
                if (r < 0)
                        return r;
                r = write_file_atomic_at(share_fd, dst, out, strlen(out), 0644, 0);
                if (r < 0)
                        return r;
                if (icon)
                        r = icon[0] == '/' ? copy_icon_path(root_fd, icon, share_fd) : copy_icons(root_fd, icon, share_fd);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_exported(const char *tmp, const Exported *e) {
        _cleanup_free_ char *text = NULL, *files = strv_join(e->files, "\nfile ");
        int r;

        if (!files)
                return -ENOMEM;
        r = asprintf(&text, "# What machinespawn-prepare put into the user's home; removed with the machine.\n"
                     "home %s\n%s%s%s", strempty(e->home), e->files ? "file " : "", files, e->files ? "\n" : "");
        if (r < 0)
                return -ENOMEM;
        _cleanup_free_ char *path = strjoin(tmp, "/exported");
        return path ? write_file_atomic(path, text, strlen(text), 0644, 0) : -ENOMEM;
}

static int home_open(const char *home) {
        return chase_root_open(home);
}

/* Wrappers in ~/.local/bin and the environment.d file, listed in now for the next sync to remove. */
static int export_home(const ExportPaths *p, const char *name, int home_fd, const ExportUser *user, char **apps,
                       char **bins, const char *share, Exported *now, Diagnostics *d) {
        int r;

        STRV_FOREACH(b, bins) {
                _cleanup_free_ char *text = NULL, *rel = strjoin(".local/bin/", strrchr(*b, '/') + 1);
                if (!rel || (r = export_wrapper_text(p->launcher, name, *b, &text)) < 0) {
                        return -ENOMEM;
                }
                r = home_write(home_fd, rel, text, 0755, name, user);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        diag_warning(d, NULL, 0, "ExportBins=%s: cannot write ~%s/%s: %s", *b, user->name,
                                     rel, chase_strerror(r));
                else if (r > 0)
                        diag_warning(d, NULL, 0, "ExportBins=%s: ~%s/%s exists and is not machinespawn's, "
                                     "leaving it alone.", *b, user->name, rel);
                else if ((r = strv_extend(&now->files, rel)) < 0)
                        return r;
        }
        if (apps) {
                _cleanup_free_ char *text = NULL, *rel = strjoin(".config/environment.d/60-machinespawn-",
                                                                name, ".conf");
                if (!rel || (r = environment_text(name, share, &text)) < 0) {
                        return -ENOMEM;
                }
                r = home_write(home_fd, rel, text, 0644, name, user);
                if (r == -ENOMEM)
                        return r;
                if (r != 0)
                        diag_warning(d, NULL, 0, "ExportApps=: cannot write ~%s/%s: %s", user->name, rel,
                                     r > 0 ? "a file that is not machinespawn's is there" : chase_strerror(r));
                else if ((r = strv_extend(&now->files, rel)) < 0)
                        return r;
        }
        return 0;
}

int export_sync(const ExportPaths *p, const char *name, int root_fd, const ExportUser *user, char **apps,
                char **bins, Diagnostics *d) {
        _cleanup_free_ char *dir = export_dir(p->state_dir, name), *tmp = NULL, *share = NULL;
        _cleanup_(exported_done) Exported old = {}, now = {};
        _cleanup_close_ int home_fd = -EBADF, old_home_fd = -EBADF;
        struct stat st;
        int r;

        if (!dir)
                return -ENOMEM;
        if (!user)
                apps = bins = NULL;
        r = exported_read(dir, &old);
        if (r < 0)
                return r;
        /* one that cannot go now is tried again at the next sync: no reason to leave the export stale */
        (void) remove_temporaries(p->state_dir, name);
        if (!apps && !bins && lstat(dir, &st) < 0 && errno == ENOENT)
                return 0; /* nothing now, nothing before */

        share = strjoin(dir, "/share");
        tmp = strjoin(p->state_dir, "/export/.#", name, ".XXXXXX");
        if (!share || !tmp)
                return -ENOMEM;
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        if (!mkdtemp(tmp))
                return -errno;
        (void) chmod(tmp, 0755);

        if (user) {
                now.home = strdup(user->home);
                if (!now.home)
                        return -ENOMEM;
                home_fd = home_open(user->home);
                if (home_fd < 0)
                        diag_warning(d, NULL, 0, "Cannot open %s's home %s (%s): nothing exported into it.",
                                     user->name, user->home, chase_strerror(home_fd));
        }

        r = build_apps(p, name, root_fd, share, apps, tmp, d);
        if (r < 0)
                goto fail;

        /* the home: wrappers and the environment.d file */
        if (home_fd >= 0) {
                r = export_home(p, name, home_fd, user, apps, bins, share, &now, d);
                if (r < 0)
                        goto fail;
        }

        /* what was exported before and is not now */
        if (old.home) {
                if (home_fd >= 0 && streq_ptr(old.home, now.home))
                        old_home_fd = fcntl(home_fd, F_DUPFD_CLOEXEC, 3);
                else
                        old_home_fd = home_open(old.home);
                STRV_FOREACH(f, old.files)
                        /* one left behind stays listed: the next sync tries again */
                        if (old_home_fd >= 0 && !(streq_ptr(old.home, now.home) && strv_contains(now.files, *f)) &&
                            (r = home_remove(old_home_fd, *f, name)) == -ENOMEM)
                                goto fail;
        }

        if (!apps && !bins) {
                /* nothing left: the directory goes */
                r = tree_remove(tmp, NULL);
                if (r >= 0)
                        r = tree_remove(dir, NULL);
                return r;
        }
        r = write_exported(tmp, &now);
        if (r < 0)
                goto fail;
        /* the new tree in, the old one out, in one step: the directory is never missing or half written, and
         * the old tree takes the temporary's name, which the next sync removes if it cannot go now */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) < 0) {
                r = -errno;
                goto fail;
        }
        (void) tree_remove(tmp, NULL);
        return 0;
fail:
        (void) tree_remove(tmp, NULL);
        return r;
}

int export_remove(const char *state_dir, const char *name, Diagnostics *d) {
        _cleanup_free_ char *dir = export_dir(state_dir, name);
        _cleanup_(exported_done) Exported old = {};
        _cleanup_close_ int home_fd = -EBADF;
        int r;

        if (!dir)
                return -ENOMEM;
        r = exported_read(dir, &old);
        if (r < 0)
                return r;
        if (old.home) {
                home_fd = home_open(old.home);
                STRV_FOREACH(f, old.files) {
                        r = home_fd < 0 ? home_fd : home_remove(home_fd, *f, name);
                        if (r < 0)
                                diag_warning(d, NULL, 0, "Cannot remove %s/%s: %s", old.home, *f, chase_strerror(r));
                }
        }
        r = tree_remove(dir, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        return remove_temporaries(state_dir, name);
}
