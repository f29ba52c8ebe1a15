/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "diag.h"

/* The largest .mspawn or drop-in read; anything bigger is refused as a whole. */
#define UNIT_FILE_SIZE_MAX ((size_t) 1024 * 1024)

/* systemd unit-file syntax, kept as the ordered list of assignments it is: a key may repeat, and an
 * empty value is an assignment too (it resets a list). Interpretation happens later, per section. */
typedef struct UnitAssignment {
        const char *section; /* borrowed from UnitFile.sections */
        char *key;
        char *value;
        const char *file; /* borrowed from UnitFile.files */
        size_t file_index; /* of file in UnitFile.files */
        unsigned line;
} UnitAssignment;

typedef struct UnitFile {
        UnitAssignment *items;
        size_t n, n_allocated;
        /* Each file name and section header once; a thousand assignments need not copy them a thousand
         * times. */
        char **files;
        char **sections;
        size_t n_files, n_sections, n_files_allocated, n_sections_allocated;
} UnitFile;

void unit_file_done(UnitFile *u);

/* Appends the assignments of one file, read as systemd reads unit files (systemd.syntax(7)): lines end at
 * LF, CR or CR LF; a UTF-8 byte order mark is skipped; blanks are space and tab only; a line whose
 * unescaped last character is a backslash continues; comment lines (# ;) are skipped, also inside a
 * continuation. Stricter than systemd where systemd would read a file differently from what it looks like,
 * or where it would refuse a line and drop the rest of the file: a NUL byte anywhere, invalid UTF-8 and
 * control characters (but tab) outside comments, and a value that ends in a backslash, are errors.
 * Errors are reported to d with FILE:LINE and make the call fail with -EBADMSG after the whole file was
 * read (so every error is reported at once). */
int unit_file_parse(UnitFile *u, const char *path, FILE *f, Diagnostics *d);
int unit_file_parse_path(UnitFile *u, const char *path, Diagnostics *d);
/* The same for a file already in memory; buf is cut into lines in place and must have a NUL at buf[size]. */
int unit_file_parse_buffer(UnitFile *u, const char *path, char *buf, size_t size, Diagnostics *d);

/* Reads a configuration file of at most UNIT_FILE_SIZE_MAX bytes, NUL-terminated. -EFBIG when it is
 * bigger, with *ret_size set to its size if fstat() knew it, else 0; never blocks on a FIFO. */
int unit_file_read_at(int dir_fd, const char *path, char **ret, size_t *ret_size);
/* Reports a unit_file_read_at() failure r for path to d (file name, and for -EFBIG the size when it is
 * known, i.e. not 0); returns r. */
int unit_file_read_error(Diagnostics *d, const char *path, int r, size_t size);

bool utf8_is_valid_n(const char *s, size_t n);
/* What a writer may put after "Key=" in a unit or .nspawn file so that systemd reads back exactly s:
 * valid UTF-8, no control character but tab, no blank at either end (systemd strips them), and not
 * ending in an unescaped backslash (systemd would join the next line). */
bool unit_value_is_safe(const char *s);
/* For a key: not empty, valid UTF-8, no control character, no blank at either end, no '=', not starting
 * like a comment, a section header or a byte order mark (a trailing backslash is fine: "=" follows). */
bool unit_key_is_safe(const char *s);
/* s with every byte outside printable ASCII (and the backslash) as \xNN: for comments and messages. */
char *unit_escape_comment(const char *s);
