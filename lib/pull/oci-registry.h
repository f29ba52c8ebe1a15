/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "oci-manifest.h"
#include "oci-ref.h"

/* A client of one repository of a registry (distribution API v2) with libcurl: TLS always verified
 * (plain HTTP only when the registry is configured as insecure), anonymous bearer tokens from the
 * WWW-Authenticate challenge, Basic credentials from containers-auth.json(5). Redirects are followed by
 * hand: an Authorization header goes only to the registry's own origin (blob downloads commonly
 * redirect to a CDN), and nothing that started on https is redirected to http. */
typedef struct OciRegistry {
        char *registry, *repository;
        char *origin;      /* "https://HOST[:PORT]" */
        char *basic;       /* base64(USER:PASSWORD), or NULL */
        char *credentials_from; /* the file basic came from */
        char *authorization; /* "Bearer TOKEN" or "Basic ..." once the registry asked */
        const char *ca_bundle; /* NULL: the system's (Paths.ca_bundle) */
        bool insecure;
        uint64_t downloaded; /* bytes of blobs received */
        unsigned requests;   /* HTTP requests made, redirects and retries counted */
} OciRegistry;

void oci_registry_done(OciRegistry *r);

/* insecure: the registry is named in [Registries] Insecure=. auth_files NULL: oci_auth_files(). */
int oci_registry_open(OciRegistry *r, const OciRef *ref, bool insecure, char **auth_files, Diagnostics *d);

/* GETs the manifest or index for reference (a tag or a digest), at most OCI_MANIFEST_MAX bytes,
 * NUL-terminated. With a digest reference, the body must hash to it. ret_digest gets the body's
 * "sha256:HEX". */
int oci_registry_get_manifest(OciRegistry *r, const char *reference, char **ret_body, size_t *ret_size,
                              char **ret_content_type, char **ret_digest, Diagnostics *d);

/* The blob in the cache directory blob_dir (CACHE/oci/blobs/sha256): HEX if there, otherwise downloaded
 * into a temporary while hashing and counting, checked against the digest and size, and renamed to HEX;
 * on a mismatch the temporary is removed and nothing is kept. Under blob_dir/HEX.lock. Returns an fd of
 * the verified blob, at its start. */
int oci_registry_get_blob(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, Diagnostics *d);

/* The same, and every byte also written to out (a socket) as it arrives, or, when the blob is in the
 * cache, the cached copy written to out whole. What reaches out is not verified until this returns 0: its
 * reader keeps what it makes of it apart, to be discarded unless this succeeds. A reader that stops early
 * (closes out) ends the download with -EPIPE, and nothing is kept. */
int oci_registry_stream_blob(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, int out,
                             Diagnostics *d);
