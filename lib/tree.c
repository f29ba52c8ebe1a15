/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <linux/stat.h>
#include <spawn.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "strv.h"
#include "tree.h"

extern char **environ;

int spawn_wait(char **argv, char **env_extra) {
        _cleanup_strv_free_ char **env = NULL;
        pid_t pid;
        int status, r;

        env = strv_copy(environ);
        if (!env || strv_extend_strv(&env, env_extra) < 0)
                return -ENOMEM;
        r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, env);
        if (r != 0)
                return -r;
        for (;;) {
                if (waitpid(pid, &status, 0) >= 0)
                        break;
                if (errno != EINTR)
                        return -errno;
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

int tree_clone(const char *src, const char *dst) {
        _cleanup_free_ char *from = strjoin(src, "/.");
        int r;

        if (!from)
                return -ENOMEM;
        if (mkdir(dst, 0755) < 0)
                return -errno;
        /* cp -a keeps everything a root file system carries; --reflink=auto makes it a clone on btrfs and
         * xfs. Measured against tar and a hand-written copy on ext4 it was as fast as anything (bench/). */
        r = spawn_wait((char *[]) { (char *) "cp", (char *) "-a", (char *) "--reflink=auto",
                                    (char *) "--no-target-directory", from, (char *) dst, NULL },
                       NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

int tree_pack(const char *tree, const char *archive) {
        int r = spawn_wait((char *[]) { (char *) "tar", (char *) "--create", (char *) "--file", (char *) archive,
                                        (char *) "--use-compress-program=zstd -T0 -3 -q", (char *) "--xattrs",
                                        (char *) "--xattrs-include=*", (char *) "--acls", (char *) "--numeric-owner",
                                        (char *) "--sparse", (char *) "--one-file-system", (char *) "-C",
                                        (char *) tree, (char *) ".", NULL },
                           NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

int tree_unpack(const char *archive, const char *dst) {
        int r;

        if (mkdir(dst, 0755) < 0)
                return -errno;
        r = spawn_wait((char *[]) { (char *) "tar", (char *) "--extract", (char *) "--file", (char *) archive,
                                    (char *) "--use-compress-program=zstd -q", (char *) "--xattrs",
                                    (char *) "--xattrs-include=*", (char *) "--acls", (char *) "--numeric-owner",
                                    (char *) "--same-permissions", (char *) "--same-owner", (char *) "-C",
                                    (char *) dst, NULL },
                       NULL);
        if (r < 0)
                return r;
        return r == 0 ? 0 : -EIO;
}

bool dir_supports_reflink(const char *dir) {
        _cleanup_free_ char *a = strjoin(dir, "/.reflink-probe-XXXXXX"), *b = strjoin(dir, "/.reflink-probe-XXXXXX");
        _cleanup_close_ int fa = -EBADF, fb = -EBADF;
        char block[4096] = { 1 };
        bool ok = false;

        if (!a || !b)
                return false;
        fa = mkostemp(a, O_CLOEXEC);
        fb = mkostemp(b, O_CLOEXEC);
        if (fa >= 0 && fb >= 0 && write(fa, block, sizeof block) == (ssize_t) sizeof block)
                ok = ioctl(fb, FICLONE, fa) >= 0;
        if (fa >= 0)
                (void) unlink(a);
        if (fb >= 0)
                (void) unlink(b);
        return ok;
}

static int statx_mnt(int dfd, const char *name, struct statx *ret) {
        if (statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (name[0] ? 0 : AT_EMPTY_PATH),
                  STATX_TYPE | STATX_MNT_ID | STATX_SIZE, ret) < 0)
                return -errno;
        if (!(ret->stx_mask & STATX_MNT_ID))
                return -EOPNOTSUPP; /* kernel older than 5.8: refuse rather than guess */
        return 0;
}

static int remove_children(int dfd, uint64_t mnt_id, RemoveStats *stats) {
        DIR *d;
        struct dirent *de;
        int ret = 0;

        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct statx stx;
                int r;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = statx_mnt(dirfd(d), de->d_name, &stx);
                if (r < 0) {
                        if (ret == 0 && r != -ENOENT)
                                ret = r;
                        continue;
                }
                if (stx.stx_mnt_id != mnt_id) {
                        /* another file system (a bind mount still in place): never touch it */
                        if (ret == 0)
                                ret = -EBUSY;
                        continue;
                }
                if (S_ISDIR(stx.stx_mode)) {
                        int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                if (ret == 0)
                                        ret = -errno;
                                continue;
                        }
                        r = remove_children(cfd, mnt_id, stats);
                        if (r < 0 && ret == 0)
                                ret = r;
                        if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0) {
                                if (ret == 0)
                                        ret = -errno;
                        } else if (stats)
                                stats->dirs++;
                } else {
                        /* files, symlinks (as links), devices, sockets */
                        if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                                if (ret == 0 && errno != ENOENT)
                                        ret = -errno;
                        } else if (stats)
                                stats->files++;
                }
        }
        closedir(d);
        return ret;
}

static int unescape_mountinfo(const char *s, char **ret) {
        char *r = malloc(strlen(s) + 1), *p = r;

        if (!r)
                return -ENOMEM;
        /* mountinfo escapes space, tab, newline and backslash as \ooo */
        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
                    s[3] <= '7') {
                        *p++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else
                        *p++ = *s;
        }
        *p = 0;
        *ret = r;
        return 0;
}

static int length_desc(const void *a, const void *b) {
        size_t la = strlen(*(char * const *) a), lb = strlen(*(char * const *) b);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

int mounts_below(const char *path, const char *mountinfo, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t sz = 0, plen = strlen(path);

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        f = fopen(mountinfo ?: "/proc/self/mountinfo", "re");
        if (!f)
                return -errno;
        while (getline(&line, &sz, f) > 0) {
                char mp[4096];
                char *unescaped;
                int r;

                /* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the 5th field */
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                r = unescape_mountinfo(mp, &unescaped);
                if (r < 0)
                        return r;
                if (strncmp(unescaped, path, plen) == 0 && unescaped[plen] == '/' && !strv_contains(l, unescaped))
                        r = strv_push(&l, unescaped);
                else
                        free(unescaped);
                if (r < 0)
                        return r;
        }
        qsort(l, strv_length(l), sizeof(char *), length_desc);
        *ret = TAKE_PTR(l);
        return 0;
}

/* Opens the top of a tree (never through a symlink) and tells which mount it is on. */
static int open_top(const char *path, uint64_t *ret_mnt_id) {
        _cleanup_close_ int fd = -EBADF;
        struct statx stx;
        int r;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = statx_mnt(fd, "", &stx);
        if (r < 0)
                return r;
        *ret_mnt_id = stx.stx_mnt_id;
        return TAKE_FD(fd);
}

int tree_remove(const char *path, RemoveStats *ret_stats) {
        _cleanup_strv_free_ char **mounts = NULL;
        RemoveStats stats = {};
        uint64_t mnt_id;
        int fd, r;

        r = mounts_below(path, NULL, &mounts);
        if (r < 0)
                return r;
        STRV_FOREACH(m, mounts) {
                if (umount2(*m, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                        return -errno;
                stats.mounts_detached++;
        }

        fd = open_top(path, &mnt_id);
        if (fd < 0)
                return fd;
        r = remove_children(fd, mnt_id, &stats);
        if (r >= 0 && rmdir(path) < 0)
                r = -errno;
        if (r >= 0)
                stats.dirs++;
        if (ret_stats)
                *ret_stats = stats;
        return r;
}

static int usage_children(int dfd, uint64_t mnt_id, uint64_t *total) {
        DIR *d = fdopendir(dfd);
        struct dirent *de;

        if (!d) {
                close(dfd);
                return -errno;
        }
        while ((de = readdir(d))) {
                struct statx stx;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (statx_mnt(dirfd(d), de->d_name, &stx) < 0 || stx.stx_mnt_id != mnt_id)
                        continue;
                if (S_ISREG(stx.stx_mode))
                        *total += stx.stx_size;
                else if (S_ISDIR(stx.stx_mode)) {
                        int cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd >= 0)
                                (void) usage_children(cfd, mnt_id, total);
                }
        }
        closedir(d);
        return 0;
}

int tree_disk_usage(const char *path, uint64_t *ret) {
        uint64_t mnt_id;
        int fd;

        *ret = 0;
        fd = open_top(path, &mnt_id);
        if (fd < 0)
                return fd;
        return usage_children(fd, mnt_id, ret);
}
