/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one way into a machine's tree. A tree belongs to the machine's root (and, for an image, to whoever
 * made the tarball): every symlink, FIFO, device node, hard link or huge file in it may be a trap for code
 * that runs as root on the host. So:
 *
 *  - the tree's top is opened once, never through a symlink (chase_root_open());
 *  - a path inside is resolved as if the tree were "/": absolute links and ".." stop at the top
 *    (openat2() with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS; where the kernel lacks openat2(), a walk
 *    one component at a time with O_NOFOLLOW that follows links itself, the same way);
 *  - the last component is never followed: the operation works on the entry in the resolved parent
 *    directory, and from then on on the descriptor it opened (fstat, fchown, fchmod, renameat);
 *  - reads take regular files only (-EBADFD otherwise), with a single link (-EMLINK: a hard link may be
 *    a host file), open with O_NONBLOCK | O_NOCTTY, and stop at a cap given per call (-EFBIG).
 *
 * Paths are relative to the top ("etc/passwd"; a leading "/" is ignored). Errors are -errno; -ELOOP
 * means the last component is a symlink (or a loop of them), -ENOTDIR a component is not a directory. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Read caps, per file. Generous for what the files are, small enough that a file made to exhaust the
 * host's memory is refused at once. */
#define CHASE_ACCOUNT_DB_MAX (16U * 1024U * 1024U) /* etc/passwd, group, shadow, gshadow */
#define CHASE_SESSION_ENV_MAX (64U * 1024U)        /* etc/machinespawn-session.env */

typedef enum ChaseFlags {
        CHASE_MKDIR_P = 1 << 0, /* make missing directories on the way (0755, owned by us) */
} ChaseFlags;

/* Opens a tree's top, O_RDONLY | O_DIRECTORY, refusing a symlink (-ELOOP) and a non-directory (-ENOTDIR).
 * Returns the descriptor. */
int chase_root_open(const char *root);

/* The directory at path inside the tree, opened O_RDONLY | O_DIRECTORY; all components are resolved in
 * the tree, links included. With CHASE_MKDIR_P, what is missing is made. Returns the descriptor. */
int chase_open_dir(int root_fd, const char *path, ChaseFlags flags);

/* The directory that holds path's last component, and that component's name. Returns the descriptor. */
int chase_open_parent(int root_fd, const char *path, ChaseFlags flags, char **ret_name);

/* Reads a regular file of at most max bytes, NUL-terminated (the NUL not counted in *ret_size); ret_st
 * (optional) gets the fstat() of the descriptor read from, for owner and mode. -ENOENT if missing. */
int chase_read_file(int root_fd, const char *path, size_t max, char **ret, size_t *ret_size,
                    struct stat *ret_st);

/* Writes path atomically: a temporary in the resolved parent, fchown() (unless uid and gid are both -1)
 * and fchmod() on its descriptor, renameat() over the old entry (a symlink, a FIFO or a hard link there
 * is replaced, never written through). */
int chase_write_file(int root_fd, const char *path, const char *content, size_t size, mode_t mode, uid_t uid,
                     gid_t gid, ChaseFlags flags);

/* unlinkat() of the entry (flags: 0 or AT_REMOVEDIR); a symlink is removed as a link. -ENOENT if missing. */
int chase_unlink(int root_fd, const char *path, int flags);

/* fstatat() of the entry itself, never following it. */
int chase_stat(int root_fd, const char *path, struct stat *ret);

/* Owner of the entry itself (AT_SYMLINK_NOFOLLOW); mode of a regular file or directory (a symlink is
 * refused, -ELOOP). */
int chase_chown(int root_fd, const char *path, uid_t uid, gid_t gid);
int chase_chmod(int root_fd, const char *path, mode_t mode);

/* Deletes the regular files directly in the directory path that keep(name) does not claim (NULL: all).
 * A missing directory is not an error. */
int chase_empty_dir(int root_fd, const char *path, bool (*keep)(const char *name));

/* What a refusal means, for messages: "is not a regular file" for -EBADFD, and so on; strerror() for the
 * rest. */
const char *chase_strerror(int r);

/* Whether openat2() is used; false where the kernel lacks it or $MACHINESPAWN_CHASE_NO_OPENAT2=1 (to test
 * the fallback walk). */
bool chase_have_openat2(void);
