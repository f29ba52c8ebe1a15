/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "cache.h"
#include "fileio.h"
#include "strv.h"
#include "tree.h"

void cache_entries_free(CacheEntry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].key);
                free(e[i].info);
        }
        free(e);
}

char *cache_path(const char *dir, const char *key, const char *suffix) {
        return strjoin(dir, "/", key, suffix ?: "");
}

int cache_base(const char *dir, const char *key, char **ret_path, bool *ret_is_archive) {
        _cleanup_free_ char *tree = cache_path(dir, key, NULL), *archive = cache_path(dir, key, CACHE_ARCHIVE_SUFFIX);
        struct stat st;

        if (!tree || !archive)
                return -ENOMEM;
        if (stat(tree, &st) >= 0 && S_ISDIR(st.st_mode)) {
                if (ret_path)
                        *ret_path = TAKE_PTR(tree);
                if (ret_is_archive)
                        *ret_is_archive = false;
                return 0;
        }
        if (stat(archive, &st) >= 0 && S_ISREG(st.st_mode)) {
                if (ret_path)
                        *ret_path = TAKE_PTR(archive);
                if (ret_is_archive)
                        *ret_is_archive = true;
                return 0;
        }
        return -ENOENT;
}

bool cache_use_archives(const char *dir, const char *format) {
        if (streq_ptr(format, "archive"))
                return true;
        if (streq_ptr(format, "tree"))
                return false;
        return !dir_supports_reflink(dir);
}

int cache_lock(const char *dir, const char *key, int operation) {
        _cleanup_free_ char *p = cache_path(dir, key, ".lock");
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!p)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (flock(fd, operation) < 0)
                if (errno != EINTR)
                        return errno == EWOULDBLOCK ? -EBUSY : -errno;
        return TAKE_FD(fd);
}

static time_t parse_epoch(const char *s) {
        char *end;
        long long v;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || (*end != '\n' && *end != 0) || v < 0)
                return 0;
        return (time_t) v;
}

void cache_info_parse(const char *info, time_t *ret_built, time_t *ret_last_used) {
        time_t built = 0, last_used = 0;

        /* line by line: "built=" must start a line, not end "rebuilt=" */
        for (const char *l = info; l && *l; l = strchrnul(l, '\n'), l += *l == '\n') {
                const char *v;

                if ((v = startswith(l, "built=")))
                        built = parse_epoch(v);
                else if ((v = startswith(l, "last-used=")))
                        last_used = parse_epoch(v);
        }
        if (ret_built)
                *ret_built = built;
        if (ret_last_used)
                *ret_last_used = last_used;
}

static time_t info_built(const char *info) {
        time_t built;

        cache_info_parse(info, &built, NULL);
        return built;
}

int cache_entry_fresh(const char *dir, const char *key, uint64_t max_age_sec, time_t now) {
        _cleanup_free_ char *infop = cache_path(dir, key, ".info"), *info = NULL;
        time_t built;

        if (!infop)
                return -ENOMEM;
        if (cache_base(dir, key, NULL, NULL) < 0)
                return 0;
        if (read_full_file(infop, &info, NULL) < 0)
                return 0; /* no record of when: rebuild */
        built = info_built(info);
        if (built <= 0)
                return 0;
        if (max_age_sec == UINT64_MAX)
                return 1;
        return now < built || (uint64_t) (now - built) <= max_age_sec;
}

int cache_tmp_dir(const char *dir, const char *key, char **ret) {
        _cleanup_free_ char *p = strjoin(dir, "/.tmp-", key, "-XXXXXX");
        int r;

        if (!p)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        if (!mkdtemp(p))
                return -errno;
        /* mkdtemp() reserved the name; the tree's top is made again as a subvolume where the cache is on
         * btrfs, so that a machine from it is a snapshot. A root file system's top directory is 0755. */
        if (rmdir(p) < 0)
                return -errno;
        r = tree_make_top(p, 0755);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

/* Temporaries of KEY: ".tmp-KEY-XXXXXX" and ".old-KEY-XXXXXX" (exactly six characters after the key),
 * and the archive being packed, ".tmp-KEY-XXXXXX.tar.zst". */
static bool is_temporary_of(const char *name, const char *key) {
        const char *rest = startswith(name, ".tmp-") ?: startswith(name, ".old-");
        size_t n = strlen(key), m;

        if (!rest || strncmp(rest, key, n) != 0 || rest[n] != '-')
                return false;
        m = strlen(rest + n + 1);
        return m == 6 || (m == 6 + strlen(CACHE_ARCHIVE_SUFFIX) && streq(rest + n + 7, CACHE_ARCHIVE_SUFFIX));
}

static int remove_any(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode))
                return tree_remove(path, NULL);
        return unlink(path) < 0 ? -errno : 0;
}

int cache_clean_tmp(const char *dir, const char *key) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int ret = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                int r;

                if (!is_temporary_of(de->d_name, key))
                        continue;
                p = strjoin(dir, "/", de->d_name);
                if (!p) {
                        ret = -ENOMEM;
                        break;
                }
                r = remove_any(p);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        closedir(d);
        return ret;
}

/* An archive's data (fsync), or a tree's (syncfs: one call for its many files, as systemd's importers do). */
static int sync_entry(const char *path, bool is_file) {
        _cleanup_close_ int fd = open(path, (is_file ? O_RDONLY : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if ((is_file ? fsync(fd) : syncfs(fd)) < 0)
                return -errno;
        return 0;
}

int cache_publish(const char *dir, const char *key, const char *tmp, const char *info) {
        _cleanup_free_ char *tree = cache_path(dir, key, NULL), *archive = cache_path(dir, key, CACHE_ARCHIVE_SUFFIX),
                            *infop = cache_path(dir, key, ".info"), *old = strjoin(dir, "/.old-", key, "-XXXXXX");
        struct stat st;
        bool had_old = false;
        int r;

        if (!tree || !archive || !infop || !old)
                return -ENOMEM;
        if (stat(tmp, &st) < 0)
                return -errno;
        /* on disk before it has the name others copy from: after a crash an entry is whole or not there */
        r = sync_entry(tmp, S_ISREG(st.st_mode));
        if (r < 0)
                return r;

        /* A crash between the renames and the info leaves a base with an old or no .info: it counts as
         * stale and is rebuilt, never used half-known. */
        if (S_ISREG(st.st_mode)) {
                /* rename() replaces a file atomically; a copier that has it open reads the old one */
                if (rename(tmp, archive) < 0)
                        return -errno;
                if (access(tree, F_OK) >= 0) {
                        if (!mkdtemp(old) || rename(tree, old) < 0)
                                return -errno;
                        had_old = true;
                }
        } else {
                if (access(tree, F_OK) >= 0) {
                        /* mkdtemp() for a unique name, then move the old tree onto it */
                        if (!mkdtemp(old))
                                return -errno;
                        if (rename(tree, old) < 0)
                                return -errno;
                        had_old = true;
                }
                if (rename(tmp, tree) < 0) {
                        r = -errno;
                        if (had_old)
                                (void) rename(old, tree);
                        return r;
                }
                (void) unlink(archive);
        }
        r = write_file_atomic(infop, info, strlen(info), 0644, WRITE_DURABLE);
        if (r < 0)
                return r;
        if (had_old)
                (void) tree_remove(old, NULL);
        return 0;
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const CacheEntry *) a)->key, ((const CacheEntry *) b)->key);
}

int cache_list(const char *dir, CacheEntry **ret, size_t *ret_n) {
        CacheEntry *l = NULL;
        size_t n = 0, allocated = 0;
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *infop = NULL;
                CacheEntry e = {};
                int fd;

                const char *suffix = endswith(de->d_name, CACHE_ARCHIVE_SUFFIX);

                /* "oci" holds the registry images' blobs and trees, each with locks of their own */
                if (de->d_name[0] == '.' || streq(de->d_name, "oci") ||
                    !(de->d_type == DT_DIR || (de->d_type == DT_REG && suffix)))
                        continue;
                e.key = suffix ? strndup(de->d_name, suffix - de->d_name) : strdup(de->d_name);
                infop = e.key ? cache_path(dir, e.key, ".info") : NULL;
                if (!e.key || !infop)
                        goto oom;
                /* a missing or unreadable .info is "built when: unknown", a failed allocation is not */
                if (read_full_file(infop, &e.info, NULL) == -ENOMEM) {
                        free(e.key);
                        goto oom;
                }
                cache_info_parse(e.info, &e.built, &e.last_used);
                fd = cache_lock(dir, e.key, LOCK_EX | LOCK_NB);
                if (fd == -ENOMEM) {
                        free(e.key);
                        free(e.info);
                        goto oom;
                }
                e.busy = fd == -EBUSY;
                if (fd >= 0)
                        close(fd);
                if (GREEDY_REALLOC(l, allocated, n + 1) < 0) {
                        free(e.key);
                        free(e.info);
                        goto oom;
                }
                l[n++] = e;
        }
        closedir(d);
        if (n > 0)
                qsort(l, n, sizeof(CacheEntry), entry_cmp);
        *ret = l;
        *ret_n = n;
        return 0;
oom:
        closedir(d);
        cache_entries_free(l, n);
        return -ENOMEM;
}

/* Deletes KEY; the caller holds its exclusive lock. */
static int cache_remove_locked(const char *dir, const char *key) {
        _cleanup_free_ char *base = NULL, *infop = cache_path(dir, key, ".info"),
                            *old = strjoin(dir, "/.old-", key, "-XXXXXX");
        bool is_archive;
        int r;

        if (!infop || !old)
                return -ENOMEM;
        r = cache_base(dir, key, &base, &is_archive);
        if (r < 0)
                return r;
        /* out of the way in one step, then deleted at leisure */
        (void) unlink(infop);
        if (is_archive)
                r = unlink(base) < 0 ? -errno : 0;
        else if (!mkdtemp(old) || rename(base, old) < 0)
                r = -errno;
        else
                r = tree_remove(old, NULL);
        (void) cache_clean_tmp(dir, key);
        /* KEY.lock stays: unlinking it would let two processes lock two different files */
        return r;
}

int cache_remove(const char *dir, const char *key) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (strchr(key, '/') || key[0] == '.')
                return -EINVAL;
        r = cache_base(dir, key, NULL, NULL);
        if (r < 0)
                return r;
        fd = cache_lock(dir, key, LOCK_EX | LOCK_NB);
        if (fd < 0)
                return fd; /* -EBUSY: being built or copied from */
        return cache_remove_locked(dir, key);
}

int cache_mark_used(const char *dir, const char *key, time_t when) {
        _cleanup_free_ char *infop = cache_path(dir, key, ".info"), *info = NULL, *text = NULL;
        _cleanup_strv_free_ char **lines = NULL, **kept = NULL;
        char stamp[64];
        int r;

        if (!infop)
                return -ENOMEM;
        r = read_full_file(infop, &info, NULL);
        if (r < 0)
                return r; /* no .info: the base is stale and rebuilt before use, nothing to record */
        r = strv_split(&lines, info, "\n");
        if (r < 0)
                return r;
        kept = calloc(1, sizeof(char *));
        if (!kept)
                return -ENOMEM;
        STRV_FOREACH(l, lines)
                if (!isempty(*l) && !startswith(*l, "last-used=") && strv_extend(&kept, *l) < 0)
                        return -ENOMEM;
        snprintf(stamp, sizeof stamp, "last-used=%lld", (long long) when);
        if (strv_extend(&kept, stamp) < 0 || strv_extend(&kept, "") < 0)
                return -ENOMEM;
        text = strv_join(kept, "\n");
        if (!text)
                return -ENOMEM;
        return write_file_atomic(infop, text, strlen(text), 0644, 0);
}

int cache_entry_size(const char *dir, const char *key, uint64_t *ret) {
        _cleanup_free_ char *p = NULL;
        bool is_archive;
        struct stat st;
        int r;

        r = cache_base(dir, key, &p, &is_archive);
        if (r < 0)
                return r;
        if (!is_archive)
                return tree_disk_usage(p, ret);
        if (stat(p, &st) < 0)
                return -errno;
        *ret = (uint64_t) st.st_size;
        return 0;
}

bool cache_entry_prunable(const CacheEntry *e, uint64_t unused_sec, time_t now) {
        time_t since = e->last_used > 0 ? e->last_used : e->built;

        if (e->busy || unused_sec == UINT64_MAX)
                return false;
        if (since <= 0)
                return true;
        if (now < since)
                return false; /* a clock set back: keep */
        return (uint64_t) (now - since) > unused_sec;
}

int cache_prune_select(const CacheEntry *e, size_t n, uint64_t unused_sec, time_t now, char ***ret_keys) {
        _cleanup_strv_free_ char **keys = calloc(1, sizeof(char *));

        if (!keys)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (cache_entry_prunable(&e[i], unused_sec, now) && strv_extend(&keys, e[i].key) < 0)
                        return -ENOMEM;
        *ret_keys = TAKE_PTR(keys);
        return 0;
}

/* KEY as cache_list() would show it now, for the check under the lock. */
static int entry_reread(const char *dir, const char *key, CacheEntry *ret) {
        _cleanup_free_ char *infop = cache_path(dir, key, ".info"), *info = NULL;

        if (!infop)
                return -ENOMEM;
        *ret = (CacheEntry) { .key = (char *) key };
        if (read_full_file(infop, &info, NULL) >= 0)
                cache_info_parse(info, &ret->built, &ret->last_used);
        return 0;
}

int cache_prune(const char *dir, uint64_t unused_sec, time_t now, char ***ret_removed, Diagnostics *d) {
        _cleanup_strv_free_ char **keys = NULL, **removed = calloc(1, sizeof(char *));
        CacheEntry *e = NULL;
        size_t n = 0;
        int r, ret = 0;

        if (!removed)
                return -ENOMEM;
        r = cache_list(dir, &e, &n);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot read %s: %s", dir, strerror(-r));
        r = cache_prune_select(e, n, unused_sec, now, &keys);
        cache_entries_free(e, n);
        if (r < 0)
                return r;

        STRV_FOREACH(k, keys) {
                _cleanup_close_ int fd = cache_lock(dir, *k, LOCK_EX | LOCK_NB);
                CacheEntry again;

                if (fd == -EBUSY)
                        continue; /* in use right now: not unused */
                if (fd < 0) {
                        r = diag_error(d, NULL, 0, fd, "Cannot lock base %s: %s", *k, strerror(-fd));
                        ret = ret ?: r;
                        continue;
                }
                r = entry_reread(dir, *k, &again);
                if (r < 0)
                        return r;
                if (!cache_entry_prunable(&again, unused_sec, now))
                        continue;
                r = cache_remove_locked(dir, *k);
                if (r < 0) {
                        r = diag_error(d, NULL, 0, r, "Cannot remove base %s: %s", *k, strerror(-r));
                        ret = ret ?: r;
                        continue;
                }
                if (strv_extend(&removed, *k) < 0)
                        return -ENOMEM;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return ret;
}

int cache_remove_keys(const char *dir, char **keys, char ***ret_removed, Diagnostics *d) {
        _cleanup_strv_free_ char **targets = NULL, **removed = NULL;
        int ret = 0;

        if (keys)
                targets = strv_copy(keys);
        else {
                CacheEntry *e = NULL;
                size_t n = 0;
                int r = cache_list(dir, &e, &n);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot read %s: %s", dir, strerror(-r));
                targets = calloc(1, sizeof(char *));
                for (size_t i = 0; targets && i < n; i++)
                        if (strv_extend(&targets, e[i].key) < 0)
                                targets = strv_free(targets);
                cache_entries_free(e, n);
        }
        removed = calloc(1, sizeof(char *));
        if (!targets || !removed)
                return -ENOMEM;

        STRV_FOREACH(k, targets) {
                int r = cache_remove(dir, *k);
                if (r == -EBUSY)
                        r = diag_error(d, NULL, 0, r, "Base %s is in use (being built or copied), not removed.", *k);
                else if (r == -ENOENT)
                        r = diag_error(d, NULL, 0, r, "No base %s in %s.", *k, dir);
                else if (r < 0)
                        r = diag_error(d, NULL, 0, r, "Cannot remove base %s: %s", *k, strerror(-r));
                else if (strv_extend(&removed, *k) < 0)
                        return -ENOMEM;
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return ret;
}
