/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Runs argv (PATH lookup), waits, returns its exit status (>= 0) or -errno. env_extra ("K=V" strings)
 * adds to the environment; output goes where ours goes. */
int spawn_wait(char **argv, char **env_extra);

/* Copies the tree src to dst (which must not exist) as fast as the file system allows: a btrfs snapshot
 * when src is a subvolume (see tree_make_top()) on the file system of dst, else reflinks where supported,
 * otherwise a full copy, keeping owners, modes, times, xattrs, ACLs, hard links and sparse files (cp -a).
 * A snapshot is not recursive: subvolumes below src come across as empty directories, so src should be a
 * tree built by tree_make_top()'s caller, never a machine that ran. */
int tree_clone(const char *src, const char *dst);

/* Creates the top directory of a tree that will be cloned: a btrfs subvolume where path's parent is on
 * btrfs (1), else a plain directory (0); mode exactly, whatever the umask. -EEXIST if path exists. */
int tree_make_top(const char *path, mode_t mode);

/* A tree as a zstd-compressed tar and back (GNU tar and zstd, two processes, so decompression and
 * writing run in parallel), keeping owners, modes, times, xattrs, ACLs, hard links and sparse files. */
int tree_pack(const char *tree, const char *archive);
/* The same with another zstd command line ("zstd -T2 --fast=3 -q"). */
int tree_pack_with(const char *tree, const char *archive, const char *zstd);
int tree_unpack(const char *archive, const char *dst);

/* Whether files in dir can be cloned (FICLONE: btrfs, xfs, bcachefs). */
bool dir_supports_reflink(const char *dir);

typedef struct RemoveStats {
        uint64_t files, dirs;
        uint64_t mounts_detached;
} RemoveStats;

/* Removes the tree at path. Never follows a symlink (links are removed as links) and never descends
 * into another mount: mount points below path are detached first (lazily, in this mount namespace), and
 * the walk refuses anything whose mount differs from the top's. Any depth, with at most 32 directories
 * open at once (deeper ones are reached again through "..", checked by device, inode and mount). A btrfs
 * subvolume with no subvolume below is deleted whole instead (ret_stats then counts only its top). */
int tree_remove(const char *path, RemoveStats *ret_stats);

/* The mount points strictly below path, deepest first, from /proc/self/mountinfo (or the given file). */
int mounts_below(const char *path, const char *mountinfo, char ***ret);

/* Size in bytes of the regular files below path (not following links, not crossing mounts). */
int tree_disk_usage(const char *path, uint64_t *ret);
/* The same below an open directory (a tree's top from chase_root_open()). */
int tree_disk_usage_fd(int fd, uint64_t *ret);
