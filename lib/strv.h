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
int strv_push(char ***l, char *value);        /* takes ownership, also on failure */
int strv_extend(char ***l, const char *value); /* copies */
int strv_extend_strv(char ***a, char * const *b);
int strv_split_words(char ***ret, const char *s); /* on blanks */
int strv_split(char ***ret, const char *s, const char *separators);
char *strv_join(char * const *l, const char *separator);
void strv_sort(char **l);
char **strv_copy(char * const *l);

#define STRV_FOREACH(s, l) for (char **s = (char **) (l); s && *s; s++)
