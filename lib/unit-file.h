/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "diag.h"

/* systemd unit-file syntax, kept as the ordered list of assignments it is: a key may repeat, and an
 * empty value is an assignment too (it resets a list). Interpretation happens later, per section. */
typedef struct UnitAssignment {
        const char *section; /* borrowed from UnitFile.sections */
        char *key;
        char *value;
        const char *file; /* borrowed from UnitFile.files */
        unsigned line;
} UnitAssignment;

typedef struct UnitFile {
        UnitAssignment *items;
        size_t n;
        /* Each file name and section name once; a thousand assignments need not copy them a thousand times. */
        char **files;
        char **sections;
        size_t n_files, n_sections;
} UnitFile;

void unit_file_done(UnitFile *u);

/* Appends the assignments of one file. Syntax errors are reported to d with FILE:LINE and make the call
 * fail with -EBADMSG after the whole file was read (so every error is reported at once). */
int unit_file_parse(UnitFile *u, const char *path, FILE *f, Diagnostics *d);
int unit_file_parse_path(UnitFile *u, const char *path, Diagnostics *d);
/* The same for a file already in memory; buf is cut into lines in place and must have a NUL at buf[size]. */
int unit_file_parse_buffer(UnitFile *u, const char *path, char *buf, size_t size, Diagnostics *d);
