/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "machine-config.h"
#include "user.h"

/* The .nspawn settings file that machinespawn-prepare installs at start time. user: the [User] host user
 * as looked up then, or NULL; sockets: what Display=/Audio= found, or NULL. */
int nspawn_settings_write(const MachineConfig *c, const HostUser *user, const HostSockets *sockets, FILE *f);
