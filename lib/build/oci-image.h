/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "global-config.h"
#include "machine-build.h"
#include "oci-exec.h"

typedef struct OciImageResult {
        char digest[72];     /* the platform manifest's "sha256:HEX" */
        bool tree_cached;    /* the flattened tree was in the cache: nothing but the manifest fetched */
        unsigned layers;
        uint64_t downloaded; /* blob bytes */
} OciImageResult;

/* Makes target (which must not exist) a copy of the image's flattened tree for arch (a Debian or OCI
 * architecture; NULL: the host's), pulling and flattening it first unless the cache has it: blobs in
 * CACHE/oci/blobs/sha256/HEX, trees (or their archives) in CACHE/oci/trees/HEX-of-the-manifest, published
 * like bases. ret_exec gets what the image's config says, with boot set when its /sbin/init is systemd. */
int oci_image_materialize(const char *reference, const char *arch, const GlobalConfig *g, const BuildOptions *o,
                          const char *target, OciExec *ret_exec, OciImageResult *ret, Diagnostics *d);

/* machine_build() for Image=docker://...: the tree at path, the config's settings in
 * STATE_DIR/NAME.oci (see machine_oci_exec_path()). */
int machine_build_oci(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, const char *path,
                      BuildResult *ret, Diagnostics *d);

/* STATE_DIR/NAME.oci: the image's settings for the machine, read by machinespawn-prepare. */
char *machine_oci_exec_path(const BuildOptions *o, const char *name);

/* The machine's recorded image settings: 0 and *ret NULL when it has none (not from a registry). */
int machine_oci_exec_load(const BuildOptions *o, const char *name, OciExec **ret);

/* Whether the tree's /sbin/init, resolved inside the tree, is systemd. */
bool tree_init_is_systemd(const char *root);
