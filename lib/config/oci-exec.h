/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "machine-config.h"

/* What an image's config says about running it, recorded when the machine is pulled
 * (STATE_DIR/NAME.oci) and turned into the machine's systemd.nspawn(5) [Exec] settings at each start. */
typedef struct OciExec {
        char **environment;      /* "KEY=VALUE" */
        char *working_directory;
        char *user;
        char **argv;             /* Entrypoint, then Cmd */
        int boot;                /* > 0: the image's /sbin/init is systemd, so it boots */
} OciExec;

void oci_exec_done(OciExec *e);
OciExec *oci_exec_free(OciExec *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(OciExec *, oci_exec_free);

/* The record: "boot=yes|no", then "env=", "workdir=", "user=", "arg=" lines, one value each. -EINVAL
 * when a value holds a newline or NUL (never written, never read back differently). */
int oci_exec_format(const OciExec *e, char **ret);
int oci_exec_parse(const char *text, OciExec *ret);

/* The [Exec] lines for e (without the section header): Boot=, and unless the machine boots,
 * Parameters=, Environment=, WorkingDirectory=, User=. exec is the .mspawn's own [Exec]: a Boot= there
 * wins over the image's choice. -EINVAL for a value systemd-nspawn would read back differently. */
int oci_exec_write_nspawn(const OciExec *e, const SettingList *exec, FILE *f);
