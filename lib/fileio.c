/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <sys/stat.h>

#include "fileio.h"

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        char *slash;

        if (!p)
                return -ENOMEM;
        slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = 0;
        return mkdir_p(p, mode);
}

static int tmp_name_for(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int) (slash - path + 1) : 0;

        /* ".#name" hides the temporary from anything that enumerates the directory by suffix. */
        if (asprintf(ret, "%.*s.#%sXXXXXX", dirlen, path, slash ? slash + 1 : path) < 0)
                return -ENOMEM;
        return 0;
}

int write_file_atomic(const char *path, const char *content, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = tmp_name_for(path, &tmp);
        if (r < 0)
                return r;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;

        for (size_t done = 0; done < size;) {
                ssize_t k = write(fd, content + done, size - done);
                if (k < 0) {
                        r = -errno;
                        goto fail;
                }
                done += (size_t) k;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;
fail:
        (void) unlink(tmp);
        return r;
}

int symlink_atomic(const char *target, const char *path) {
        _cleanup_free_ char *tmp = NULL;
        int r;

        for (unsigned attempt = 0; attempt < 100; attempt++) {
                free(tmp);
                tmp = NULL;
                r = tmp_name_for(path, &tmp);
                if (r < 0)
                        return r;
                /* mkostemp's pattern, filled in by hand: symlink() has no O_EXCL-style temp creation */
                for (char *x = tmp + strlen(tmp) - 6; *x; x++)
                        *x = "abcdefghijklmnopqrstuvwxyz0123456789"[random() % 36];
                if (symlink(target, tmp) >= 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

int read_full_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, alloc = 0;

        if (!f)
                return -errno;
        for (;;) {
                if (alloc - n < 4096) {
                        char *b = realloc(buf, alloc + 65536);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        alloc += 65536;
                }
                size_t k = fread(buf + n, 1, alloc - n - 1, f);
                n += k;
                if (k == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int write_to_string(int (*writer)(const void *userdata, FILE *f), const void *userdata, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = writer(userdata, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}
