/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cmocka wants these before its own header */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "diag.h"
#include "macro.h"
#include "paths.h"

/* Paths read from the environment again: tests change it with setenv(). */
const Paths *tests_paths(void);

/* A fresh directory under $TMPDIR, removed again by tests_rm_rf(). */
char *tests_mkdtemp(void);
void tests_rm_rf(const char *path);
/* A fresh btrfs on a loop device, mounted in a mount namespace of this process's own, made $TMPDIR (so that
 * tests_mkdtemp() is on it). < 0 with the reason printed ("SKIP: ...") when it cannot be had here: not root,
 * no mkfs.btrfs, no loop device. *ret_top: the directory with the image, for tests_btrfs_done(). */
int tests_btrfs_tmpdir(char **ret_top);
/* main()'s "--btrfs": tests_btrfs_tmpdir() (1), or 0 without it; -1 when it cannot be had (exit 77). */
int tests_btrfs_from_args(int argc, char *argv[], char **ret_top);
/* Unmounts and removes it; NULL: nothing. */
void tests_btrfs_done(char *top);
/* Writes a file (making its parents); content NULL makes a symlink to /dev/null. */
void tests_write(const char *dir, const char *rel, const char *content);
/* The content of dir/rel, or NULL if it is missing. */
char *tests_read(const char *dir, const char *rel);
/* Whether dir/rel exists (a link counts, not followed). */
bool tests_exists(const char *dir, const char *rel);
/* The only finding in d is message, at level (every finding is printed first). */
void tests_said_only(const Diagnostics *d, int level, const char *message);

/* A skipped test never reads as a pass: skip() is remembered, and a program whose tests all passed but
 * some skipped exits 77, which meson reports as a skip (and tools/run-tests.sh --no-skip as a failure). */
extern bool tests_skipped;
/* For a part of a test that cannot run on this host: says why, and the program counts as skipped. */
void tests_skip_part(const char *why);
int tests_result(int failed);

#undef skip
#define skip()                                   \
        do {                                     \
                tests_skipped = true;            \
                _skip(__FILE__, __LINE__);       \
        } while (0)
#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group, setup, teardown) \
        tests_result(_cmocka_run_group_tests(#group, group, ELEMENTSOF(group), setup, teardown))
