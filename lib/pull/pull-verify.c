/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>

#include "pull-verify.h"
#include "sha256.h"
#include "strv.h"

int sha256sums_find(const char *text, const char *name, char ret[65]) {
        _cleanup_strv_free_ char **lines = NULL;

        if (strv_split(&lines, text, "\n") < 0)
                return -ENOMEM;
        STRV_FOREACH(l, lines) {
                /* "HEX  name" or "HEX *name" (binary mode) */
                const char *s = *l, *f;
                size_t hex = strspn(s, "0123456789abcdefABCDEF");
                if (hex != 64 || !isspace((unsigned char) s[64]))
                        continue;
                f = s + 64 + strspn(s + 64, " \t");
                if (*f == '*')
                        f++;
                if (startswith(f, "./"))
                        f += 2;
                if (!streq(f, name))
                        continue;
                for (unsigned i = 0; i < 64; i++)
                        ret[i] = (char) tolower((unsigned char) s[i]);
                ret[64] = 0;
                return 0;
        }
        return -ESRCH;
}

/* SHA256SUMS in the directory of url, and url's file name in it. */
static int sums_location(const char *url, char **ret_sums_url, char **ret_name, Diagnostics *d) {
        const char *slash = strrchr(url, '/');
        _cleanup_free_ char *dir = NULL, *name = NULL;

        if (!slash || !slash[1])
                return diag_error(d, NULL, 0, EINVAL, "%s does not name a file.", url);
        name = strndup(slash + 1, strcspn(slash + 1, "?#"));
        dir = strndup(url, slash + 1 - url);
        if (!name || !dir)
                return -ENOMEM;
        *ret_sums_url = strjoin(dir, "SHA256SUMS");
        if (!*ret_sums_url)
                return -ENOMEM;
        *ret_name = TAKE_PTR(name);
        return 0;
}

int verify_expected_digest(const TransferOptions *t, const char *url, VerifyMode verify, const char *sha256,
                           char ret[65], bool *ret_have, Diagnostics *d) {
        _cleanup_free_ char *sums_url = NULL, *sums = NULL, *name = NULL;
        int r;

        *ret_have = false;
        if (verify == VERIFY_NO)
                return 0;
        if (verify == VERIFY_SHA256) {
                for (unsigned i = 0; i < 64; i++)
                        ret[i] = (char) tolower((unsigned char) sha256[i]);
                ret[64] = 0;
                *ret_have = true;
                return 0;
        }

        r = sums_location(url, &sums_url, &name, d);
        if (r < 0)
                return r;
        r = transfer_fetch_small(t, sums_url, &sums, d);
        if (r == -ENOENT)
                return diag_error(d, NULL, 0, ENOENT,
                                  "No %s beside the image to verify it with (Verify=checksum); set Verify=sha256:HEX "
                                  "or, at your own risk, Verify=no.", sums_url);
        if (r < 0)
                return r;
        r = sha256sums_find(sums, name, ret);
        if (r == -ESRCH)
                return diag_error(d, NULL, 0, ENOENT, "%s has no entry for %s.", sums_url, name);
        if (r < 0)
                return r;
        *ret_have = true;
        return 0;
}

int verify_hash_fd(int fd, char ret[65]) {
        _cleanup_free_ uint8_t *buf = malloc(1024 * 1024);
        uint8_t digest[32];
        _cleanup_(sha256_done) Sha256 h = {};
        ssize_t n;

        if (!buf || sha256_init(&h) < 0)
                return -ENOMEM;
        while ((n = read(fd, buf, 1024 * 1024)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                sha256_update(&h, buf, (size_t) n);
        }
        sha256_final(&h, digest);
        sha256_to_hex(digest, ret);
        return lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
}
