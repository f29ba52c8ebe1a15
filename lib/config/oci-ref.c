/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <string.h>

#include "macro.h"
#include "oci-ref.h"
#include "strv.h"

void oci_ref_done(OciRef *r) {
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (OciRef) {};
}

bool oci_ref_is_docker(const char *s) {
        return s && startswith(s, OCI_REF_PREFIX);
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of a repository name: [a-z0-9]+ joined by '.', '_', "__" or runs of '-'. */
static bool name_component_is_valid(const char *s, size_t n) {
        size_t i = 0;

        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                size_t sep = 0;
                if (s[i] == '.')
                        sep = 1;
                else if (s[i] == '_')
                        sep = i + 1 < n && s[i + 1] == '_' ? 2 : 1;
                else if (s[i] == '-')
                        while (i + sep < n && s[i + sep] == '-')
                                sep++;
                else
                        return false;
                i += sep;
                if (i >= n || !is_lower_alnum(s[i]))
                        return false;
        }
        return true;
}

static bool registry_is_valid(const char *s, size_t n) {
        size_t host = strcspn(s, ":");

        if (host > n)
                host = n;
        if (host == 0 || host > 253)
                return false;
        for (size_t i = 0; i < host; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '.' && s[i] != '-')
                        return false;
        if (host < n) {
                size_t digits = n - host - 1;
                if (digits == 0 || digits > 5)
                        return false;
                for (size_t i = host + 1; i < n; i++)
                        if (!isdigit((unsigned char) s[i]))
                                return false;
                if (atoi(s + host + 1) == 0 || atoi(s + host + 1) > 65535)
                        return false;
        }
        return true;
}

static bool tag_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 128 || !(isalnum((unsigned char) s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

static bool digest_is_valid(const char *s) {
        const char *hex = startswith(s, "sha256:");

        if (!hex || strlen(hex) != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!strchr("0123456789abcdef", hex[i]))
                        return false;
        return true;
}

/* NULL if name is a repository name ("library/debian"), else why not. */
static const char *repository_name_invalid_reason(const char *name) {
        if (isempty(name))
                return "no repository name";
        if (strlen(name) > 255)
                return "the repository name is longer than 255 characters";
        for (const char *p = name;;) {
                size_t n = strcspn(p, "/");
                if (!name_component_is_valid(p, n))
                        return "the repository name is not lower-case letters and digits, separated by '.', '_', "
                               "'-' or '/'";
                if (!p[n])
                        return NULL;
                p += n + 1;
        }
}

int oci_ref_parse(const char *s, OciRef *ret, const char **ret_why) {
        _cleanup_(oci_ref_done) OciRef r = {};
        _cleanup_free_ char *copy = NULL;
        const char *why = NULL;
        char *name, *at, *colon, *slash;

#define BAD(w)                          \
        do {                            \
                why = (w);              \
                goto bad;               \
        } while (0)

        if (!s)
                BAD("empty reference");
        s = startswith(s, OCI_REF_PREFIX) ?: s;
        if (isempty(s))
                BAD("empty reference");
        if (strlen(s) > 1024)
                BAD("longer than 1024 characters");
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        name = copy;

        at = strchr(name, '@');
        if (at) {
                *at = 0;
                if (!digest_is_valid(at + 1))
                        BAD("the digest is not sha256: followed by 64 lower-case hex digits");
                r.digest = strdup(at + 1);
                if (!r.digest)
                        return -ENOMEM;
        }
        /* a ':' after the last '/' is the tag; one before it belongs to the registry's port */
        slash = strrchr(name, '/');
        colon = strrchr(slash ?: name, ':');
        if (colon) {
                *colon = 0;
                if (!tag_is_valid(colon + 1))
                        BAD("the tag is not 1-128 letters, digits, '_', '.' or '-' (not starting with '.' or '-')");
                if (!r.digest) {
                        r.tag = strdup(colon + 1);
                        if (!r.tag)
                                return -ENOMEM;
                }
        }

        slash = strchr(name, '/');
        if (slash && (memchr(name, '.', slash - name) || memchr(name, ':', slash - name) ||
                      ((size_t) (slash - name) == strlen("localhost") && startswith(name, "localhost")))) {
                if (!registry_is_valid(name, slash - name))
                        BAD("the registry is not HOST or HOST:PORT");
                r.registry = strndup(name, slash - name);
                name = slash + 1;
        } else
                r.registry = strdup("docker.io");
        if (!r.registry)
                return -ENOMEM;
        if (streq(r.registry, "index.docker.io") || streq(r.registry, "registry-1.docker.io")) {
                free(r.registry);
                r.registry = strdup("docker.io");
                if (!r.registry)
                        return -ENOMEM;
        }

        why = repository_name_invalid_reason(name);
        if (why)
                goto bad;
        if (streq(r.registry, "docker.io") && !strchr(name, '/'))
                r.repository = strjoin("library/", name);
        else
                r.repository = strdup(name);
        if (!r.repository)
                return -ENOMEM;
        if (!r.tag && !r.digest) {
                r.tag = strdup("latest");
                if (!r.tag)
                        return -ENOMEM;
        }
#undef BAD

        *ret = r;
        r = (OciRef) {};
        if (ret_why)
                *ret_why = NULL;
        return 0;
bad:
        if (ret_why)
                *ret_why = why;
        return -EINVAL;
}

const char *oci_registry_api_host(const char *registry) {
        return streq(registry, "docker.io") ? "registry-1.docker.io" : registry;
}

int oci_platform_from_arch(const char *arch, const char **ret_arch, const char **ret_variant) {
        static const struct {
                const char *name, *arch, *variant;
        } map[] = {
                /* Debian's names */
                { "amd64", "amd64", NULL },
                { "arm64", "arm64", NULL },
                { "armhf", "arm", "v7" },
                { "armel", "arm", "v5" },
                { "i386", "386", NULL },
                { "ppc64el", "ppc64le", NULL },
                { "s390x", "s390x", NULL },
                { "riscv64", "riscv64", NULL },
                { "mips64el", "mips64le", NULL },
                { "loong64", "loong64", NULL },
                /* OCI's (GOARCH), with an optional /VARIANT */
                { "386", "386", NULL },
                { "ppc64le", "ppc64le", NULL },
                { "mips64le", "mips64le", NULL },
                { "arm", "arm", NULL },
                { "arm/v5", "arm", "v5" },
                { "arm/v6", "arm", "v6" },
                { "arm/v7", "arm", "v7" },
                { "arm64/v8", "arm64", "v8" },
        };

        for (size_t i = 0; arch && i < ELEMENTSOF(map); i++)
                if (streq(arch, map[i].name)) {
                        *ret_arch = map[i].arch;
                        *ret_variant = map[i].variant;
                        return 0;
                }
        return -EINVAL;
}
