/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "fileio.h"
#include "json-util.h"
#include "oci-auth.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup);

#define AUTH_FILE_MAX (1024U * 1024U)

void oci_challenge_done(OciChallenge *c) {
        free(c->scheme);
        free(c->realm);
        free(c->service);
        free(c->scope);
        *c = (OciChallenge) {};
}

int oci_challenge_parse(const char *value, OciChallenge *ret) {
        _cleanup_(oci_challenge_done) OciChallenge c = {};
        const char *p = value;
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, " \t,");
        if (n == 0)
                return -EINVAL;
        c.scheme = strndup(p, n);
        if (!c.scheme)
                return -ENOMEM;
        for (char *s = c.scheme; *s; s++)
                *s = (char) tolower((unsigned char) *s);
        p += n;

        for (;;) {
                _cleanup_free_ char *key = NULL, *val = NULL;
                size_t vlen = 0;

                p += strspn(p, " \t,");
                if (!*p)
                        break;
                n = strcspn(p, "= \t,");
                if (p[n] != '=') /* a second challenge's scheme: ours ends here */
                        break;
                key = strndup(p, n);
                if (!key)
                        return -ENOMEM;
                p += n + 1;
                val = malloc(strlen(p) + 1);
                if (!val)
                        return -ENOMEM;
                if (*p == '"') {
                        p++;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1])
                                        p++;
                                val[vlen++] = *p++;
                        }
                        if (*p != '"')
                                return -EINVAL; /* unterminated */
                        p++;
                } else
                        while (*p && !strchr(" \t,", *p))
                                val[vlen++] = *p++;
                val[vlen] = 0;

                char **field = strcasecmp(key, "realm") == 0     ? &c.realm
                               : strcasecmp(key, "service") == 0 ? &c.service
                               : strcasecmp(key, "scope") == 0   ? &c.scope
                                                                 : NULL;
                if (field) {
                        free(*field);
                        *field = TAKE_PTR(val);
                }
        }
        *ret = c;
        c = (OciChallenge) {};
        return 0;
}

int oci_auth_files(char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const char *e = getenv("REGISTRY_AUTH_FILE"), *home = getenv("HOME");
        int r = 0;

        if (!l)
                return -ENOMEM;
        if (!isempty(e))
                r = strv_extend(&l, e);
        if (r >= 0)
                r = strv_extend(&l, "/run/containers/0/auth.json");
        if (r >= 0)
                r = strv_extend(&l, "/etc/containers/auth.json");
        if (r >= 0 && !isempty(home)) {
                _cleanup_free_ char *p = strjoin(home, "/.docker/config.json");
                r = p ? strv_extend(&l, p) : -ENOMEM;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static const char *entry_auth(json_object *auths, const char *key) {
        json_object *e, *a;

        if (!json_object_object_get_ex(auths, key, &e) || !json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "auth", &a) || !json_object_is_type(a, json_type_string))
                return NULL;
        return isempty(json_object_get_string(a)) ? NULL : json_object_get_string(a);
}

int oci_auth_lookup_text(const char *text, const char *registry, const char *repository, char **ret) {
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(text);
        _cleanup_free_ char *key = NULL;
        json_object *auths;
        const char *auth = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(o, "auths", &auths))
                return -ENOENT;
        if (!json_object_is_type(auths, json_type_object))
                return -EBADMSG;

        /* REGISTRY/a/b/c, then REGISTRY/a/b, ..., then REGISTRY */
        key = strjoin(registry, "/", strempty(repository));
        if (!key)
                return -ENOMEM;
        for (;;) {
                auth = entry_auth(auths, key);
                if (auth)
                        break;
                char *slash = strrchr(key, '/');
                if (!slash)
                        break;
                *slash = 0;
        }
        if (!auth && streq(registry, "docker.io"))
                auth = entry_auth(auths, "https://index.docker.io/v1/") ?: entry_auth(auths, "index.docker.io") ?:
                       entry_auth(auths, "registry-1.docker.io");
        if (!auth)
                return -ENOENT;
        *ret = strdup(auth);
        return *ret ? 0 : -ENOMEM;
}

int oci_auth_lookup(char **files, const char *registry, const char *repository, char **ret, char **ret_skipped) {
        STRV_FOREACH(f, files) {
                _cleanup_close_ int fd = open(*f, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                _cleanup_free_ char *text = NULL;
                struct stat st;
                int r;

                if (fd < 0)
                        continue;
                /* a regular file only: a FIFO or a device in its place is skipped, never read */
                r = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -EBADFD;
                if (r >= 0)
                        r = read_fd_bounded(fd, AUTH_FILE_MAX, &text, NULL);
                if (r >= 0)
                        r = oci_auth_lookup_text(text, registry, repository, ret);
                if (r >= 0 || r == -ENOMEM)
                        return r;
                if (r != -ENOENT && ret_skipped && !*ret_skipped)
                        *ret_skipped = strdup(*f);
        }
        return -ENOENT;
}

static int url_origin(const char *url, char **ret_scheme, char **ret_host, char **ret_port) {
        _cleanup_(curl_url_cleanupp) CURLU *u = curl_url();

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, ret_scheme, 0) != CURLUE_OK)
                return -EINVAL;
        if (curl_url_get(u, CURLUPART_HOST, ret_host, 0) != CURLUE_OK) {
                curl_free(*ret_scheme);
                return -EINVAL;
        }
        if (curl_url_get(u, CURLUPART_PORT, ret_port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
                curl_free(*ret_scheme);
                curl_free(*ret_host);
                return -EINVAL;
        }
        return 0;
}

bool oci_url_same_origin(const char *a, const char *b) {
        char *sa, *ha, *pa, *sb, *hb, *pb;
        bool same;

        if (!a || !b || url_origin(a, &sa, &ha, &pa) < 0)
                return false;
        if (url_origin(b, &sb, &hb, &pb) < 0) {
                curl_free(sa);
                curl_free(ha);
                curl_free(pa);
                return false;
        }
        same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && streq(pa, pb);
        curl_free(sa);
        curl_free(ha);
        curl_free(pa);
        curl_free(sb);
        curl_free(hb);
        curl_free(pb);
        return same;
}
