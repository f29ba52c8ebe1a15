/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "oci-exec.h"

/* Manifests, indexes and configs of the OCI image spec and Docker's schema 2. */

#define OCI_MANIFEST_MAX (4U * 1024U * 1024U) /* manifests, indexes and configs: refused above */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MT_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
/* what a manifest request accepts, in the order of preference */
#define OCI_ACCEPT OCI_MT_INDEX ", " OCI_MT_MANIFEST ", " DOCKER_MT_LIST ", " DOCKER_MT_MANIFEST

typedef struct OciDescriptor {
        char *media_type;
        char *digest; /* "sha256:HEX" */
        uint64_t size;
} OciDescriptor;

typedef struct OciManifest {
        OciDescriptor config;
        OciDescriptor *layers;
        size_t n_layers;
} OciManifest;

void oci_descriptor_done(OciDescriptor *d);
void oci_manifest_done(OciManifest *m);

/* Whether the document is an index (or manifest list): by its mediaType, else by the Content-Type it
 * came with (content_type may be NULL), else by having "manifests". 1 index, 0 manifest, -EBADMSG if it
 * is neither or not JSON. */
int oci_document_is_index(const char *text, size_t size, const char *content_type);

/* The manifest in an index for os/architecture/variant (variant NULL: any, preferring none). Attestation
 * and other entries without a runnable platform are skipped. -ENOENT with a message that lists the
 * platforms the index has. */
int oci_index_select(const char *text, size_t size, const char *os, const char *arch, const char *variant,
                     OciDescriptor *ret, Diagnostics *d);

/* A manifest's config and layers, with their digests and sizes checked for form. */
int oci_manifest_parse(const char *text, size_t size, OciManifest *ret, Diagnostics *d);

/* The image config's Env, WorkingDir, User, Entrypoint and Cmd (ret->boot is left 0). */
int oci_config_parse(const char *text, size_t size, OciExec *ret, Diagnostics *d);

/* Whether a layer's media type is one we unpack (tar, gzip, zstd; OCI and Docker names). */
bool oci_layer_media_type_is_supported(const char *media_type);

/* "sha256:HEX" with 64 lower-case hex digits. */
bool oci_digest_is_valid(const char *digest);
