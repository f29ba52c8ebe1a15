/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Registry authentication: the WWW-Authenticate challenge, credentials from containers-auth.json(5)
 * files, and the rule that credentials only ever go to the origin they are for. */

typedef struct OciChallenge {
        char *scheme; /* "bearer" or "basic", lower case */
        char *realm, *service, *scope;
} OciChallenge;

void oci_challenge_done(OciChallenge *c);

/* Parses a WWW-Authenticate value: SCHEME key="value", key=token, ... (quoted values may hold commas and
 * backslash escapes). Only the first challenge is read. -EINVAL if there is none. */
int oci_challenge_parse(const char *value, OciChallenge *ret);

/* The credential files in the order they are consulted: $REGISTRY_AUTH_FILE, /run/containers/0/auth.json,
 * /etc/containers/auth.json, ~/.docker/config.json ($HOME). */
int oci_auth_files(char ***ret);

/* The "auth" value (base64 of USER:PASSWORD) for registry/repository from the JSON text of one file:
 * "auths" keys "REGISTRY/REPOSITORY-PREFIX" (the longest match first), then "REGISTRY"; docker.io also
 * as "https://index.docker.io/v1/" and "index.docker.io". -ENOENT if it has none, -EBADMSG if the text
 * is not such a file. */
int oci_auth_lookup_text(const char *text, const char *registry, const char *repository, char **ret);

/* The same over files (missing ones skipped, unreadable or broken ones too, each with *ret_skipped set
 * to the first such path when given); the first file that names the registry wins. -ENOENT if none. */
int oci_auth_lookup(char **files, const char *registry, const char *repository, char **ret,
                    char **ret_skipped);

/* Whether a and b (absolute URLs) have the same scheme, host and port: only then may what a request to
 * a carries (an Authorization header) go along to b. */
bool oci_url_same_origin(const char *a, const char *b);
