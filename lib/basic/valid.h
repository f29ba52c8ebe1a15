/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure syntax checks for the names and values a .mspawn carries. */
bool machine_name_is_valid(const char *s);
/* NULL for a valid machine name, else why not, as a phrase ("it must not contain \"..\""). */
const char *machine_name_invalid_reason(const char *s);
bool cache_key_is_valid(const char *s);
bool hostname_is_valid(const char *s);
bool unit_name_is_valid(const char *s);
bool package_name_is_valid(const char *s);
bool component_name_is_valid(const char *s);
bool user_name_is_valid(const char *s);
bool distribution_name_is_valid(const char *s);
bool release_name_is_valid(const char *s);
bool sha256_hex_is_valid(const char *s);
bool architecture_is_known(const char *s);
const char *architecture_list(void);
/* The table itself, for tests. */
size_t architectures_known(const char *const **ret);

/* "http", "https" or "file" URLs with something after the scheme. */
bool url_is_valid(const char *s, bool allow_file);

/* 1/yes/true/on, 0/no/false/off; -EINVAL otherwise. */
int parse_boolean(const char *s);

/* "7d", "12h", "30min", "90s", "3600" (seconds), "1w", or "infinity" (UINT64_MAX). */
int parse_timespan_sec(const char *s, uint64_t *ret);
