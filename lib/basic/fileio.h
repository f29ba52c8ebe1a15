/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

/* mkdir -p, every component made with mode; one there already must be a directory (-ENOTDIR). On paths of
 * the host, so links are followed as mkdir -p follows them. */
int mkdir_parents(const char *path, mode_t mode);
int mkdir_p(const char *path, mode_t mode);
/* The same below a directory fd, where no link is followed: a link on the way or at the end is no directory
 * (-ENOTDIR), and nothing is made through it. */
int mkdir_parents_at(int dir_fd, const char *path, mode_t mode);
int mkdir_p_at(int dir_fd, const char *path, mode_t mode);

/* Writes the file next to its final name and renames it into place, so a reader (or a concurrent writer)
 * never sees a torn file. WRITE_DURABLE also fsyncs first, for files that must survive a power cut (not
 * needed for what lives in /run). */
typedef enum WriteFlags {
        WRITE_DURABLE = 1 << 0,
} WriteFlags;
int write_file_atomic(const char *path, const char *content, size_t size, mode_t mode, WriteFlags flags);
int write_file_atomic_at(int dir_fd, const char *path, const char *content, size_t size, mode_t mode,
                         WriteFlags flags);
int symlink_atomic_at(const char *target, int dir_fd, const char *path);
/* The same for a name directly in dir_fd, with the owner (unless uid and gid are both -1) and the exact mode
 * (no umask) set on the temporary's descriptor before it takes the name. */
int write_file_atomic_owned_at(int dir_fd, const char *name, const char *content, size_t size, mode_t mode,
                               uid_t uid, gid_t gid, WriteFlags flags);

/* What fd gives until its end, NUL-terminated (the NUL not counted in *ret_size); -EFBIG past max bytes. */
int read_fd_bounded(int fd, size_t max, char **ret, size_t *ret_size);
/* The whole file, NUL-terminated (the NUL not counted in *ret_size). */
int read_full_file(const char *path, char **ret, size_t *ret_size);
int read_full_file_at(int dir_fd, const char *path, char **ret, size_t *ret_size);
/* A file someone else controls: name directly in dir_fd, never followed; regular files only (-EBADFD),
 * a single link only (-EMLINK), at most max bytes (-EFBIG); opened O_NONBLOCK | O_NOCTTY (a FIFO or a
 * device never blocks us). ret_st (optional) gets the fstat() of the descriptor that was read. */
int read_regular_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_size,
                         struct stat *ret_st);

/* Runs the writer into a string: the pure writers take a FILE*, this gives their output to callers. */
int write_to_string(int (*writer)(const void *userdata, FILE *f), const void *userdata, char **ret);
