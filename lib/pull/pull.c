/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <curl/curl.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "fileio.h"
#include "pull.h"
#include "sha256.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(CURLM *, curl_multi_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_read_free);
static inline void archive_write_freep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

bool archive_path_is_safe(const char *path) {
        const char *p = path;

        if (isempty(path) || path[0] == '/' || strlen(path) >= PATH_MAX)
                return false;
        /* no ".." component anywhere: "a/../../b", "..", "../x" */
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p += n;
                p += strspn(p, "/");
        }
        return true;
}

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

/* ---- transfer: curl's multi interface driven from libarchive's read callback ---- */

typedef struct Transfer {
        CURLM *multi;
        CURL *easy;
        bool done;
        CURLcode result;
        /* what arrived and libarchive has not taken yet; "out" is what it is reading now */
        char *in, *out;
        size_t in_size, in_alloc, out_alloc;
        Sha256 hash;
        FILE *keep; /* the copy kept in the cache */
        uint64_t received, total;
        long status;
        bool status_checked;
        const PullOptions *o;
        int error; /* our own, from the write callback */
} Transfer;

static size_t on_data(char *data, size_t size, size_t n, void *userdata) {
        Transfer *t = userdata;
        size_t len = size * n;

        if (!t->status_checked) {
                curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
                t->status_checked = true;
        }
        if (t->status != 200 && t->status != 0) /* 0: file:// */
                return len; /* an error page: drained, not unpacked */

        if (GREEDY_REALLOC(t->in, t->in_alloc, t->in_size + len) < 0) {
                t->error = -ENOMEM;
                return 0;
        }
        memcpy(t->in + t->in_size, data, len);
        t->in_size += len;
        sha256_update(&t->hash, data, len);
        if (t->keep && fwrite(data, 1, len, t->keep) != len) {
                t->error = -EIO;
                return 0;
        }
        t->received += len;
        if (t->o->progress)
                t->o->progress(t->o->userdata, t->received, t->total);
        return len;
}

static int transfer_step(Transfer *t) {
        int running = 0;
        CURLMsg *m;
        int left;

        if (curl_multi_perform(t->multi, &running) != CURLM_OK)
                return -EIO;
        while ((m = curl_multi_info_read(t->multi, &left)))
                if (m->msg == CURLMSG_DONE) {
                        t->done = true;
                        t->result = m->data.result;
                }
        if (!t->done && running == 0)
                t->done = true;
        if (!t->done && t->in_size == 0)
                (void) curl_multi_poll(t->multi, NULL, 0, 1000, NULL);
        if (t->total == 0) {
                curl_off_t cl = -1;
                if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0)
                        t->total = (uint64_t) cl;
        }
        return t->error;
}

static la_ssize_t archive_read_from_transfer(struct archive *a, void *userdata, const void **buf) {
        Transfer *t = userdata;

        while (t->in_size == 0 && !t->done)
                if (transfer_step(t) < 0) {
                        archive_set_error(a, EIO, "transfer failed");
                        return -1;
                }
        if (t->in_size == 0) {
                if (t->result != CURLE_OK) {
                        archive_set_error(a, EIO, "%s", curl_easy_strerror(t->result));
                        return -1;
                }
                return 0; /* end of data */
        }
        /* hand the filled buffer over and keep the other one for what comes next */
        char *tmp = t->out;
        size_t tmp_alloc = t->out_alloc, n = t->in_size;
        t->out = t->in;
        t->out_alloc = t->in_alloc;
        t->in = tmp;
        t->in_alloc = tmp_alloc;
        t->in_size = 0;
        *buf = t->out;
        return (la_ssize_t) n;
}

static void transfer_done(Transfer *t) {
        if (t->multi && t->easy)
                curl_multi_remove_handle(t->multi, t->easy);
        free(t->in);
        free(t->out);
}

static int easy_setup(CURL *easy, const PullOptions *o, const char *url) {
        const char *ca = o->ca_bundle;

        if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
                return -EINVAL;
        curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https,file");
        /* what came over TLS is never redirected to plain HTTP, where anyone on the path could answer */
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR,
                         strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https");
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 30L);
        /* a stalled transfer fails rather than hanging the machine's start forever */
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 60L);
        /* TLS verification is always on; Verify=no is about the content, never about the transport */
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
        if (ca)
                curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "machinespawn");
        curl_easy_setopt(easy, CURLOPT_FILETIME, 1L);
        return 0;
}

static size_t on_small(char *data, size_t size, size_t n, void *userdata) {
        char **buf = userdata;
        size_t len = size * n, have = *buf ? strlen(*buf) : 0;

        if (have + len > 1024 * 1024)
                return 0; /* a SHA256SUMS file is small */
        if (GREEDY_REALLOC_UNKNOWN(*buf, have + len + 1) < 0)
                return 0;
        memcpy(*buf + have, data, len);
        (*buf)[have + len] = 0;
        return len;
}

/* Fetches a small file (SHA256SUMS) into memory. -ENOENT on 404. */
static int fetch_small(const PullOptions *o, const char *url, char **ret, Diagnostics *d) {
        _cleanup_(curl_easy_cleanupp) CURL *easy = curl_easy_init();
        _cleanup_free_ char *buf = NULL;
        long status = 0;
        CURLcode c;

        if (!easy || easy_setup(easy, o, url) < 0)
                return -ENOMEM;
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_small);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &buf);
        c = curl_easy_perform(easy);
        if (c == CURLE_FILE_COULDNT_READ_FILE)
                return -ENOENT;
        if (c != CURLE_OK)
                return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: %s", url, curl_easy_strerror(c));
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status == 404 || status == 410)
                return -ENOENT;
        if (status != 200 && status != 0)
                return diag_error(d, NULL, 0, EIO, "Cannot fetch %s: HTTP %ld", url, status);
        *ret = buf ? TAKE_PTR(buf) : strdup("");
        return *ret ? 0 : -ENOMEM;
}

/* The expected digest, by o->verify: NULL for Verify=no. */
static int expected_digest(const PullOptions *o, char ret[65], bool *ret_have, Diagnostics *d) {
        _cleanup_free_ char *sums_url = NULL, *sums = NULL, *name = NULL;
        const char *slash;
        int r;

        *ret_have = false;
        if (o->verify == VERIFY_NO)
                return 0;
        if (o->verify == VERIFY_SHA256) {
                for (unsigned i = 0; i < 64; i++)
                        ret[i] = (char) tolower((unsigned char) o->sha256[i]);
                ret[64] = 0;
                *ret_have = true;
                return 0;
        }

        slash = strrchr(o->url, '/');
        if (!slash || !slash[1])
                return diag_error(d, NULL, 0, EINVAL, "%s does not name a file.", o->url);
        name = strndup(slash + 1, strcspn(slash + 1, "?#"));
        sums_url = strndup(o->url, slash + 1 - o->url);
        if (!name || !sums_url)
                return -ENOMEM;
        char *full = strjoin(sums_url, "SHA256SUMS");
        if (!full)
                return -ENOMEM;
        free(sums_url);
        sums_url = full;

        r = fetch_small(o, sums_url, &sums, d);
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

/* ---- extraction ---- */

static int extract(struct archive *in, const char *target, PullResult *res, Diagnostics *d) {
        _cleanup_(archive_write_freep) struct archive *out = archive_write_disk_new();
        _cleanup_close_ int cwd = -EBADF;
        struct archive_entry *e;
        int r = 0;

        if (!out)
                return -ENOMEM;
        /* libarchive's guards, and our own path checks on top: they are a start, not the whole answer */
        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
                                                    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        /* no ARCHIVE_EXTRACT_UNLINK: with it, SECURE_SYMLINKS replaces a symlink in the way by a directory
         * and carries on; without it, writing through a symlink is refused, which is what we want */
        archive_write_disk_set_standard_lookup(out);

        /* relative to target: the secure flags refuse absolute paths, ours included */
        cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || chdir(target) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot enter %s: %m", target);

        for (;;) {
                const char *path, *link;
                int k = archive_read_next_header(in, &e);

                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN) {
                        r = diag_error(d, NULL, 0, EBADMSG, "Broken archive: %s", archive_error_string(in));
                        break;
                }
                path = archive_entry_pathname(e);
                if (!path || !archive_path_is_safe(path)) {
                        /* "./" alone is the top directory itself */
                        if (path && (streq(path, "./") || streq(path, ".")))
                                continue;
                        r = diag_error(d, NULL, 0, EPERM, "Refusing archive entry '%s': it would land outside the "
                                       "machine.", strempty(path));
                        break;
                }
                link = archive_entry_hardlink(e);
                if (link && !archive_path_is_safe(link)) {
                        r = diag_error(d, NULL, 0, EPERM, "Refusing hard link '%s' to '%s': it points outside the "
                                       "machine.", path, link);
                        break;
                }
                if (archive_entry_filetype(e) == AE_IFCHR || archive_entry_filetype(e) == AE_IFBLK) {
                        /* a root file system does not need them: /dev is nspawn's */
                        res->skipped_devices++;
                        continue;
                }
                k = archive_write_header(out, e);
                if (k < ARCHIVE_WARN) {
                        r = diag_error(d, NULL, 0, EPERM, "Cannot unpack '%s': %s", path, archive_error_string(out));
                        break;
                }
                if (archive_entry_size(e) > 0) {
                        const void *buf;
                        size_t size;
                        la_int64_t offset;

                        while ((k = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK)
                                if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
                                        k = ARCHIVE_FATAL;
                                        break;
                                }
                        if (k != ARCHIVE_EOF) {
                                r = diag_error(d, NULL, 0, EBADMSG, "Cannot unpack '%s': %s", path,
                                               archive_error_string(in) ?: archive_error_string(out));
                                break;
                        }
                }
                if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
                        r = diag_error(d, NULL, 0, EIO, "Cannot finish '%s': %s", path, archive_error_string(out));
                        break;
                }
                res->entries++;
        }
        if (r >= 0 && archive_write_close(out) < ARCHIVE_WARN)
                r = diag_error(d, NULL, 0, EIO, "Cannot finish unpacking: %s", archive_error_string(out));
        if (fchdir(cwd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && res->entries == 0)
                r = diag_error(d, NULL, 0, EBADMSG, "The archive is empty.");
        return r;
}

static struct archive *reader_new(void) {
        struct archive *a = archive_read_new();
        if (!a)
                return NULL;
        /* the format and compression are found from the content, whatever the name says */
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        return a;
}

/* ---- the cache of downloads ---- */

/* The digest of what fd holds from its start; leaves it at the start again. */
static int hash_fd(int fd, char ret[65]) {
        _cleanup_free_ uint8_t *buf = malloc(1024 * 1024);
        uint8_t digest[32];
        Sha256 h;
        ssize_t n;

        if (!buf)
                return -ENOMEM;
        sha256_init(&h);
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

typedef struct CachedImage {
        char *file, *meta;
        char *etag, *last_modified, *sha256;
} CachedImage;

static void cached_image_done(CachedImage *c) {
        free(c->file);
        free(c->meta);
        free(c->etag);
        free(c->last_modified);
        free(c->sha256);
}

static char *meta_get(const char *text, const char *key) {
        _cleanup_free_ char *k = strjoin("\n", key, "=");
        const char *p;
        if (!k || !text)
                return NULL;
        p = strstr(text, k);
        if (!p)
                return NULL;
        p += strlen(k);
        return strndup(p, strcspn(p, "\n"));
}

static int cached_image_load(const PullOptions *o, CachedImage *c) {
        _cleanup_free_ char *dir = strjoin(o->cache_dir, "/images"), *text = NULL;
        char key[65];

        sha256_hex(o->url, strlen(o->url), key);
        key[16] = 0;
        c->file = strjoin(dir, "/", key, ".archive");
        c->meta = strjoin(dir, "/", key, ".meta");
        if (!dir || !c->file || !c->meta)
                return -ENOMEM;
        if (read_full_file(c->meta, &text, NULL) < 0 || access(c->file, R_OK) < 0)
                return 0;
        c->etag = meta_get(text, "etag");
        c->last_modified = meta_get(text, "last-modified");
        c->sha256 = meta_get(text, "sha256");
        /* a server without ETag (or Last-Modified) leaves an empty line: not a validator */
        if (isempty(c->etag))
                c->etag = mfree(c->etag);
        if (isempty(c->last_modified))
                c->last_modified = mfree(c->last_modified);
        return 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        CachedImage *fresh = userdata;
        size_t len = size * n;
        _cleanup_free_ char *line = strndup(data, len);
        char **field = NULL;
        const char *v;

        if (!line)
                return 0;
        line[strcspn(line, "\r\n")] = 0;
        if ((v = startswith(line, "ETag: ")) || (v = startswith(line, "etag: ")))
                field = &fresh->etag;
        else if ((v = startswith(line, "Last-Modified: ")) || (v = startswith(line, "last-modified: ")))
                field = &fresh->last_modified;
        if (field) {
                free(*field);
                *field = strdup(v);
        }
        return len;
}

int pull_image(const PullOptions *o, const char *target, PullResult *ret, Diagnostics *d) {
        _cleanup_(cached_image_done) CachedImage cached = {}, fresh = {};
        _cleanup_(curl_multi_cleanupp) CURLM *multi = NULL;
        _cleanup_(curl_easy_cleanupp) CURL *easy = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(archive_read_freep) struct archive *in = NULL;
        _cleanup_free_ char *keep_tmp = NULL, *cond = NULL, *meta = NULL;
        _cleanup_fclose_ FILE *keep = NULL;
        _cleanup_close_ int cfd = -EBADF;
        Transfer t = { .o = o };
        long code = 0;
        PullResult res = {};
        char expected[65];
        bool have_expected;
        uint8_t digest[32];
        int r;

        *ret = (PullResult) {};
        r = expected_digest(o, expected, &have_expected, d);
        if (r < 0)
                return r;

        r = cached_image_load(o, &cached);
        if (r < 0)
                return r;
        r = mkdir_parents(cached.file, 0700);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot create %s: %s", o->cache_dir, strerror(-r));

        easy = curl_easy_init();
        multi = curl_multi_init();
        if (!easy || !multi || easy_setup(easy, o, o->url) < 0)
                return -ENOMEM;
        /* a conditional request when we have a copy: an unchanged image costs one round trip */
        if (cached.etag)
                cond = strjoin("If-None-Match: ", cached.etag);
        else if (cached.last_modified)
                cond = strjoin("If-Modified-Since: ", cached.last_modified);
        if (cond) {
                headers = curl_slist_append(NULL, cond);
                curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        }
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &fresh);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);

        keep_tmp = strjoin(cached.file, ".XXXXXX");
        if (!keep_tmp)
                return -ENOMEM;
        int kfd = mkostemp(keep_tmp, O_CLOEXEC);
        if (kfd < 0)
                return diag_error(d, NULL, 0, errno, "Cannot create %s: %m", keep_tmp);
        keep = fdopen(kfd, "w");
        if (!keep) {
                close(kfd);
                (void) unlink(keep_tmp);
                return -ENOMEM;
        }

        t.multi = multi;
        t.easy = easy;
        t.keep = keep;
        sha256_init(&t.hash);
        curl_multi_add_handle(multi, easy);

        /* Wait for the status before unpacking anything: a 304 means the cached copy. */
        while (!t.done && !t.status_checked && t.in_size == 0) {
                r = transfer_step(&t);
                if (r < 0) {
                        r = diag_error(d, NULL, 0, r, "Cannot download %s: %s", o->url, strerror(-r));
                        goto finish;
                }
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
                if (code == 304)
                        break;
        }
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        in = reader_new();
        if (!in) {
                r = -ENOMEM;
                goto finish;
        }

        if (code == 304 && cond) {
                char actual[65];

                res.not_modified = true;
                transfer_done(&t);
                t = (Transfer) {};
                /* the copy on disk is hashed again, not taken on the word of its .meta: one descriptor for
                 * hashing and unpacking, so what is unpacked is what was checked */
                cfd = open(cached.file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (cfd < 0 || hash_fd(cfd, actual) < 0) {
                        r = diag_error(d, NULL, 0, EIO, "Cannot read the cached copy %s: %m", cached.file);
                        goto finish;
                }
                if ((have_expected && !streq(actual, expected)) ||
                    (!have_expected && cached.sha256 && !streq(actual, cached.sha256))) {
                        /* dropped, so that the next pull downloads it again */
                        (void) unlink(cached.meta);
                        (void) unlink(cached.file);
                        r = diag_error(d, NULL, 0, EBADMSG, "The cached copy of %s does not match its checksum "
                                       "(%s, expected %s); removed it from the cache.", o->url, actual,
                                       have_expected ? expected : cached.sha256);
                        goto finish;
                }
                if (archive_read_open_fd(in, cfd, 1024 * 1024) != ARCHIVE_OK) {
                        r = diag_error(d, NULL, 0, EBADMSG, "Cannot read %s: %s", cached.file,
                                       archive_error_string(in));
                        goto finish;
                }
                r = extract(in, target, &res, d);
                memcpy(res.sha256, actual, sizeof res.sha256);
                goto finish;
        }

        if (archive_read_open(in, &t, NULL, archive_read_from_transfer, NULL) != ARCHIVE_OK) {
                if (t.status >= 400 || (t.done && t.result == CURLE_OK && t.received == 0 && code >= 400))
                        r = diag_error(d, NULL, 0, EIO, "Cannot download %s: HTTP %ld", o->url, code ?: t.status);
                else if (t.done && t.result != CURLE_OK)
                        r = diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", o->url,
                                       curl_easy_strerror(t.result));
                else
                        r = diag_error(d, NULL, 0, EBADMSG, "%s is not a tar archive (or in a compression not "
                                       "known): %s", o->url, archive_error_string(in));
                goto finish;
        }
        r = extract(in, target, &res, d);
        if (r < 0) {
                if (t.done && t.result != CURLE_OK)
                        r = diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", o->url,
                                       curl_easy_strerror(t.result));
                goto finish;
        }
        /* whatever the archive left unread (padding), so that the digest covers the whole file */
        while (!t.done) {
                t.in_size = 0;
                r = transfer_step(&t);
                if (r < 0)
                        goto finish;
        }
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        if (t.result != CURLE_OK) {
                r = diag_error(d, NULL, 0, EIO, "Cannot download %s: %s", o->url, curl_easy_strerror(t.result));
                goto finish;
        }
        if (code != 200 && code != 0) {
                r = diag_error(d, NULL, 0, EIO, "Cannot download %s: HTTP %ld", o->url, code);
                goto finish;
        }
        sha256_final(&t.hash, digest);
        sha256_to_hex(digest, res.sha256);
        res.downloaded = t.received;
        if (have_expected && !streq(res.sha256, expected)) {
                r = diag_error(d, NULL, 0, EBADMSG, "%s does not match its checksum: got %s, expected %s.", o->url,
                               res.sha256, expected);
                goto finish;
        }

        /* keep the download for the next machine, with what makes the next request conditional */
        if (fflush(keep) != 0 || fsync(fileno(keep)) < 0) {
                r = diag_error(d, NULL, 0, EIO, "Cannot write %s: %m", keep_tmp);
                goto finish;
        }
        if (rename(keep_tmp, cached.file) < 0) {
                r = diag_error(d, NULL, 0, errno, "Cannot keep the download in %s: %m", cached.file);
                goto finish;
        }
        free(keep_tmp);
        keep_tmp = NULL;
        meta = strjoin("url=", o->url, "\netag=", strempty(fresh.etag), "\nlast-modified=",
                                            strempty(fresh.last_modified), "\nsha256=", res.sha256, "\n");
        if (!meta)
                r = -ENOMEM;
        else
                r = write_file_atomic(cached.meta, meta, strlen(meta), 0644, WRITE_DURABLE);

finish:
        transfer_done(&t);
        if (keep_tmp)
                (void) unlink(keep_tmp);
        if (r >= 0)
                *ret = res;
        return r;
}
