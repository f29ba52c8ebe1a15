/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "tests.h"

#include "cache.h"
#include "fileio.h"
#include "strv.h"
#include "tree.h"

static const char *KEY = "debian-bookworm-amd64-minbase-1a2b3c4d";

static void publish(const char *dir, const char *key, const char *marker, time_t built) {
        _cleanup_free_ char *tmp = NULL, *info = NULL;

        assert_int_equal(cache_tmp_dir(dir, key, &tmp), 0);
        tests_write(tmp, "etc/marker", marker);
        assert_true(asprintf(&info, "built=%lld\ntool=debootstrap\n", (long long) built) > 0);
        assert_int_equal(cache_publish(dir, key, tmp, info), 0);
        assert_int_equal(access(tmp, F_OK), -1);
}

static void test_fresh_and_stale(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp();
        time_t now = 1800000000;

        assert_int_equal(cache_entry_fresh(dir, KEY, 7 * 86400, now), 0); /* missing */
        publish(dir, KEY, "one", now - 3 * 86400);
        assert_int_equal(cache_entry_fresh(dir, KEY, 7 * 86400, now), 1);
        assert_int_equal(cache_entry_fresh(dir, KEY, 2 * 86400, now), 0); /* older than max age */
        assert_int_equal(cache_entry_fresh(dir, KEY, UINT64_MAX, now), 1);

        /* a tree without its record of when it was built is never trusted */
        _cleanup_free_ char *info = cache_path(dir, KEY, ".info");
        assert_int_equal(unlink(info), 0);
        assert_int_equal(cache_entry_fresh(dir, KEY, UINT64_MAX, now), 0);
        tests_rm_rf(dir);
}

/* cache_list() does not show dot files: look at the directory itself */
static void assert_no_dot_files(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        fail_msg("left behind: %s", de->d_name);
        closedir(d);
}

static void test_publish_replaces(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *marker = NULL, *text = NULL;
        CacheEntry *e = NULL;
        size_t n = 0;

        publish(dir, KEY, "old", 1000);
        publish(dir, KEY, "new", 2000);
        marker = strjoin(dir, "/", KEY, "/etc/marker");
        assert_int_equal(read_full_file(marker, &text, NULL), 0);
        assert_string_equal(text, "new");

        assert_int_equal(cache_list(dir, &e, &n), 0);
        assert_int_equal(n, 1); /* no .old- or .tmp- leftovers listed */
        assert_string_equal(e[0].key, KEY);
        assert_int_equal(e[0].built, 2000);
        assert_false(e[0].busy);
        cache_entries_free(e, n);
        /* the old tree is deleted, not left as ".old-KEY-XXXXXX" */
        assert_no_dot_files(dir);
        tests_rm_rf(dir);
}

static void test_locks(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp();
        int sh1, sh2, ex;

        publish(dir, KEY, "x", 1000);
        /* two copiers at once */
        sh1 = cache_lock(dir, KEY, LOCK_SH);
        sh2 = cache_lock(dir, KEY, LOCK_SH | LOCK_NB);
        assert_true(sh1 >= 0 && sh2 >= 0);
        /* no builder and no removal while someone copies */
        assert_int_equal(cache_lock(dir, KEY, LOCK_EX | LOCK_NB), -EBUSY);
        assert_int_equal(cache_remove(dir, KEY), -EBUSY);
        close(sh1);
        close(sh2);
        ex = cache_lock(dir, KEY, LOCK_EX | LOCK_NB);
        assert_true(ex >= 0);
        assert_int_equal(cache_lock(dir, KEY, LOCK_SH | LOCK_NB), -EBUSY);
        close(ex);

        assert_int_equal(cache_remove(dir, KEY), 0);
        assert_int_equal(cache_entry_fresh(dir, KEY, UINT64_MAX, 2000), 0);
        assert_int_equal(cache_remove(dir, KEY), -ENOENT);
        assert_int_equal(cache_remove(dir, "../etc"), -EINVAL);
        tests_rm_rf(dir);
}

static void test_clean_tmp_only_its_own(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *a = NULL, *b = NULL, *other = NULL;

        /* a killed build of KEY, a killed build of a key that only starts like KEY */
        assert_int_equal(cache_tmp_dir(dir, KEY, &a), 0);
        tests_write(a, "usr/bin/x", "partial");
        assert_int_equal(cache_tmp_dir(dir, "debian-bookworm-amd64-minbase-1a2b3c4d-x", &other), 0);
        publish(dir, KEY, "whole", 1000);
        assert_int_equal(cache_clean_tmp(dir, KEY), 0);
        assert_int_equal(access(a, F_OK), -1);
        assert_int_equal(access(other, F_OK), 0);
        b = cache_path(dir, KEY, "/etc/marker");
        assert_int_equal(access(b, F_OK), 0);
        tests_rm_rf(dir);
}

static void test_archive_bases(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *tmp = NULL, *path = NULL, *info = NULL;
        CacheEntry *e = NULL;
        size_t n = 0;
        bool is_archive = false;

        /* a tree first, then the same key as an archive: the archive replaces the tree */
        publish(dir, KEY, "tree", 1000);
        tmp = strjoin(dir, "/.tmp-", KEY, "-abcdef.tar.zst");
        tests_write(dir, strrchr(tmp, '/') + 1, "not really zstd");
        assert_true(asprintf(&info, "built=%d\nformat=archive\n", 2000) > 0);
        assert_int_equal(cache_publish(dir, KEY, tmp, info), 0);
        assert_int_equal(cache_base(dir, KEY, &path, &is_archive), 0);
        assert_true(is_archive);
        assert_non_null(endswith(path, ".tar.zst"));
        _cleanup_free_ char *tree = cache_path(dir, KEY, NULL);
        assert_int_equal(access(tree, F_OK), -1);
        assert_int_equal(cache_entry_fresh(dir, KEY, UINT64_MAX, 3000), 1);

        assert_int_equal(cache_list(dir, &e, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(e[0].key, KEY);
        assert_int_equal(e[0].built, 2000);
        cache_entries_free(e, n);

        /* a killed packing leaves ".tmp-KEY-XXXXXX.tar.zst": cleaned with the rest */
        tests_write(dir, ".tmp-debian-bookworm-amd64-minbase-1a2b3c4d-zzzzzz.tar.zst", "partial");
        assert_int_equal(cache_clean_tmp(dir, KEY), 0);
        _cleanup_free_ char *partial = strjoin(dir, "/.tmp-", KEY, "-zzzzzz.tar.zst");
        assert_int_equal(access(partial, F_OK), -1);

        assert_int_equal(cache_remove(dir, KEY), 0);
        assert_int_equal(cache_base(dir, KEY, NULL, NULL), -ENOENT);
        tests_rm_rf(dir);
}

/* The new tree cannot be moved into place (here: a rename into its own subdirectory fails): the old tree
 * is put back, whole, with its .info, and no temporary is left. */
static void test_publish_rolls_back(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *dir = strjoin(root, "/cache"), *marker = NULL,
                            *text = NULL, *info = NULL, *info_text = NULL;
        CacheEntry *e = NULL;
        size_t n = 0;

        publish(dir, KEY, "old", 1000);
        assert_int_equal(cache_publish(dir, KEY, root, "built=2000\n"), -EINVAL);
        marker = strjoin(dir, "/", KEY, "/etc/marker");
        assert_int_equal(read_full_file(marker, &text, NULL), 0);
        assert_string_equal(text, "old");
        info = cache_path(dir, KEY, ".info");
        assert_int_equal(read_full_file(info, &info_text, NULL), 0);
        assert_non_null(strstr(info_text, "built=1000\n"));
        assert_int_equal(cache_list(dir, &e, &n), 0);
        assert_int_equal(n, 1);
        cache_entries_free(e, n);
        /* no ".old-KEY-XXXXXX" left: only KEY, KEY.info, KEY.lock */
        DIR *d = opendir(dir);
        struct dirent *de;
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        fail_msg("left behind: %s", de->d_name);
        closedir(d);
        /* a temporary that is not there changes nothing either */
        _cleanup_free_ char *gone = strjoin(dir, "/.tmp-", KEY, "-gone00");
        assert_int_equal(cache_publish(dir, KEY, gone, "built=3000\n"), -ENOENT);
        assert_int_equal(cache_entry_fresh(dir, KEY, UINT64_MAX, 3000), 1);
        tests_rm_rf(root);
}

static bool said(const Diagnostics *d, const char *needle) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, needle))
                        return true;
        return false;
}

/* Carries on past a base in use and an unknown one, says why for each, returns the first error. */
static void test_remove_keys(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp();
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **removed = NULL, **keys = NULL;
        int busy;

        publish(dir, "a-key", "a", 1000);
        publish(dir, "b-key", "b", 1000);
        publish(dir, "c-key", "c", 1000);
        busy = cache_lock(dir, "b-key", LOCK_SH);
        assert_true(busy >= 0);
        assert_int_equal(strv_extend(&keys, "b-key"), 0);
        assert_int_equal(strv_extend(&keys, "nokey"), 0);
        assert_int_equal(strv_extend(&keys, "../etc"), 0);
        assert_int_equal(strv_extend(&keys, "a-key"), 0);
        assert_int_equal(cache_remove_keys(dir, keys, &removed, &d), -EBUSY);
        assert_int_equal(strv_length(removed), 1);
        assert_string_equal(removed[0], "a-key");
        assert_true(said(&d, "Base b-key is in use"));
        assert_true(said(&d, "No base nokey in"));
        assert_true(said(&d, "Cannot remove base ../etc"));
        assert_int_equal(d.n, 3);
        assert_int_equal(cache_base(dir, "a-key", NULL, NULL), -ENOENT);
        assert_int_equal(cache_base(dir, "b-key", NULL, NULL), 0);
        removed = strv_free(removed);
        diagnostics_done(&d);

        /* keys NULL: every base; the one in use stays */
        assert_int_equal(cache_remove_keys(dir, NULL, &removed, &d), -EBUSY);
        assert_int_equal(strv_length(removed), 1);
        assert_string_equal(removed[0], "c-key");
        assert_int_equal(cache_base(dir, "b-key", NULL, NULL), 0);
        assert_int_equal(cache_base(dir, "c-key", NULL, NULL), -ENOENT);
        close(busy);
        removed = strv_free(removed);
        diagnostics_done(&d);

        assert_int_equal(cache_remove_keys(dir, NULL, &removed, &d), 0);
        assert_int_equal(strv_length(removed), 1);
        assert_string_equal(removed[0], "b-key");
        assert_int_equal(d.n, 0);
        assert_int_equal(cache_base(dir, "b-key", NULL, NULL), -ENOENT);
        removed = strv_free(removed);

        /* a cache directory that does not exist (yet) is an empty cache */
        _cleanup_free_ char *none = strjoin(dir, "/none");
        CacheEntry *e = NULL;
        size_t n = 1;
        assert_int_equal(cache_remove_keys(none, NULL, &removed, &d), 0);
        assert_int_equal(strv_length(removed), 0);
        assert_int_equal(cache_list(none, &e, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(cache_clean_tmp(none, KEY), 0);
        assert_int_equal(access(none, F_OK), -1);
        tests_rm_rf(dir);
}

/* KEY.lock planted as a symlink is not followed: nothing is created where it points */
static void test_lock_does_not_follow_links(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *lock = NULL, *victim = NULL;

        lock = cache_path(dir, KEY, ".lock");
        victim = strjoin(dir, "/victim");
        assert_int_equal(symlink(victim, lock), 0);
        assert_int_equal(cache_lock(dir, KEY, LOCK_EX), -ELOOP);
        assert_int_equal(access(victim, F_OK), -1);
        tests_rm_rf(dir);
}

static void test_use_archives(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp();

        assert_int_equal(setenv("MACHINESPAWN_CACHE_FORMAT", "archive", 1), 0);
        assert_true(cache_use_archives(dir, tests_paths()->cache_format));
        assert_int_equal(setenv("MACHINESPAWN_CACHE_FORMAT", "tree", 1), 0);
        assert_false(cache_use_archives(dir, tests_paths()->cache_format));
        assert_int_equal(unsetenv("MACHINESPAWN_CACHE_FORMAT"), 0);
        assert_int_equal(cache_use_archives(dir, tests_paths()->cache_format), !dir_supports_reflink(dir));
        tests_rm_rf(dir);
}

static void assert_strv(char **got, char **expected) {
        _cleanup_free_ char *g = strv_join(got, " "), *e = strv_join(expected, " ");

        assert_non_null(g);
        assert_non_null(e);
        assert_string_equal(g, e);
}

static void test_info_parse(void **state) {
        static const struct {
                const char *info;
                time_t built, last_used;
        } cases[] = {
                { "built=100\nlast-used=200\n", 100, 200 },
                { "tool=debootstrap\nbuilt=100\n", 100, 0 },
                { "last-used=5\nbuilt=7", 7, 5 },
                { "rebuilt=9\nbuilt=3\n", 3, 0 },      /* only a key at the start of a line */
                { "built=12x\nlast-used=-4\n", 0, 0 }, /* not a number: unknown */
                { "", 0, 0 },
                { NULL, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                time_t built = -1, used = -1;

                cache_info_parse(cases[i].info, &built, &used);
                if (built != cases[i].built || used != cases[i].last_used)
                        fail_msg("case %zu: built %lld, last used %lld", i, (long long) built, (long long) used);
        }
}

static void test_prune_select(void **state) {
        const time_t now = 1800000000, day = 86400;
        const uint64_t after = 30 * 86400;
        static const char *keep = "keep", *prune = "prune";
        const struct {
                CacheEntry e;
                uint64_t after;
                const char *expect;
        } cases[] = {
                { { .key = (char *) "used-yesterday", .built = now - 90 * day, .last_used = now - day }, after, keep },
                { { .key = (char *) "used-long-ago", .built = now - 90 * day, .last_used = now - 31 * day }, after, prune },
                { { .key = (char *) "just-over", .built = now - 90 * day, .last_used = now - 30 * day - 1 }, after, prune },
                { { .key = (char *) "exactly", .built = now - 90 * day, .last_used = now - 30 * day }, after, keep },
                { { .key = (char *) "never-used-new", .built = now - 2 * day }, after, keep },
                { { .key = (char *) "never-used-old", .built = now - 40 * day }, after, prune },
                { { .key = (char *) "no-info" }, after, prune },
                { { .key = (char *) "busy-old", .built = now - 90 * day, .last_used = now - 60 * day, .busy = true },
                  after, keep },
                { { .key = (char *) "future", .built = now - 90 * day, .last_used = now + day }, after, keep },
                { { .key = (char *) "infinity", .built = now - 900 * day, .last_used = now - 800 * day }, UINT64_MAX,
                  keep },
                { { .key = (char *) "short-setting", .built = now - 3 * day, .last_used = now - 2 * day }, day, prune },
        };
        CacheEntry all[ELEMENTSOF(cases)];
        size_t n_all = 0;
        _cleanup_strv_free_ char **keys = NULL, **expected = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                bool got = cache_entry_prunable(&cases[i].e, cases[i].after, now);
                if (got != (cases[i].expect == prune))
                        fail_msg("%s: %s, expected to %s", cases[i].e.key, got ? "pruned" : "kept", cases[i].expect);
                if (cases[i].after != after)
                        continue;
                all[n_all++] = cases[i].e;
                if (cases[i].expect == prune)
                        assert_int_equal(strv_extend(&expected, cases[i].e.key), 0);
        }
        /* the list version picks the same, in order, for one setting */
        assert_int_equal(cache_prune_select(all, n_all, after, now, &keys), 0);
        assert_strv(keys, expected);
}

static void test_mark_used_and_prune(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *infop = NULL, *info = NULL;
        _cleanup_strv_free_ char **removed = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        const char *old = "debian-bookworm-amd64-minbase-00000001", *used = "debian-bookworm-amd64-minbase-00000002",
                   *busy = "debian-bookworm-amd64-minbase-00000003";
        time_t now = 1800000000, built, last_used;
        CacheEntry *e = NULL;
        size_t n = 0;

        publish(dir, old, "old", now - 90 * 86400);
        publish(dir, used, "used", now - 90 * 86400);
        publish(dir, busy, "busy", now - 90 * 86400);
        assert_int_equal(cache_mark_used(dir, old, now - 60 * 86400), 0);
        assert_int_equal(cache_mark_used(dir, used, now - 60 * 86400), 0);
        assert_int_equal(cache_mark_used(dir, used, now - 86400), 0); /* replaced, not added */

        infop = cache_path(dir, used, ".info");
        assert_int_equal(read_full_file(infop, &info, NULL), 0);
        assert_string_equal(info, "built=1792224000\ntool=debootstrap\nlast-used=1799913600\n");
        cache_info_parse(info, &built, &last_used);
        assert_int_equal(last_used, now - 86400);
        assert_int_equal(cache_list(dir, &e, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(e[0].last_used, now - 60 * 86400);
        assert_int_equal(e[1].last_used, now - 86400);
        cache_entries_free(e, n);

        /* in use while pruning: kept, whatever its age */
        _cleanup_close_ int lock = cache_lock(dir, busy, LOCK_SH);
        assert_true(lock >= 0);
        assert_int_equal(cache_prune(dir, 30 * 86400, now, &removed, &d), 0);
        assert_strv(removed, (char *[]) { (char *) old, NULL });
        assert_int_equal(cache_base(dir, old, NULL, NULL), -ENOENT);
        assert_int_equal(cache_base(dir, used, NULL, NULL), 0);
        assert_int_equal(cache_base(dir, busy, NULL, NULL), 0);
        assert_no_dot_files(dir);
        tests_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_and_stale),
                cmocka_unit_test(test_publish_replaces),
                cmocka_unit_test(test_locks),
                cmocka_unit_test(test_clean_tmp_only_its_own),
                cmocka_unit_test(test_archive_bases),
                cmocka_unit_test(test_publish_rolls_back),
                cmocka_unit_test(test_remove_keys),
                cmocka_unit_test(test_lock_does_not_follow_links),
                cmocka_unit_test(test_use_archives),
                cmocka_unit_test(test_info_parse),
                cmocka_unit_test(test_prune_select),
                cmocka_unit_test(test_mark_used_and_prune),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
