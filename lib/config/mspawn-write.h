/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "machine-config.h"

/* A value that reads back as itself, in our parser and in systemd's: no control characters (a newline would
 * start a new line, and with it a key or a section), valid UTF-8, no whitespace at either end (both strip
 * it) and no backslash at the end (that continues the line into the next). */
bool mspawn_value_is_writable(const char *s);
/* A key name: ASCII letters, digits, "-", "_", "."; nothing that could be "=", "[" or a comment. */
bool mspawn_key_is_writable(const char *s);

/* Pure: writes the model as a .mspawn that the loader reads back into the same model. comment, when not
 * NULL, goes first as a "# " line. Returns -EINVAL, with *ret_bad_key ("Machine.Architecture") when
 * given, for a value or key that cannot be written faithfully; the output is then incomplete, so write
 * into memory (mspawn_format()) and save only on success. */
int mspawn_write(const MachineConfig *c, const char *comment, FILE *f, const char **ret_bad_key);

/* The same into a string. */
int mspawn_format(const MachineConfig *c, const char *comment, char **ret, const char **ret_bad_key);
