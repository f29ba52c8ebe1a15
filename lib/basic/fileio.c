/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "fileio.h"

/* mkdir(), where a directory there already (or a link to one) does as well */
static int mkdir_or_dir(const char *path, mode_t mode) {
        struct stat st;

        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return errno == ENOENT ? -ENOTDIR : -errno; /* a link to nowhere */
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* A path of the host's (its admin may have linked a directory elsewhere): links followed, as mkdir -p does.
 * Optimistic: the parent usually exists, so this is one mkdir() rather than one per component. */
static int mkdir_p_follow(const char *path, mode_t mode) {
        _cleanup_free_ char *parent = NULL;
        char *slash;
        int r;

        r = mkdir_or_dir(path, mode);
        if (r != -ENOENT)
                return r;
        parent = strdup(path);
        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return -ENOENT;
        *slash = 0;
        r = mkdir_p_follow(parent, mode);
        if (r < 0)
                return r;
        return mkdir_or_dir(path, mode);
}

int mkdir_p_at(int dir_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *save = NULL;

        if (!p)
                return -ENOMEM;
        /* one component at a time, each opened before the next is made in it: a link or a file on the way
         * (or swapped in meanwhile) stops the walk, where mkdirat() with the whole path would follow it */
        if (path[0] == '/') {
                fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
        }
        for (char *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next;

                if (mkdirat(fd >= 0 ? fd : dir_fd, c, mode) < 0 && errno != EEXIST)
                        return -errno;
                /* the kernel says ENOTDIR for a link here, as for a file */
                next = openat(fd >= 0 ? fd : dir_fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                if (fd >= 0)
                        close(fd);
                fd = next;
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        return mkdir_p_follow(path, mode);
}

/* path without its last component in *ret, or NULL when it has no parent to make ("name", "/name"). */
static int parent_of(const char *path, char **ret) {
        _cleanup_free_ char *p = strdup(path);
        char *slash;

        if (!p)
                return -ENOMEM;
        slash = strrchr(p, '/');
        if (slash && slash != p) {
                *slash = 0;
                *ret = TAKE_PTR(p);
        } else
                *ret = NULL;
        return 0;
}

int mkdir_parents_at(int dir_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        int r = parent_of(path, &p);

        return r < 0 || !p ? r : mkdir_p_at(dir_fd, p, mode);
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        int r = parent_of(path, &p);

        return r < 0 || !p ? r : mkdir_p_follow(p, mode);
}

static int tmp_name_for(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        int dirlen = slash ? (int) (slash - path + 1) : 0;

        /* ".#name" hides the temporary from anything that enumerates the directory by suffix. */
        if (asprintf(ret, "%.*s.#%sXXXXXX", dirlen, path, slash ? slash + 1 : path) < 0)
                return -ENOMEM;
        return 0;
}

/* Fills the trailing XXXXXX of a template. */
static void randomize_tail(char *tmpl) {
        static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        for (char *x = tmpl + strlen(tmpl) - 6; *x; x++)
                *x = chars[random() % (sizeof chars - 1)];
}

/* The one temporary-then-rename writer. exact_mode NULL: the temporary is created with mode (less the
 * umask), no fchmod() needed; otherwise it is created 0600 and gets the owner (unless uid and gid are both
 * -1) and then exactly *exact_mode on its descriptor before it takes the name. */
static int write_atomic(int dir_fd, const char *path, const char *content, size_t size, mode_t mode,
                        const mode_t *exact_mode, uid_t uid, gid_t gid, WriteFlags flags) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = tmp_name_for(path, &tmp);
        if (r < 0)
                return r;
        for (unsigned attempt = 0; fd < 0; attempt++) {
                randomize_tail(tmp);
                fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                            exact_mode ? 0600 : mode);
                if (fd < 0 && (errno != EEXIST || attempt >= 100))
                        return -errno;
        }
        for (size_t done = 0; done < size;) {
                ssize_t k = write(fd, content + done, size - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                done += (size_t) k;
        }
        if (exact_mode) {
                /* owner first: fchown() clears set-ID bits, the mode is then exactly what was asked */
                if ((uid != (uid_t) -1 || gid != (gid_t) -1) && fchown(fd, uid, gid) < 0) {
                        r = -errno;
                        goto fail;
                }
                if (fchmod(fd, *exact_mode & 07777) < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        if ((flags & WRITE_DURABLE) && fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (renameat(dir_fd, tmp, dir_fd, path) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;
fail:
        (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

int write_file_atomic_at(int dir_fd, const char *path, const char *content, size_t size, mode_t mode,
                         WriteFlags flags) {
        return write_atomic(dir_fd, path, content, size, mode, NULL, (uid_t) -1, (gid_t) -1, flags);
}

int write_file_atomic(const char *path, const char *content, size_t size, mode_t mode, WriteFlags flags) {
        return write_file_atomic_at(AT_FDCWD, path, content, size, mode, flags);
}

int symlink_atomic_at(const char *target, int dir_fd, const char *path) {
        _cleanup_free_ char *tmp = NULL;
        int r;

        /* symlink() is atomic by itself; the temporary is only needed to replace an existing entry. */
        if (symlinkat(target, dir_fd, path) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;

        for (unsigned attempt = 0; attempt < 100; attempt++) {
                free(tmp);
                tmp = NULL;
                r = tmp_name_for(path, &tmp);
                if (r < 0)
                        return r;
                randomize_tail(tmp);
                if (symlinkat(target, dir_fd, tmp) >= 0)
                        break;
                if (errno != EEXIST)
                        return -errno;
        }
        if (renameat(dir_fd, tmp, dir_fd, path) < 0) {
                r = -errno;
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return 0;
}


int read_full_file(const char *path, char **ret, size_t *ret_size) {
        return read_full_file_at(AT_FDCWD, path, ret, ret_size);
}

/* Everything fd gives until its end, NUL-terminated, refusing (-EFBIG) past max bytes: the buffer doubles,
 * so a file of n bytes costs O(n) copies. The one read loop of the project. */
int read_fd_bounded(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, alloc = 0;

        for (;;) {
                ssize_t k;

                /* room for a full chunk, one byte past the cap (to see it is exceeded) and the NUL */
                if (GREEDY_REALLOC(buf, alloc, MIN(n + 65536, max + 1) + 1) < 0)
                        return -ENOMEM;
                k = read(fd, buf + n, MIN(alloc - 1, max + 1) - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int read_full_file_at(int dir_fd, const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        /* open() and read() only: no stdio buffer and no fstat(), this runs once per .mspawn. */
        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_fd_bounded(fd, SIZE_MAX - 1, ret, ret_size);
}

typedef struct StringSink {
        char *buf;
        size_t size, alloc;
} StringSink;

static ssize_t string_sink_write(void *cookie, const char *data, size_t n) {
        StringSink *s = cookie;

        if (s->size + n + 1 > s->alloc) {
                if (GREEDY_REALLOC(s->buf, s->alloc, s->size + n + 1) < 0)
                        return -1;
        }
        memcpy(s->buf + s->size, data, n);
        s->size += n;
        s->buf[s->size] = 0;
        return (ssize_t) n;
}

int write_to_string(int (*writer)(const void *userdata, FILE *f), const void *userdata, char **ret) {
        /* Not open_memstream(): it zeroes an 8 KiB buffer per call, which shows in the generator's profile. */
        StringSink sink = {};
        FILE *f;
        int r;

        f = fopencookie(&sink, "w", (cookie_io_functions_t) { .write = string_sink_write });
        if (!f)
                return -ENOMEM;
        r = writer(userdata, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r >= 0 && !sink.buf)
                sink.buf = strdup("");
        if (r >= 0 && !sink.buf)
                r = -ENOMEM;
        if (r < 0) {
                free(sink.buf);
                return r;
        }
        *ret = sink.buf;
        return 0;
}

int write_file_atomic_owned_at(int dir_fd, const char *name, const char *content, size_t size, mode_t mode,
                               uid_t uid, gid_t gid, WriteFlags flags) {
        if (strchr(name, '/'))
                return -EINVAL;
        return write_atomic(dir_fd, name, content, size, 0600, &mode, uid, gid, flags);
}

/* Reopens an O_PATH descriptor for reading: the very inode that was checked, no second lookup by name. */
static int reopen_read(int path_fd, int dir_fd, const char *name, const struct stat *want) {
        char proc[64];
        struct stat st;
        int fd;

        snprintf(proc, sizeof proc, "/proc/self/fd/%i", path_fd);
        fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT)
                /* no /proc: by name again, never followed, and the result checked below */
                fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

int read_regular_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_size,
                         struct stat *ret_st) {
        _cleanup_close_ int path_fd = -EBADF, fd = -EBADF;
        struct stat st;
        int r;

        if (strchr(name, '/'))
                return -EINVAL;
        /* O_PATH first: looking at a FIFO or a device must not open it */
        path_fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (path_fd < 0)
                return -errno;
        if (fstat(path_fd, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (st.st_nlink > 1)
                return -EMLINK;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        fd = reopen_read(path_fd, dir_fd, name, &st);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        /* the size may still change while we read: the cap holds whatever fstat() said */
        r = read_fd_bounded(fd, max, ret, ret_size);
        if (r < 0)
                return r;
        if (ret_st)
                *ret_st = st;
        return 0;
}
