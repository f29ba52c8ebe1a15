/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json-util.h"
#include "oci-auth.h"
#include "alloc-util.h"
#include "oci-registry.h"
#include "sha256.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

#define MAX_REDIRECTS 10
#define ERROR_BODY_MAX 4096U
#define SINK_FLUSH (8U * 1024U * 1024U)
/* curl's default 16 KiB pieces cost a write, a send and a wakeup of the layer's reader each */
#define RECEIVE_BUFFER (256L * 1024L)

void oci_registry_done(OciRegistry *r) {
        free(r->registry);
        free(r->repository);
        free(r->origin);
        free(r->basic);
        free(r->credentials_from);
        free(r->authorization);
        *r = (OciRegistry) {};
}

int oci_registry_open(OciRegistry *r, const OciRef *ref, bool insecure, char **auth_files, Diagnostics *d) {
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *skipped = NULL;
        int k;

        *r = (OciRegistry) {
                .registry = strdup(ref->registry),
                .repository = strdup(ref->repository),
                .origin = strjoin(insecure ? "http://" : "https://", oci_registry_api_host(ref->registry)),
                .insecure = insecure,
        };
        if (!r->registry || !r->repository || !r->origin)
                return -ENOMEM;
        if (!auth_files) {
                k = oci_auth_files(&files);
                if (k < 0)
                        return k;
                auth_files = files;
        }
        k = oci_auth_lookup(auth_files, ref->registry, ref->repository, &r->basic, &skipped);
        if (k == -ENOMEM)
                return k;
        if (skipped)
                diag_warning(d, skipped, 0, "Not a credentials file (JSON with \"auths\"), ignoring.");
        return 0;
}

/* Where a response body goes: memory (manifests, tokens) or a file being hashed (blobs). */
typedef struct Sink {
        CURL *easy;
        bool checked, take; /* the status was looked at; 2xx: keep the body */
        /* memory */
        char *buf;
        size_t allocated; /* of buf */
        size_t size, max;
        /* file */
        int fd;
        int tee; /* also sent there as it arrives, or -EBADF */
        Sha256 hash;
        uint64_t limit;
        uint64_t flushed; /* bytes of fd handed to writeback already */
        int error;
        uint64_t *counter;
} Sink;

typedef struct Headers {
        char *www_authenticate, *content_type;
} Headers;

static void headers_done(Headers *h) {
        free(h->www_authenticate);
        free(h->content_type);
        *h = (Headers) {};
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        Headers *h = userdata;
        size_t len = size * n;
        char **field = NULL;
        const char *v;

        /* a new response (after a 100 or within a redirect chain we do not follow): forget the old one */
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                headers_done(h);
                return len;
        }
        if (len > 17 && strncasecmp(data, "WWW-Authenticate:", 17) == 0) {
                v = data + 17;
                field = &h->www_authenticate;
        } else if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
                v = data + 13;
                field = &h->content_type;
        }
        if (field && !*field) {
                size_t skip = strspn(v, " \t"), vlen = len - (size_t) (v - data) - skip;
                while (vlen > 0 && strchr("\r\n \t", v[skip + vlen - 1]))
                        vlen--;
                *field = strndup(v + skip, vlen);
        }
        return len;
}

/* On a socket with send(), which never raises SIGPIPE: a consumer that gave up is an -EPIPE here. */
static int write_all(int fd, bool socket, const char *data, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t k = socket ? send(fd, data + done, len - done, MSG_NOSIGNAL) :
                                     write(fd, data + done, len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) k;
        }
        return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        Sink *s = userdata;
        size_t len = size * n;

        if (!s->checked) {
                long status = 0;
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
                s->take = status >= 200 && status < 300;
                s->checked = true;
        }
        if (!s->take)
                return len; /* an error page or a redirect's body: drained */

        if (s->fd >= 0) {
                if (s->limit != UINT64_MAX && s->size + len > s->limit) {
                        s->error = -EFBIG;
                        return 0;
                }
                sha256_update(&s->hash, data, len);
                s->error = write_all(s->fd, false, data, len);
                if (s->error >= 0 && s->tee >= 0)
                        s->error = write_all(s->tee, true, data, len);
                if (s->error < 0)
                        return 0;
                s->size += len;
                /* the blob is fsync()ed before it gets its name: its pages go to disk while it streams, not
                 * all in that one call, where the layer being unpacked waits for them */
                if (s->size - s->flushed >= SINK_FLUSH) {
                        (void) sync_file_range(s->fd, (off_t) s->flushed, (off_t) (s->size - s->flushed),
                                               SYNC_FILE_RANGE_WRITE);
                        s->flushed = s->size;
                }
                if (s->counter)
                        *s->counter += len;
                return len;
        }

        if (s->size + len > s->max) {
                s->error = -EFBIG;
                return 0;
        }
        if (GREEDY_REALLOC(s->buf, s->allocated, s->size + len + 1) < 0) {
                s->error = -ENOMEM;
                return 0;
        }
        memcpy(s->buf + s->size, data, len);
        s->size += len;
        s->buf[s->size] = 0;
        return len;
}

static int easy_setup(OciRegistry *r, CURL *easy, const char *url) {
        const char *ca = r->ca_bundle;

        if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
                return -EINVAL;
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, r->insecure ? "http,https" : "https");
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* by hand, see request() */
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (ca)
                curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "machinespawn");
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, RECEIVE_BUFFER);
        return 0;
}

/* One GET with redirects followed by hand. authorization goes only to the origin of the first URL.
 * Returns the final status; the body of a 2xx went to s. */
static int request(OciRegistry *r, const char *url, const char *accept, const char *authorization, Sink *s,
                   Headers *h, long *ret_status, Diagnostics *d) {
        _cleanup_free_ char *current = strdup(url), *accept_h = accept ? strjoin("Accept: ", accept) : NULL;
        _cleanup_free_ char *auth_h = authorization ? strjoin("Authorization: ", authorization) : NULL;

        if (!current || (accept && !accept_h) || (authorization && !auth_h))
                return -ENOMEM;
        for (unsigned hop = 0;; hop++) {
                _cleanup_(curl_easy_cleanupp) CURL *easy = curl_easy_init();
                _cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
                char *location = NULL;
                long status = 0;
                CURLcode c;
                int k;

                if (!easy)
                        return -ENOMEM;
                k = easy_setup(r, easy, current);
                if (k < 0)
                        return diag_error(d, NULL, 0, EINVAL, "Cannot request %s: not a usable URL.", current);
                if (accept_h && !(hdrs = curl_slist_append(hdrs, accept_h)))
                        return -ENOMEM;
                /* the one place credentials are attached: never to another scheme, host or port */
                if (auth_h && oci_url_same_origin(url, current)) {
                        struct curl_slist *n = curl_slist_append(hdrs, auth_h);
                        if (!n)
                                return -ENOMEM;
                        hdrs = n;
                }
                curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
                headers_done(h);
                curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
                curl_easy_setopt(easy, CURLOPT_HEADERDATA, h);
                s->easy = easy;
                s->checked = s->take = false;
                curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
                curl_easy_setopt(easy, CURLOPT_WRITEDATA, s);

                r->requests++;
                c = curl_easy_perform(easy);
                if (s->error < 0)
                        return s->error;
                if (c != CURLE_OK)
                        return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: %s", current, curl_easy_strerror(c));
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
                if (status < 300 || status >= 400 || status == 304) {
                        *ret_status = status;
                        return 0;
                }
                if (hop >= MAX_REDIRECTS)
                        return diag_error(d, NULL, 0, ELOOP, "Cannot fetch %s: more than %d redirects.", url,
                                          MAX_REDIRECTS);
                if (curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &location) != CURLE_OK || !location)
                        return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: HTTP %ld without a Location.", current,
                                          status);
                if (startswith(current, "https:") && !startswith(location, "https:"))
                        return diag_error(d, NULL, 0, EPERM, "Refusing the redirect from %s to %s: it leaves TLS.",
                                          current, location);
                char *next = strdup(location);
                if (!next)
                        return -ENOMEM;
                free(current);
                current = next;
        }
}

static int fetch_token(OciRegistry *r, const OciChallenge *ch, Diagnostics *d) {
        _cleanup_(curl_easy_cleanupp) CURL *esc = curl_easy_init();
        _cleanup_free_ char *url = NULL, *scope = NULL, *basic = NULL;
        _cleanup_(headers_done) Headers h = {};
        _cleanup_(json_object_putp) json_object *o = NULL;
        Sink s = { .fd = -EBADF, .tee = -EBADF, .max = 1024 * 1024 };
        json_object *t;
        long status = 0;
        int k;

        if (!esc)
                return -ENOMEM;
        if (!ch->realm || (!startswith(ch->realm, "https://") && !(r->insecure && startswith(ch->realm, "http://"))))
                return diag_error(d, NULL, 0, EPERM, "%s asks for a token from '%s', which is not an https:// URL.",
                                  r->registry, strempty(ch->realm));
        scope = ch->scope ? strdup(ch->scope) : strjoin("repository:", r->repository, ":pull");
        if (!scope)
                return -ENOMEM;
        char *es = curl_easy_escape(esc, scope, 0), *sv = ch->service ? curl_easy_escape(esc, ch->service, 0) : NULL;
        if (!es || (ch->service && !sv)) {
                curl_free(es);
                curl_free(sv);
                return -ENOMEM;
        }
        url = strjoin(ch->realm, strchr(ch->realm, '?') ? "&" : "?", "scope=", es, sv ? "&service=" : "", strempty(sv));
        curl_free(es);
        curl_free(sv);
        if (!url)
                return -ENOMEM;
        /* credentials for the registry go to its token service, which is what it asked for */
        if (r->basic && !(basic = strjoin("Basic ", r->basic)))
                return -ENOMEM;
        k = request(r, url, "application/json", basic, &s, &h, &status, d);
        if (k < 0) {
                free(s.buf);
                return k;
        }
        if (status != 200) {
                free(s.buf);
                return diag_error(d, NULL, 0, EACCES, "The token service of %s (%s) answered HTTP %ld%s.", r->registry,
                                  ch->realm, status, status == 401 ? ": the credentials are refused" : "");
        }
        o = json_tokener_parse(strempty(s.buf));
        free(s.buf);
        if (!o || !((json_object_object_get_ex(o, "token", &t) && json_object_is_type(t, json_type_string)) ||
                    (json_object_object_get_ex(o, "access_token", &t) && json_object_is_type(t, json_type_string))))
                return diag_error(d, NULL, 0, EBADMSG, "The token service of %s gave no token.", r->registry);
        const char *token = json_object_get_string(t);
        if (isempty(token) || strpbrk(token, "\r\n"))
                return diag_error(d, NULL, 0, EBADMSG, "The token service of %s gave a malformed token.", r->registry);
        free(r->authorization);
        r->authorization = strjoin("Bearer ", token);
        return r->authorization ? 0 : -ENOMEM;
}

/* What the registry's 401 asks for, obtained. */
static int authenticate(OciRegistry *r, const Headers *h, Diagnostics *d) {
        _cleanup_(oci_challenge_done) OciChallenge ch = {};

        if (!h->www_authenticate || oci_challenge_parse(h->www_authenticate, &ch) < 0)
                return diag_error(d, NULL, 0, EACCES, "%s refuses access (HTTP 401) without saying how to "
                                  "authenticate.", r->registry);
        if (streq(ch.scheme, "bearer"))
                return fetch_token(r, &ch, d);
        if (streq(ch.scheme, "basic")) {
                if (!r->basic)
                        return diag_error(d, NULL, 0, EACCES, "%s needs credentials, and no credentials file has an "
                                          "entry for it (see containers-auth.json(5)).", r->registry);
                free(r->authorization);
                r->authorization = strjoin("Basic ", r->basic);
                return r->authorization ? 0 : -ENOMEM;
        }
        return diag_error(d, NULL, 0, EACCES, "%s asks for '%s' authentication, which is not supported.",
                          r->registry, ch.scheme);
}

/* A GET on the registry, authenticating once when it answers 401. */
static int registry_get(OciRegistry *r, const char *path, const char *accept, Sink *s, Headers *h, long *ret_status,
                        Diagnostics *d) {
        _cleanup_free_ char *url = strjoin(r->origin, path);
        bool retried = false;
        int k;

        if (!url)
                return -ENOMEM;
        for (;;) {
                k = request(r, url, accept, r->authorization, s, h, ret_status, d);
                if (k < 0)
                        return k;
                if (*ret_status != 401)
                        return 0;
                if (retried)
                        return diag_error(d, NULL, 0, EACCES, "%s refuses access to %s%s.", r->registry,
                                          r->repository, r->basic ? " with the credentials given" :
                                          " without credentials (none found, see containers-auth.json(5))");
                k = authenticate(r, h, d);
                if (k < 0)
                        return k;
                retried = true;
        }
}

int oci_registry_get_manifest(OciRegistry *r, const char *reference, char **ret_body, size_t *ret_size,
                              char **ret_content_type, char **ret_digest, Diagnostics *d) {
        _cleanup_free_ char *path = strjoin("/v2/", r->repository, "/manifests/", reference);
        _cleanup_(headers_done) Headers h = {};
        Sink s = { .fd = -EBADF, .tee = -EBADF, .max = OCI_MANIFEST_MAX };
        char hex[65];
        long status = 0;
        int k;

        if (!path)
                return -ENOMEM;
        k = registry_get(r, path, OCI_ACCEPT, &s, &h, &status, d);
        if (k == -EFBIG)
                k = diag_error(d, NULL, 0, EFBIG, "The manifest %s of %s/%s is larger than 4 MiB, refused.", reference,
                               r->registry, r->repository);
        if (k >= 0 && status == 404)
                k = diag_error(d, NULL, 0, ENOENT, "%s has no %s:%s.", r->registry, r->repository, reference);
        else if (k >= 0 && status != 200)
                k = diag_error(d, NULL, 0, EIO, "Cannot fetch the manifest %s of %s/%s: HTTP %ld.", reference,
                               r->registry, r->repository, status);
        if (k < 0) {
                free(s.buf);
                return k;
        }
        if (!s.buf && !(s.buf = strdup("")))
                return -ENOMEM;
        sha256_hex(s.buf, s.size, hex);
        if (startswith(reference, "sha256:") && !streq(reference + 7, hex)) {
                free(s.buf);
                return diag_error(d, NULL, 0, EBADMSG, "The manifest of %s/%s does not match its digest: got "
                                  "sha256:%s, expected %s.", r->registry, r->repository, hex, reference);
        }
        if (ret_digest && !(*ret_digest = strjoin("sha256:", hex))) {
                free(s.buf);
                return -ENOMEM;
        }
        if (ret_content_type) {
                *ret_content_type = TAKE_PTR(h.content_type);
        }
        *ret_body = s.buf;
        *ret_size = s.size;
        return 0;
}

static int open_blob(int dir_fd, const char *hex, uint64_t size) {
        _cleanup_close_ int fd = openat(dir_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != size)
                return -EBADMSG;
        return TAKE_FD(fd);
}

/* The cached blob to out, whole. */
static int copy_out(int fd, int out) {
        char buf[64 * 1024];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                int k;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : 0;
                k = write_all(out, true, buf, (size_t) n);
                if (k < 0)
                        return k;
        }
}

static int get_blob(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, int out, Diagnostics *d) {
        _cleanup_close_ int dir_fd = -EBADF, lock = -EBADF, fd = -EBADF;
        _cleanup_free_ char *lock_name = NULL, *path = NULL, *tmp = NULL;
        _cleanup_(headers_done) Headers h = {};
        const char *hex = desc->digest + strlen("sha256:");
        Sink s = { .fd = -EBADF, .tee = out };
        uint8_t digest[32];
        char got[65];
        long status = 0;
        int k;

        if (!oci_digest_is_valid(desc->digest))
                return diag_error(d, NULL, 0, EINVAL, "'%s' is not a sha256 digest.", desc->digest);
        k = mkdir_p(blob_dir, 0700);
        if (k < 0)
                return diag_error(d, NULL, 0, -k, "Cannot create %s: %s", blob_dir, strerror(-k));
        dir_fd = open(blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return diag_error(d, NULL, 0, errno, "Cannot open %s: %m", blob_dir);
        lock_name = strjoin(hex, ".lock");
        if (!lock_name)
                return -ENOMEM;
        lock = openat(dir_fd, lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot lock %s/%s: %m", blob_dir, lock_name);

        /* a blob in the cache was verified before it got its name */
        fd = open_blob(dir_fd, hex, desc->size);
        if (fd >= 0 && out >= 0) {
                k = copy_out(fd, out);
                if (k < 0)
                        return k;
                return lseek(fd, 0, SEEK_SET) < 0 ? -errno : TAKE_FD(fd);
        }
        if (fd >= 0)
                return TAKE_FD(fd);
        if (fd == -EBADMSG)
                (void) unlinkat(dir_fd, hex, 0);

        tmp = strjoin(blob_dir, "/.", hex, ".XXXXXX");
        path = strjoin("/v2/", r->repository, "/blobs/", desc->digest);
        if (!tmp || !path)
                return -ENOMEM;
        s.fd = mkostemp(tmp, O_CLOEXEC);
        if (s.fd < 0)
                return diag_error(d, NULL, 0, errno, "Cannot create %s: %m", tmp);
        s.limit = desc->size;
        s.counter = &r->downloaded;
        sha256_init(&s.hash);

        k = registry_get(r, path, NULL, &s, &h, &status, d);
        if (k == -EFBIG)
                k = diag_error(d, NULL, 0, EBADMSG, "Blob %s of %s/%s is larger than its manifest says (%llu bytes), "
                               "refused.", desc->digest, r->registry, r->repository, (unsigned long long) desc->size);
        else if (k >= 0 && status != 200)
                k = diag_error(d, NULL, 0, EIO, "Cannot fetch blob %s of %s/%s: HTTP %ld.", desc->digest, r->registry,
                               r->repository, status);
        if (k >= 0) {
                sha256_final(&s.hash, digest);
                sha256_to_hex(digest, got);
                if (s.size != desc->size)
                        k = diag_error(d, NULL, 0, EBADMSG, "Blob %s of %s/%s has %llu bytes, its manifest says %llu; "
                                       "removed.", desc->digest, r->registry, r->repository,
                                       (unsigned long long) s.size, (unsigned long long) desc->size);
                else if (!streq(got, hex))
                        k = diag_error(d, NULL, 0, EBADMSG, "Blob %s of %s/%s does not match its digest (got sha256:%s); "
                                       "removed.", desc->digest, r->registry, r->repository, got);
        }
        if (k >= 0 && fsync(s.fd) < 0)
                k = diag_error(d, NULL, 0, errno, "Cannot write %s: %m", tmp);
        if (k >= 0 && fchmod(s.fd, 0600) >= 0 && renameat(AT_FDCWD, tmp, dir_fd, hex) < 0)
                k = diag_error(d, NULL, 0, errno, "Cannot keep blob %s in %s: %m", hex, blob_dir);
        if (k < 0) {
                (void) unlink(tmp);
                close(s.fd);
                return k;
        }
        if (lseek(s.fd, 0, SEEK_SET) < 0) {
                k = -errno;
                close(s.fd);
                return k;
        }
        return s.fd;
}

int oci_registry_get_blob(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, Diagnostics *d) {
        return get_blob(r, desc, blob_dir, -EBADF, d);
}

int oci_registry_stream_blob(OciRegistry *r, const OciDescriptor *desc, const char *blob_dir, int out,
                             Diagnostics *d) {
        _cleanup_close_ int fd = get_blob(r, desc, blob_dir, out, d);
        return fd < 0 ? fd : 0;
}
