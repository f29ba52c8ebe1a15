/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* NULL-terminated arrays of owned strings. A NULL strv is the empty list. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char * const *l);
bool strv_contains(char * const *l, const char *s);
/* Takes ownership, also on failure. O(length): for one-off appends; loops use strv_push_greedy(). */
int strv_push(char ***l, char *value);
/* The same for loops that keep the length in *n and the capacity in *allocated (both 0 for a NULL list),
 * so that appending many is linear. */
int strv_push_greedy(char ***l, size_t *n, size_t *allocated, char *value);
int strv_extend(char ***l, const char *value); /* copies */
int strv_extend_strv(char ***a, char * const *b);
int strv_split_words(char ***ret, const char *s); /* on blanks */
int strv_split(char ***ret, const char *s, const char *separators);
char *strv_join(char * const *l, const char *separator);
/* Concatenates the strings up to a NULL: cheaper than asprintf() where it runs per machine. */
char *strjoin_real(const char *first, ...);
#define strjoin(...) strjoin_real(__VA_ARGS__, NULL)
void strv_sort(char **l);
/* Drops adjacent duplicates (of a sorted list), in place. */
void strv_uniq_sorted(char **l);
char **strv_copy(char * const *l);
/* Drops every string that appeared earlier in the list, keeping the order of the rest; O(n log n). */
int strv_uniq_stable(char **l);

#define STRV_FOREACH(s, l) for (char **s = (char **) (l); s && *s; s++)
