/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "macro.h"

/* mkdir -p, every component with mode. */
int mkdir_parents(const char *path, mode_t mode);
int mkdir_p(const char *path, mode_t mode);

/* Writes the file next to its final name and renames it into place, so a reader (or a concurrent writer)
 * never sees a torn file. */
int write_file_atomic(const char *path, const char *content, size_t size, mode_t mode);
int symlink_atomic(const char *target, const char *path);

int read_full_file(const char *path, char **ret, size_t *ret_size);

/* Runs the writer into a string: the pure writers take a FILE*, this gives their output to callers. */
int write_to_string(int (*writer)(const void *userdata, FILE *f), const void *userdata, char **ret);
