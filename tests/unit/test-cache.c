/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/file.h>
#include <sys/stat.h>

#include "tests.h"

#include "cache.h"
#include "fileio.h"
#include "strv.h"

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_and_stale),
                cmocka_unit_test(test_publish_replaces),
                cmocka_unit_test(test_locks),
                cmocka_unit_test(test_clean_tmp_only_its_own),
                cmocka_unit_test(test_archive_bases),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
