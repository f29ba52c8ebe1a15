/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* The keys systemd.nspawn(5) documents for [Exec], [Files] and [Network]. */
bool nspawn_key_is_known(const char *section, const char *key);
