/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* cmocka wants these before its own header */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"

/* A fresh directory under $TMPDIR, removed again by tests_rm_rf(). */
char *tests_mkdtemp(void);
void tests_rm_rf(const char *path);
/* Writes a file (making its parents); content NULL makes a symlink to /dev/null. */
void tests_write(const char *dir, const char *rel, const char *content);
