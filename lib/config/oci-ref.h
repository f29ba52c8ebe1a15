/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* A container image reference as skopeo and podman spell it: docker://[REGISTRY/]NAME[:TAG|@sha256:DIGEST].
 * A first component with a '.' or ':' in it, or "localhost", is the registry; otherwise the registry is
 * docker.io, where a one-component name lives below library/. */
typedef struct OciRef {
        char *registry;   /* "docker.io", "quay.io", "127.0.0.1:5000" */
        char *repository; /* "library/debian" */
        char *tag;        /* "latest" when neither tag nor digest is given; NULL with a digest */
        char *digest;     /* "sha256:HEX" or NULL */
} OciRef;

#define OCI_REF_PREFIX "docker://"

void oci_ref_done(OciRef *r);

/* Whether s is meant as a registry reference (starts with docker://). */
bool oci_ref_is_docker(const char *s);

/* Parses s, with or without the docker:// prefix. -EINVAL on a bad reference, with *ret_why (static
 * text) saying what is wrong. */
int oci_ref_parse(const char *s, OciRef *ret, const char **ret_why);

/* The host the registry API answers on: registry-1.docker.io for docker.io, else the registry. */
const char *oci_registry_api_host(const char *registry);

/* Debian architecture (amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64, ...) or an OCI one
 * (amd64, arm64, arm, arm/v7, 386, ppc64le, ...) to the OCI architecture and variant (NULL: any).
 * -EINVAL if unknown. */
int oci_platform_from_arch(const char *arch, const char **ret_arch, const char **ret_variant);
