/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <archive.h>

/* Opens the archive a on the stream fd (a file or a socket, read once from where it is, not closed). A gzip
 * stream is inflated here, with ISA-L's igzip when machinespawn is built with it (several times as fast as
 * zlib: most of the time of applying a gzip layer was inflating it), else with zlib; several members are
 * one stream, and each one's CRC and length are checked (libarchive's own gzip reader does not check the
 * CRC). Anything else is handed through as it is, for libarchive's filters (zstd, plain). */
int layer_input_open(struct archive *a, int fd);

/* Loads what inflating needs (ISA-L, when installed) now: from the working directory we were started in,
 * never from inside a tree that an unpacking thread has made its working directory. layer_input_open()
 * does it too, the first time. */
void layer_input_prepare(void);
