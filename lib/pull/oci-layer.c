/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <search.h>
#include <string.h>
#include <sys/stat.h>

#include "layer-input.h"
#include "oci-layer.h"
#include "pull.h"
#include "strv.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

typedef struct Layer {
        int root_fd;
        void *seen; /* tsearch() tree of the paths this layer wrote, and their parents */
        char *parent; /* the directory of the last entry, looked up without following links... */
        int parent_fd; /* ...and a descriptor of it: a tar lists a directory's entries together */
        struct archive *copy;
        OciLayerStats *stats;
        Diagnostics *d;
} Layer;

static void layer_forget_parent(Layer *l) {
        l->parent = mfree(l->parent);
        if (l->parent_fd >= 0)
                close(l->parent_fd);
        l->parent_fd = -EBADF;
}

char *oci_layer_path_normalize(const char *path) {
        _cleanup_free_ char *p = NULL;
        size_t n;

        if (!path)
                return NULL;
        while (startswith(path, "./"))
                path += 2 + strspn(path + 2, "/");
        p = strdup(path);
        if (!p)
                return NULL;
        n = strlen(p);
        while (n > 0 && p[n - 1] == '/')
                p[--n] = 0;
        if (!archive_path_is_safe(p))
                return NULL;
        return TAKE_PTR(p);
}

static struct archive *layer_reader(int fd) {
        struct archive *a = archive_read_new();

        if (!a)
                return NULL;
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_none(a);
        archive_read_support_format_tar(a);
        if (layer_input_open(a, fd) < 0) {
                archive_read_free(a);
                return NULL;
        }
        return a;
}

/* The directory at path below root_fd, never following a link on the way (-ELOOP if one is there). */
static int open_dir_nofollow(int root_fd, const char *path) {
        _cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        const char *p = path;

        if (fd < 0)
                return -errno;
        while (*p) {
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *name = strndup(p, n);
                int next;

                if (!name)
                        return -ENOMEM;
                p += n + strspn(p + n, "/");
                if (n == 0 || streq(name, "."))
                        continue;
                next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        if (errno == ENOTDIR) {
                                struct stat st;
                                /* a symlink with O_DIRECTORY|O_NOFOLLOW says ENOTDIR on some kernels */
                                if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
                                        return -ELOOP;
                        }
                        return -errno;
                }
                close(fd);
                fd = next;
        }
        return TAKE_FD(fd);
}

static int remove_entry(int dir_fd, const char *name);

/* Everything in the directory, links removed as links, never followed. */
static int empty_dir(int dir_fd) {
        _cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        DIR *dir;
        struct dirent *de;
        int r = 0;

        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir)
                return -errno;
        fd = -EBADF;
        while ((de = readdir(dir))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = remove_entry(dirfd(dir), de->d_name);
                if (r < 0)
                        break;
        }
        closedir(dir);
        return r;
}

static int remove_entry(int dir_fd, const char *name) {
        struct stat st;
        int r;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                struct stat top;
                if (fd < 0)
                        return -errno;
                /* never into another file system mounted there */
                if (fstat(fd, &top) < 0)
                        return -errno;
                if (top.st_dev != st.st_dev || top.st_ino != st.st_ino)
                        return -EXDEV;
                r = empty_dir(fd);
                if (r < 0)
                        return r;
                return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
        }
        return unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

/* The paths this layer wrote, each with all its parents: an opaque marker or a whiteout hides only what the
 * lower layers left, wherever in the tar it comes. */
static int seen_compare(const void *a, const void *b) {
        return strcmp(a, b);
}

static bool seen_has(const Layer *l, const char *path) {
        return tfind(path, &l->seen, seen_compare) != NULL;
}

static int seen_add(Layer *l, const char *norm) {
        _cleanup_free_ char *p = strdup(norm);

        if (!p)
                return -ENOMEM;
        for (;;) {
                char *copy = strdup(p), *slash;
                void **node = copy ? tsearch(copy, &l->seen, seen_compare) : NULL;

                if (!node) {
                        free(copy);
                        return -ENOMEM;
                }
                if (*node != copy) {
                        free(copy);
                        return 0; /* there already, and so are its parents */
                }
                slash = strrchr(p, '/');
                if (!slash)
                        return 0;
                *slash = 0;
        }
}

/* Removes what the lower layers have in the directory dir_fd (path prefix): entries this layer wrote stay,
 * and directories it wrote into are searched the same way. Links are removed as links, never followed. */
static int hide_lower(Layer *l, int dir_fd, const char *prefix) {
        _cleanup_close_ int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        struct dirent *de;
        DIR *dir;
        int r = 0;

        if (fd < 0)
                return -errno;
        dir = fdopendir(fd);
        if (!dir)
                return -errno;
        fd = -EBADF;
        while ((de = readdir(dir))) {
                _cleanup_free_ char *child = NULL;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = isempty(prefix) ? strdup(de->d_name) : strjoin(prefix, "/", de->d_name);
                if (!child) {
                        r = -ENOMEM;
                        break;
                }
                if (!seen_has(l, child)) {
                        l->stats->replaced++;
                        r = remove_entry(dirfd(dir), de->d_name);
                }
                else {
                        _cleanup_close_ int sub = openat(dirfd(dir), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        struct stat a, b;

                        /* this layer's file or link stays; its directory is searched, on this file system only */
                        if (sub < 0)
                                continue;
                        if (fstat(dirfd(dir), &a) < 0 || fstat(sub, &b) < 0)
                                r = -errno;
                        else if (a.st_dev != b.st_dev)
                                r = -EXDEV;
                        else
                                r = hide_lower(l, sub, child);
                }
                if (r < 0)
                        break;
        }
        closedir(dir);
        return r;
}

/* One whiteout or opaque marker, path as in the tar, applied where it comes in the tar. */
static int apply_whiteout(Layer *l, const char *path) {
        _cleanup_free_ char *norm = oci_layer_path_normalize(path), *dir = NULL, *victim = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *base, *target;
        Diagnostics *d = l->d;
        int r;

        if (!norm)
                return diag_error(d, NULL, 0, EPERM, "Refusing whiteout '%s': it would reach outside the machine.",
                                  path);
        base = strrchr(norm, '/');
        dir = base ? strndup(norm, base - norm) : strdup("");
        base = base ? base + 1 : norm;
        if (!dir)
                return -ENOMEM;
        target = base + strlen(WHITEOUT_PREFIX);
        if (!streq(base, WHITEOUT_OPAQUE) && (isempty(target) || streq(target, ".") || streq(target, "..")))
                return diag_error(d, NULL, 0, EPERM, "Refusing whiteout '%s': it names no entry.", path);

        fd = open_dir_nofollow(l->root_fd, dir);
        if (fd == -ENOENT)
                return 0; /* nothing below to hide */
        if (fd == -ELOOP || fd == -ENOTDIR)
                return diag_error(d, NULL, 0, EPERM, "Refusing whiteout '%s': '%s' is a symbolic link or not a "
                                  "directory.", path, dir);
        if (fd < 0)
                return diag_error(d, NULL, 0, -fd, "Cannot apply whiteout '%s': %s", path, strerror(-fd));

        layer_forget_parent(l);
        if (streq(base, WHITEOUT_OPAQUE)) {
                l->stats->opaques++;
                r = hide_lower(l, fd, dir);
        } else {
                l->stats->whiteouts++;
                victim = isempty(dir) ? strdup(target) : strjoin(dir, "/", target);
                if (!victim)
                        return -ENOMEM;
                if (!seen_has(l, victim)) {
                        struct stat st;
                        if (fstatat(fd, target, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                                l->stats->replaced++;
                        r = remove_entry(fd, target);
                } else {
                        /* this layer wrote it already: only what is below it from the lower layers goes */
                        _cleanup_close_ int sub = openat(fd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = sub < 0 ? 0 : hide_lower(l, sub, victim);
                }
        }
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "Cannot apply whiteout '%s': %s", path, strerror(-r));
        return 0;
}

static bool is_whiteout(const char *path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        return startswith(base, WHITEOUT_PREFIX);
}

/* The directory dir below the root (looked up without following links, by the cache of the last one), or
 * < 0. The descriptor belongs to l. Removing anything forgets the cache: nothing else changes what a path
 * of directories reached without links leads to. */
static int layer_parent(Layer *l, const char *dir) {
        int fd;

        if (l->parent && streq(l->parent, dir))
                return l->parent_fd;
        layer_forget_parent(l);
        fd = open_dir_nofollow(l->root_fd, dir);
        if (fd < 0)
                return fd;
        l->parent = strdup(dir);
        if (!l->parent) {
                close(fd);
                return -ENOMEM;
        }
        l->parent_fd = fd;
        return fd;
}

/* Before an entry that is not a directory: a lower layer's directory at its place (a /usr merge turns /bin
 * into a symlink) is removed first, as the image spec says; libarchive would refuse to replace a directory
 * that is not empty. Before a directory: a lower non-directory at its place only counts as replaced (the
 * writer replaces it). Nothing is followed on the way; a path that does not resolve is left to libarchive's
 * guards. */
static int replace_lower(Layer *l, const char *norm, bool is_dir) {
        _cleanup_free_ char *dir = NULL;
        const char *base = strrchr(norm, '/');
        struct stat st;
        int fd, r;

        dir = base ? strndup(norm, base - norm) : strdup("");
        base = base ? base + 1 : norm;
        if (!dir)
                return -ENOMEM;
        if (isempty(base) || streq(base, ".") || streq(base, ".."))
                return 0;
        fd = layer_parent(l, dir);
        if (fd < 0)
                return fd == -ENOMEM ? fd : 0;
        if (fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) == is_dir)
                return 0;
        l->stats->replaced++;
        if (is_dir)
                return 0;
        r = remove_entry(fd, base);
        layer_forget_parent(l);
        return r;
}

/* Our checks on one entry, then the entry written (its whiteout applied) and recorded as this layer's. */
static int apply_entry(Layer *l, struct archive *in, struct archive *out, struct archive_entry *e) {
        _cleanup_free_ char *norm = NULL;
        const char *path = archive_entry_pathname(e);
        Diagnostics *d = l->d;
        int k;

        /* the top directory: the machine's, whatever a layer says of it */
        if (path && (streq(path, "./") || streq(path, ".")))
                return 0;
        if (path && is_whiteout(path))
                return apply_whiteout(l, path); /* checked there, named as a whiteout */
        k = extract_entry_check(e, "layer entry", &l->stats->skipped_devices, d);
        if (k <= 0)
                return k;
        norm = oci_layer_path_normalize(path);
        if (!norm)
                return diag_error(d, NULL, 0, EPERM, "Refusing layer entry '%s': it would land outside the "
                                  "machine.", path);
        /* a directory over a directory changes nothing that matters; looked at only when keeping a copy */
        if (archive_entry_filetype(e) != AE_IFDIR || l->copy) {
                k = replace_lower(l, norm, archive_entry_filetype(e) == AE_IFDIR);
                if (k < 0)
                        return diag_error(d, NULL, 0, -k, "Cannot replace the directory '%s': %s", path,
                                          strerror(-k));
        }
        k = extract_entry_copy(in, out, e, l->copy, d);
        if (k < 0)
                return k;
        l->stats->entries++;
        return seen_add(l, norm);
}

/* One pass over the tar: whiteouts and opaque markers are applied where they come, and hide only what the
 * lower layers left (the paths this layer wrote are recorded), which is what the image spec asks of a
 * marker anywhere in the tar. */
static int extract(Layer *l, struct archive *in) {
        _cleanup_(archive_write_freep) struct archive *out = extract_disk_writer_new();
        struct archive_entry *e;
        Diagnostics *d = l->d;

        if (!out)
                return -ENOMEM;
        /* pull-tar's writer and guards, and the path checks on top: a symlink on the way is refused, never
         * written through; an entry that replaces a lower layer's file, or link, replaces it. */
        for (;;) {
                int k = archive_read_next_header(in, &e);

                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN)
                        return diag_error(d, NULL, 0, EBADMSG, "Broken layer: %s", archive_error_string(in));
                k = apply_entry(l, in, out, e);
                if (k < 0)
                        return k;
        }
        if (archive_write_close(out) < ARCHIVE_WARN)
                return diag_error(d, NULL, 0, EIO, "Cannot finish the layer: %s", archive_error_string(out));
        return 0;
}

int oci_layer_apply_copy(int fd, const char *target, struct archive *copy, OciLayerStats *stats, Diagnostics *d) {
        _cleanup_(archive_read_freep) struct archive *in = layer_reader(fd);
        _cleanup_close_ int root_fd = -EBADF, cwd = -EBADF;
        Layer l = { .parent_fd = -EBADF, .copy = copy, .stats = stats, .d = d };
        int r;

        if (!in)
                return diag_error(d, NULL, 0, EBADMSG, "Cannot read the layer: not a tar archive (plain, gzip or "
                                  "zstd).");
        root_fd = open(target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root_fd < 0)
                return diag_error(d, NULL, 0, errno, "Cannot open %s: %m", target);
        l.root_fd = root_fd;

        /* the entries relative to target (the secure flags refuse absolute paths) */
        cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || fchdir(root_fd) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot enter %s: %m", target);
        r = extract(&l, in);
        if (fchdir(cwd) < 0 && r >= 0)
                r = -errno;
        layer_forget_parent(&l);
        tdestroy(l.seen, free);
        return r;
}

int oci_layer_apply(int fd, const char *target, OciLayerStats *stats, Diagnostics *d) {
        return oci_layer_apply_copy(fd, target, NULL, stats, d);
}
