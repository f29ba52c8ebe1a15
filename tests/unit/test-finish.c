/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finishing a tree for a machine, and tidying a base, on made-up trees: plain ones, and hostile ones whose
 * links, FIFOs and hard links point at files outside that must stay as they are. */
#include <sys/stat.h>

#include "tests.h"

#include "bootstrap.h"
#include "fileio.h"
#include "finish.h"
#include "strv.h"

static const time_t NOW = 1795910400; /* 2026-11-29 */
static char data_dir[4096], vendor[4096];

static BootstrapPlan *plan(const char *text) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_strv_free_ char **files = NULL;
        _cleanup_free_ char *buf = strdup(text);
        HostFacts host = { .architecture = "amd64", .now = NOW, .distro_info_dir = data_dir };
        BootstrapPlan *p = NULL;

        assert_int_equal(unit_file_parse_buffer(&u, "m.mspawn", buf, strlen(buf), &d), 0);
        assert_int_equal(machine_config_from_unit("m", "m.mspawn", &u, NOW, data_dir, &c, &d), 0);
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), 0);
        return p;
}

static void assert_file(const char *root, const char *rel, const char *content) {
        _cleanup_free_ char *text = tests_read(root, rel);
        _cleanup_free_ char *p = strjoin(root, "/", rel);
        struct stat st;

        if (!text)
                fail_msg("%s is missing", rel);
        assert_string_equal(text, content);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_nlink, 1);
}

static const char bookworm[] = "[Machine]\nDistribution=debian\nRelease=bookworm\nHostname=bread\n";

static void test_finish_plain_tree(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *text = NULL;
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = plan(bookworm);
        const char *failed = NULL;

        tests_write(tree, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        tests_write(tree, "etc/apt/apt.conf.d/01machinespawn-proxy", "Acquire::http::Proxy \"http://old\";\n");
        assert_int_equal(machine_finish(tree, p, NULL, &failed), 0);
        assert_null(failed);
        assert_file(tree, "etc/hostname", "bread\n");
        assert_file(tree, "etc/machine-id", "");
        assert_file(tree, "etc/default/locale", "LANG=C.UTF-8\n");
        assert_file(tree, "etc/locale.conf", "LANG=C.UTF-8\n");
        text = tests_read(tree, "etc/hosts");
        assert_non_null(text);
        assert_non_null(strstr(text, "127.0.1.1\tbread\n"));
        assert_non_null(strstr(text, "127.0.0.1\tlocalhost\n"));
        free(text);
        text = tests_read(tree, "etc/apt/sources.list");
        assert_non_null(text);
        assert_non_null(strstr(text, "deb http://deb.debian.org/debian bookworm main"));
        assert_non_null(strstr(text, "bookworm-updates"));
        assert_non_null(strstr(text, "bookworm-security"));
        /* no proxy kept: an old proxy setting goes */
        assert_false(tests_exists(tree, "etc/apt/apt.conf.d/01machinespawn-proxy"));

        /* a proxy to keep */
        assert_int_equal(machine_finish(tree, p, "http://10.0.0.1:3142", NULL), 0);
        free(text);
        text = tests_read(tree, "etc/apt/apt.conf.d/01machinespawn-proxy");
        assert_non_null(text);
        assert_non_null(strstr(text, "Acquire::http::Proxy \"http://10.0.0.1:3142\";\n"));
        tests_rm_rf(root);
}

/* Every file finishing writes is a trap: a link out (absolute and relative), a FIFO, a hard link to a
 * file outside. The files outside keep their content, and the tree gets plain files. */
static void test_finish_hostile_tree(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *victim = strjoin(root, "/victim");
        _cleanup_free_ char *p = NULL, *q = NULL, *text = NULL;
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *pl = plan(bookworm);

        tests_write(root, "victim/hostname", "host\n");
        tests_write(root, "victim/hosts", "hosts\n");
        tests_write(root, "victim/machine-id", "host-id\n");
        tests_write(root, "victim/locale", "LANG=de_DE\n");
        tests_write(tree, "etc/.keep", "");
        /* etc/hostname: absolute link to a host file; etc/hosts: relative link climbing out */
        p = strjoin(tree, "/etc/hostname");
        q = strjoin(victim, "/hostname");
        assert_int_equal(symlink(q, p), 0);
        free(p);
        p = strjoin(tree, "/etc/hosts");
        assert_int_equal(symlink("../../victim/hosts", p), 0);
        /* etc/machine-id: a hard link to a host file */
        free(p);
        free(q);
        p = strjoin(tree, "/etc/machine-id");
        q = strjoin(victim, "/machine-id");
        assert_int_equal(link(q, p), 0);
        /* etc/locale.conf: a FIFO nobody writes to (opening it for reading would hang) */
        free(p);
        p = strjoin(tree, "/etc/locale.conf");
        assert_int_equal(mkfifo(p, 0644), 0);
        assert_int_equal(machine_finish(tree, pl, NULL, NULL), 0);

        assert_file(root, "victim/hostname", "host\n");
        assert_file(root, "victim/hosts", "hosts\n");
        assert_file(root, "victim/locale", "LANG=de_DE\n");
        text = tests_read(root, "victim/machine-id");
        assert_string_equal(text, "host-id\n");
        assert_false(tests_exists(root, "victim/default"));
        assert_false(tests_exists(root, "victim/locale.conf"));
        /* the tree's own files are plain files now */
        assert_file(tree, "etc/hostname", "bread\n");
        assert_file(tree, "etc/machine-id", "");
        assert_file(tree, "etc/locale.conf", "LANG=C.UTF-8\n");
        free(text);
        text = tests_read(tree, "etc/hosts");
        assert_non_null(strstr(text, "bread"));
        tests_rm_rf(root);
}

/* etc, or etc/default, as a link to a directory outside: resolved inside the tree, where it leads nowhere,
 * so finishing refuses, names the path, and nothing lands outside. A link that stays inside is followed. */
static void test_finish_directory_links(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *outside = strjoin(root, "/outside");
        _cleanup_free_ char *p = strjoin(tree, "/etc"), *q = NULL;
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *pl = plan(bookworm);
        const char *failed = NULL;

        tests_write(root, "outside/.keep", "");
        tests_write(tree, "usr/.keep", "");
        assert_int_equal(symlink(outside, p), 0);
        assert_int_equal(machine_finish(tree, pl, NULL, &failed), -ENOENT);
        assert_string_equal(failed, "etc/hostname");
        failed = NULL;
        assert_int_equal(machine_finish_image(tree, "img", &failed), -ENOENT);
        assert_string_equal(failed, "etc/hostname");
        failed = NULL;
        assert_int_equal(base_tidy(tree, &failed), -ENOENT);
        assert_string_equal(failed, "etc/machine-id");

        assert_int_equal(unlink(p), 0);
        tests_write(tree, "etc/.keep", "");
        q = strjoin(tree, "/etc/default");
        assert_int_equal(symlink("../../../../../../../../outside", q), 0);
        failed = NULL;
        assert_int_equal(machine_finish(tree, pl, NULL, &failed), -ENOENT);
        assert_string_equal(failed, "etc/default/locale");
        assert_false(tests_exists(root, "outside/hostname"));
        assert_false(tests_exists(root, "outside/machine-id"));
        assert_false(tests_exists(root, "outside/locale"));
        assert_false(tests_exists(root, "outside/apt"));

        /* etc/default -> /usr/share/default-inside, which the tree has: followed, inside */
        assert_int_equal(unlink(q), 0);
        tests_write(tree, "usr/share/default-inside/.keep", "");
        assert_int_equal(symlink("/usr/share/default-inside", q), 0);
        assert_int_equal(machine_finish(tree, pl, NULL, NULL), 0);
        assert_file(tree, "usr/share/default-inside/locale", "LANG=C.UTF-8\n");
        tests_rm_rf(root);
}

/* Refusals name the path inside the tree; nothing is written after the first failure. */
static void test_finish_failures(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *none = strjoin(root, "/none");
        _cleanup_free_ char *link = strjoin(root, "/link");
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = plan(bookworm);
        const char *failed = NULL;

        /* etc is a file */
        tests_write(tree, "etc", "x");
        assert_true(machine_finish(tree, p, NULL, &failed) < 0);
        assert_string_equal(failed, "etc/hostname");
        failed = NULL;
        assert_true(machine_finish_image(tree, "img", &failed) < 0);
        assert_string_equal(failed, "etc/hostname");
        failed = NULL;
        assert_true(base_tidy(tree, &failed) < 0);
        assert_string_equal(failed, "etc/machine-id");
        assert_false(tests_exists(tree, "var"));

        /* etc/default is a file: everything before it is written, then the refusal */
        tests_rm_rf(tree);
        tests_write(tree, "etc/default", "x");
        failed = NULL;
        assert_true(machine_finish(tree, p, NULL, &failed) < 0);
        assert_string_equal(failed, "etc/default/locale");
        assert_file(tree, "etc/hostname", "bread\n");
        assert_false(tests_exists(tree, "etc/locale.conf"));

        /* a proxy file that cannot be written or removed: a directory in its place */
        tests_rm_rf(tree);
        tests_write(tree, "etc/apt/apt.conf.d/01machinespawn-proxy/x", "x");
        failed = NULL;
        assert_true(machine_finish(tree, p, NULL, &failed) < 0);
        assert_string_equal(failed, "etc/apt/apt.conf.d/01machinespawn-proxy");
        failed = NULL;
        assert_true(machine_finish(tree, p, "http://10.0.0.1:3142", &failed) < 0);
        assert_string_equal(failed, "etc/apt/apt.conf.d/01machinespawn-proxy");

        /* the tree's top missing or a link */
        assert_int_equal(machine_finish(none, p, NULL, NULL), -ENOENT);
        assert_int_equal(machine_finish_image(none, "img", NULL), -ENOENT);
        assert_int_equal(base_tidy(none, NULL), -ENOENT);
        assert_int_equal(symlink(tree, link), 0);
        assert_int_equal(machine_finish(link, p, NULL, NULL), -ELOOP);
        tests_rm_rf(root);
}

/* Tidying refuses what it cannot empty or remove, and names it. */
static void test_tidy_failures(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree");
        const char *failed = NULL;

        tests_write(tree, "etc/apt/apt.conf.d/99mmdebstrap/x", "a directory where a file was");
        assert_true(base_tidy(tree, &failed) < 0);
        assert_string_equal(failed, "etc/apt/apt.conf.d/99mmdebstrap");

        tests_rm_rf(tree);
        tests_write(tree, "var/cache/apt/archives", "a file where a directory was");
        failed = NULL;
        assert_true(base_tidy(tree, &failed) < 0);
        assert_string_equal(failed, "var/cache/apt/archives");

        tests_rm_rf(tree);
        tests_write(tree, "var/lib/apt/lists", "a file");
        failed = NULL;
        assert_true(base_tidy(tree, &failed) < 0);
        assert_string_equal(failed, "var/lib/apt/lists");

        tests_rm_rf(tree);
        tests_write(tree, "var/lib/dbus/machine-id/x", "a directory");
        failed = NULL;
        assert_true(base_tidy(tree, &failed) < 0);
        assert_string_equal(failed, "var/lib/dbus/machine-id");

        /* a minimal tree with none of them: fine, and a machine-id made */
        tests_rm_rf(tree);
        tests_write(tree, "usr/.keep", "");
        assert_int_equal(base_tidy(tree, NULL), 0);
        assert_file(tree, "etc/machine-id", "");
        tests_rm_rf(root);
}

static void test_finish_image(void **state) {
        _cleanup_free_ char *root = tests_mkdtemp(), *tree = strjoin(root, "/tree"), *p = NULL, *q = NULL;

        tests_write(root, "victim", "host-id\n");
        tests_write(tree, "etc/hostname", "image\n");
        p = strjoin(tree, "/etc/machine-id");
        q = strjoin(root, "/victim");
        assert_int_equal(symlink(q, p), 0);
        assert_int_equal(machine_finish_image(tree, "box", NULL), 0);
        assert_file(tree, "etc/hostname", "box\n");
        assert_file(tree, "etc/machine-id", "");
        assert_file(root, "victim", "host-id\n");
        /* only the machine's own: no sources.list, no locale */
        assert_false(tests_exists(tree, "etc/apt"));
        assert_false(tests_exists(tree, "etc/default"));
        tests_rm_rf(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_finish_plain_tree),
                cmocka_unit_test(test_finish_hostile_tree),
                cmocka_unit_test(test_finish_directory_links),
                cmocka_unit_test(test_finish_failures),
                cmocka_unit_test(test_tidy_failures),
                cmocka_unit_test(test_finish_image),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
