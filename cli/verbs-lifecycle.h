/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "machine-build.h"

/* machinespawn rebuild NAME, machinespawn rollback NAME: NAME checked, run as root. */
int verb_rebuild_machine(const char *name, BuildProgress progress);
int verb_rollback_machine(const char *name);
