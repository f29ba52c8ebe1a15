/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "diag.h"
#include "oci-layer.h"
#include "oci-manifest.h"
#include "oci-registry.h"

/* Fetches the layer desc (from blob_dir when cached there, else from the registry, kept in blob_dir once
 * verified) and applies it onto target in the same pass: one thread receives and hashes the blob, another
 * inflates and unpacks it as it arrives, with oci_layer_apply()'s guards. Until the last byte is checked
 * against the digest, what was unpacked is unverified, so target must be a staging directory that nothing
 * uses before the whole image is applied, and that the caller removes on failure (a digest that does not
 * match at the end fails the layer). With copy, the entries are written there too (oci_layer_apply_copy()).
 * blob_dir (and the CA bundle) should be absolute: the unpacking thread changes the working directory, so
 * with a relative one the blob is fetched first and unpacked after. */
int oci_stream_layer(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, const char *target,
                     struct archive *copy, OciLayerStats *stats, Diagnostics *d);
