/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"

#include "fileio.h"
#include "oci-layer.h"

typedef struct Entry {
        const char *name;
        char type; /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link */
        const char *data; /* content, or the link's target */
} Entry;

/* A layer tar (gzip when asked) from entries, as a file in dir; returns an open fd to it. */
static int layer(const char *dir, const char *name, const Entry *entries, size_t n, bool gz) {
        _cleanup_free_ char *path = NULL;
        struct archive *a = archive_write_new();

        assert_non_null(a);
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        archive_write_set_format_pax_restricted(a);
        if (gz)
                archive_write_add_filter_gzip(a);
        assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, entries[i].name);
                archive_entry_set_mtime(e, 1700000000, 0);
                switch (entries[i].type) {
                case 'd':
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                        break;
                case 'l':
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, entries[i].data);
                        archive_entry_set_perm(e, 0777);
                        break;
                case 'h':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, entries[i].data);
                        break;
                default:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, entries[i].data ? (la_int64_t) strlen(entries[i].data) : 0);
                }
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (entries[i].type == 'f' && entries[i].data)
                        archive_write_data(a, entries[i].data, strlen(entries[i].data));
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static int apply(const char *dir, const char *name, const Entry *entries, size_t n, const char *root,
                 Diagnostics *d) {
        _cleanup_close_ int fd = layer(dir, name, entries, n, strstr(name, "gz") != NULL);
        OciLayerStats stats = {};
        return oci_layer_apply(fd, root, &stats, d);
}

static bool exists(const char *root, const char *rel) {
        _cleanup_free_ char *p = NULL;
        struct stat st;
        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        return lstat(p, &st) >= 0;
}

static bool diag_says(const Diagnostics *d, const char *what) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, what))
                        return true;
        return false;
}

/* "./" first, as "tar -C DIR ." writes it: the top directory, skipped */
static const Entry lower[] = {
        { "./", 'd', NULL },           { "etc/", 'd', NULL },         { "etc/keep", 'f', "k" },   { "etc/gone", 'f', "g" },
        { "etc/gonedir/", 'd', NULL }, { "etc/gonedir/x", 'f', "x" }, { "opq/", 'd', NULL },
        { "opq/old", 'f', "o" },       { "opq/sub/", 'd', NULL },  { "opq/sub/deep", 'f', "d" },
        { "keepdir/", 'd', NULL },     { "keepdir/a", 'f', "a" },
};

static void test_whiteouts(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *root = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        /* the opaque marker comes after its sibling "new" in the same tar: "new" stays */
        static const Entry upper[] = {
                { "./etc/.wh.gone", 'f', NULL },  { "etc/.wh.gonedir", 'f', NULL }, { "opq/", 'd', NULL },
                { "opq/new", 'f', "n" },          { "opq/.wh..wh..opq", 'f', NULL }, { "etc/.wh.missing", 'f', NULL },
                { "nodir/.wh.x", 'f', NULL },
        };

        assert_true(asprintf(&root, "%s/root", dir) > 0);
        assert_int_equal(mkdir(root, 0755), 0);
        assert_int_equal(apply(dir, "l1.tar", lower, ELEMENTSOF(lower), root, &d), 0);
        assert_int_equal(apply(dir, "l2.tar.gz", upper, ELEMENTSOF(upper), root, &d), 0);
        assert_true(exists(root, "etc/keep"));
        assert_false(exists(root, "etc/gone"));
        assert_false(exists(root, "etc/gonedir"));
        assert_true(exists(root, "opq/new"));
        assert_false(exists(root, "opq/old"));
        assert_false(exists(root, "opq/sub"));
        assert_true(exists(root, "keepdir/a"));
        /* markers are never unpacked */
        assert_false(exists(root, "etc/.wh.gone"));
        assert_false(exists(root, "opq/.wh..wh..opq"));
        tests_rm_rf(dir);
}

static void refused(const Entry *upper, size_t n, const char *says) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *root = NULL, *outside = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        static const Entry links[] = {
                { "out", 'l', NULL }, /* target set below */
                { "rel", 'l', "../../../../../../../../.." },
        };
        Entry l[ELEMENTSOF(links)];

        assert_true(asprintf(&root, "%s/root", dir) > 0);
        assert_true(asprintf(&outside, "%s/outside", dir) > 0);
        assert_int_equal(mkdir(root, 0755), 0);
        tests_write(outside, "victim", "host file");
        memcpy(l, links, sizeof l);
        l[0].data = outside;
        assert_int_equal(apply(dir, "l1.tar", lower, ELEMENTSOF(lower), root, &d), 0);
        assert_int_equal(apply(dir, "links.tar", l, ELEMENTSOF(l), root, &d), 0);
        assert_true(apply(dir, "l2.tar", upper, n, root, &d) < 0);
        if (!diag_says(&d, says))
                fail_msg("no message with '%s' (first: %s)", says, d.n ? d.items[0].message : "none");
        assert_true(exists(outside, "victim"));
        assert_false(exists(outside, "evil"));
        tests_rm_rf(dir);
}

static void test_whiteout_dotdot(void **state) {
        static const Entry up[] = { { "../.wh.victim", 'f', NULL } };
        static const Entry deep[] = { { "etc/../../outside/.wh.victim", 'f', NULL } };
        static const Entry dots[] = { { "etc/.wh..", 'f', NULL } };
        refused(up, 1, "Refusing whiteout");
        refused(deep, 1, "Refusing whiteout");
        refused(dots, 1, "Refusing whiteout");
}

static void test_whiteout_through_link(void **state) {
        static const Entry abs_link[] = { { "out/.wh.victim", 'f', NULL } };
        static const Entry rel_link[] = { { "rel/tmp/.wh.victim", 'f', NULL } };
        static const Entry opaque[] = { { "out/.wh..wh..opq", 'f', NULL } };
        refused(abs_link, 1, "symbolic link");
        refused(rel_link, 1, "symbolic link");
        refused(opaque, 1, "symbolic link");
}

static void test_entry_guards(void **state) {
        static const Entry through[] = { { "out/evil", 'f', "x" } };
        static const Entry absolute[] = { { "/tmp/evil", 'f', "x" } };
        static const Entry dotdot[] = { { "etc/../../outside/evil", 'f', "x" } };
        static const Entry hard[] = { { "etc/h", 'h', "../outside/victim" } };
        refused(through, 1, "Cannot unpack 'out/evil'");
        refused(absolute, 1, "Refusing layer entry");
        refused(dotdot, 1, "Refusing layer entry");
        refused(hard, 1, "Refusing hard link");
}

static void test_normalize(void **state) {
        _cleanup_free_ char *a = oci_layer_path_normalize("./a/b/"), *b = oci_layer_path_normalize(".//x");
        assert_string_equal(a, "a/b");
        assert_string_equal(b, "x");
        assert_null(oci_layer_path_normalize("/etc"));
        assert_null(oci_layer_path_normalize("./"));
        assert_null(oci_layer_path_normalize("a/../b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_whiteouts),       cmocka_unit_test(test_whiteout_dotdot),
                cmocka_unit_test(test_whiteout_through_link), cmocka_unit_test(test_entry_guards),
                cmocka_unit_test(test_normalize),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
