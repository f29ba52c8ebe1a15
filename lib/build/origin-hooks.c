/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which Run= and Copy= hooks a record has seen done, by the SHA-256 of their text. Apart from origin.c, so
 * that what only reads and writes records needs no libcrypto. */
#include "origin.h"
#include "sha256.h"
#include "strv.h"

char *hook_id(const char *kind, const char *text) {
        char hex[65];

        /* the digest can fail (an allocation in the crypto library): never an id of nothing */
        if (sha256_hex(text, strlen(text), hex) < 0)
                return NULL;
        return strjoin(kind, ":", hex);
}

int hooks_pending(const Origin *o, const char *kind, char **hooks, char ***ret) {
        _cleanup_strv_free_ char **pending = NULL;

        STRV_FOREACH(h, hooks) {
                _cleanup_free_ char *id = hook_id(kind, *h);
                if (!id)
                        return -ENOMEM;
                if (!strv_contains(o->hooks, id) && strv_extend(&pending, *h) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(pending);
        return 0;
}
