/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Where messages go: stderr always; /dev/kmsg as well when log_open_kmsg() succeeded (generators). */
void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(const char *prefix);
int log_open_kmsg(void);
void log_close_kmsg(void);

/* Returns -abs(error) (or 0 when error is 0), so callers can "return log_error_errno(r, ...)".
 * "%m" in the format expands to strerror(error). */
int log_internal(int level, int error, const char *file, unsigned line, const char *format, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...) log_internal((level), (error), NULL, 0, __VA_ARGS__)
#define log_full(level, ...) ((void) log_full_errno((level), 0, __VA_ARGS__))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* A message about a place in a configuration file: "FILE:LINE: message". */
#define log_syntax(file, line, level, error, ...) log_internal((level), (error), (file), (line), __VA_ARGS__)

int log_oom(void);
