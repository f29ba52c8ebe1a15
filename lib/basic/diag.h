/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <syslog.h>

#include "macro.h"

/* Library code does not log above debug: findings about configuration files are collected here, with
 * their place, and the program decides how to show them. */
typedef struct Diagnostic {
        int level; /* LOG_ERR, LOG_WARNING, ... */
        char *file;
        unsigned line;
        char *message;
} Diagnostic;

typedef struct Diagnostics {
        Diagnostic *items;
        size_t n, n_allocated;
} Diagnostics;

void diagnostics_done(Diagnostics *d);
size_t diagnostics_count(const Diagnostics *d, int max_level);

/* Records a finding; returns error (negative) so parsers can "return diag_error(...)". "%m" in format is
 * the error's text. d may be NULL, then the finding is only logged at debug level. */
int diag_add(Diagnostics *d, int level, int error, const char *file, unsigned line, const char *format, ...)
        _printf_(6, 7);

#define diag_error(d, file, line, error, ...) diag_add((d), LOG_ERR, (error), (file), (line), __VA_ARGS__)
#define diag_warning(d, file, line, ...) diag_add((d), LOG_WARNING, 0, (file), (line), __VA_ARGS__)

/* Logs every finding at its level through log.h, "FILE:LINE: message". */
void diagnostics_log(const Diagnostics *d);
