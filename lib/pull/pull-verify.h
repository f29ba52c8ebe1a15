/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "diag.h"
#include "machine-config.h"
#include "pull-transfer.h"

/* The line for name in a SHA256SUMS text ("HEX  name", "HEX *name", "./name"): its digest in lower case.
 * -ESRCH when there is none. Pure, unit-tested. */
int sha256sums_find(const char *text, const char *name, char ret[65]);

/* The digest url must have, as verify says: the given one (VERIFY_SHA256), the SHA256SUMS line beside it
 * (VERIFY_CHECKSUM, fetched with t), or none (VERIFY_NO: *ret_have false). */
int verify_expected_digest(const TransferOptions *t, const char *url, VerifyMode verify, const char *sha256,
                           char ret[65], bool *ret_have, Diagnostics *d);

/* The digest of what fd holds from its start; leaves it at the start again. */
int verify_hash_fd(int fd, char ret[65]);
