/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>

#include "chase.h"
#include "fileio.h"
#include "paths.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

/* How many links one resolution may follow, as the kernel allows (MAXSYMLINKS). */
#define CHASE_LINKS_MAX 40

static int openat2_state = -1; /* -1 unknown, 0 missing (or disabled), 1 there */

bool chase_have_openat2(void) {
        if (openat2_state < 0) {
                /* process-wide: the resolver is chosen once, like the kernel's support for it */
                Paths p;
                paths_from_environment(&p);
                openat2_state = !p.chase_no_openat2;
        }
        return openat2_state > 0;
}

int chase_root_open(const char *root) {
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd >= 0)
                return fd;
        /* O_DIRECTORY says ENOTDIR for a symlink too: tell them apart for the message */
        if (errno == ENOTDIR && lstat(root, &st) >= 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return -errno;
}

const char *chase_strerror(int r) {
        switch (r) {
        case -EBADFD:
                return "not a regular file (a FIFO, a device or a socket there is refused)";
        case -EMLINK:
                return "has more than one hard link (it may be a file outside the machine), refused";
        case -EFBIG:
                return "larger than machinespawn reads for it, refused";
        case -ELOOP:
                return "a symbolic link where a file was expected (or a loop of links), refused";
        case -ENOTDIR:
                return "a component of the path is not a directory";
        default:
                return strerror(-r);
        }
}

static bool same_inode(int a, int b) {
        struct stat sa, sb;
        return fstat(a, &sa) >= 0 && fstat(b, &sb) >= 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The kernel's way: one call, the tree is "/" for absolute links and "..". */
static int resolve_openat2(int root_fd, const char *path) {
        struct open_how how = {
                .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        for (unsigned attempt = 0;; attempt++) {
                fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof how);
                if (fd >= 0)
                        return fd;
                /* -EAGAIN: a rename somewhere in the tree raced the lookup; the kernel asks to retry */
                if (errno != EAGAIN || attempt >= 16)
                        return -errno;
        }
}

/* The same by hand, for kernels before 5.6: one component at a time, each opened O_PATH | O_NOFOLLOW; a
 * link is read and its target put in front of what remains (restarting at the top when absolute); ".."
 * at the top stays there. */
static int resolve_walk(int root_fd, const char *path) {
        _cleanup_free_ char *todo = strdup(path);
        _cleanup_close_ int cur = -EBADF;
        unsigned links = 0;
        char *p;

        if (!todo)
                return -ENOMEM;
        cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return -errno;
        p = todo;
        for (;;) {
                _cleanup_close_ int next = -EBADF;
                struct stat st;
                char *comp;

                p += strspn(p, "/");
                if (!*p)
                        break;
                comp = p;
                p += strcspn(p, "/");
                if (*p)
                        *p++ = 0;

                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..")) {
                        if (same_inode(cur, root_fd))
                                continue; /* the top's parent is the top */
                        next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (next < 0)
                                return -errno;
                        close(cur);
                        cur = TAKE_FD(next);
                        continue;
                }

                next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return -errno;
                if (fstat(next, &st) < 0)
                        return -errno;
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t k;
                        char *n;

                        if (++links > CHASE_LINKS_MAX)
                                return -ELOOP;
                        k = readlinkat(next, "", target, sizeof target - 1);
                        if (k < 0)
                                return -errno;
                        if (k == 0)
                                return -ENOENT;
                        target[k] = 0;
                        /* the link's target, then the rest */
                        if (asprintf(&n, "%s/%s", target, p) < 0)
                                return -ENOMEM;
                        free(todo);
                        todo = p = n;
                        if (target[0] == '/') {
                                close(cur);
                                cur = openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
                                if (cur < 0)
                                        return -errno;
                        }
                        continue;
                }
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                close(cur);
                cur = TAKE_FD(next);
        }
        /* a directory fd that can be read and passed to fdopendir(), from the O_PATH one */
        int fd = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int resolve_dir(int root_fd, const char *path) {
        const char *p = path + strspn(path, "/");

        if (!*p)
                p = ".";
        if (chase_have_openat2()) {
                int fd = resolve_openat2(root_fd, p);
                if (fd != -ENOSYS)
                        return fd;
                openat2_state = 0;
        }
        return resolve_walk(root_fd, p);
}

/* Splits "a/b/c" into "a/b" and "c" ("" and "c" for "c"); the last component must name an entry. */
static int split_last(const char *path, char **ret_dir, char **ret_name) {
        _cleanup_free_ char *p = strdup(path + strspn(path, "/"));
        char *slash, *name;
        size_t l;

        if (!p)
                return -ENOMEM;
        for (l = strlen(p); l > 0 && p[l - 1] == '/'; l--)
                p[l - 1] = 0;
        slash = strrchr(p, '/');
        name = slash ? slash + 1 : p;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        *ret_name = strdup(name);
        if (!*ret_name)
                return -ENOMEM;
        if (slash)
                *slash = 0;
        else
                p[0] = 0;
        *ret_dir = TAKE_PTR(p);
        return 0;
}

/* mkdir -p inside the tree: each missing directory made in its resolved parent, then the whole path
 * resolved again (what is there may be a link, followed inside the tree like any other). */
static int make_dir(int root_fd, const char *path, unsigned depth) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        _cleanup_close_ int parent = -EBADF;
        int fd, r;

        fd = resolve_dir(root_fd, path);
        if (fd != -ENOENT)
                return fd;
        if (depth > 256)
                return -ELOOP;
        r = split_last(path, &dir, &name);
        if (r < 0)
                return r;
        parent = make_dir(root_fd, dir, depth + 1);
        if (parent < 0)
                return parent;
        if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        return resolve_dir(root_fd, path);
}

int chase_open_dir(int root_fd, const char *path, ChaseFlags flags) {
        return flags & CHASE_MKDIR_P ? make_dir(root_fd, path, 0) : resolve_dir(root_fd, path);
}

int chase_open_parent(int root_fd, const char *path, ChaseFlags flags, char **ret_name) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        int fd, r;

        r = split_last(path, &dir, &name);
        if (r < 0)
                return r;
        fd = chase_open_dir(root_fd, dir, flags);
        if (fd < 0)
                return fd;
        *ret_name = TAKE_PTR(name);
        return fd;
}

int chase_read_file(int root_fd, const char *path, size_t max, char **ret, size_t *ret_size,
                    struct stat *ret_st) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;

        dir = chase_open_parent(root_fd, path, 0, &name);
        if (dir < 0)
                return dir;
        return read_regular_file_at(dir, name, max, ret, ret_size, ret_st);
}

int chase_write_file(int root_fd, const char *path, const char *content, size_t size, mode_t mode, uid_t uid,
                     gid_t gid, ChaseFlags flags) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;

        dir = chase_open_parent(root_fd, path, flags, &name);
        if (dir < 0)
                return dir;
        return write_file_atomic_owned_at(dir, name, content, size, mode, uid, gid, 0);
}

int chase_unlink(int root_fd, const char *path, int flags) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;

        dir = chase_open_parent(root_fd, path, 0, &name);
        if (dir < 0)
                return dir;
        return unlinkat(dir, name, flags) < 0 ? -errno : 0;
}

int chase_stat(int root_fd, const char *path, struct stat *ret) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;

        dir = chase_open_parent(root_fd, path, 0, &name);
        if (dir < 0)
                return dir;
        return fstatat(dir, name, ret, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int chase_chown(int root_fd, const char *path, uid_t uid, gid_t gid) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;

        dir = chase_open_parent(root_fd, path, 0, &name);
        if (dir < 0)
                return dir;
        return fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int chase_chmod(int root_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        struct stat st;

        dir = chase_open_parent(root_fd, path, 0, &name);
        if (dir < 0)
                return dir;
        /* looked at through O_PATH first: opening a FIFO or a device to chmod it must not happen */
        fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                return -EBADFD;
        close(fd);
        fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                return -EBADFD;
        return fchmod(fd, mode & 07777) < 0 ? -errno : 0;
}

int chase_empty_dir(int root_fd, const char *path, bool (*keep)(const char *name)) {
        struct dirent *de;
        DIR *d;
        int fd;

        fd = chase_open_dir(root_fd, path, 0);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct stat st;

                if (keep && keep(de->d_name))
                        continue;
                /* unlinkat() never follows a name; the type is checked on the entry itself */
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
        return 0;
}
