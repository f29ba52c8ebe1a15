/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "fileio.h"
#include "strv.h"
#include "valid.h"

static void test_machine_name(void **state) {
        assert_true(machine_name_is_valid("bread"));
        assert_true(machine_name_is_valid("a"));
        assert_true(machine_name_is_valid("web_1.example-2"));
        assert_true(machine_name_is_valid("0day"));
        /* exactly 64 characters */
        assert_true(machine_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert_false(machine_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert_false(machine_name_is_valid(""));
        assert_false(machine_name_is_valid(NULL));
        assert_false(machine_name_is_valid(".bread"));
        assert_false(machine_name_is_valid("-bread"));
        assert_false(machine_name_is_valid("a..b"));
        assert_false(machine_name_is_valid("bread."));
        assert_false(machine_name_is_valid("a/b"));
        assert_false(machine_name_is_valid("a b"));
        assert_false(machine_name_is_valid("brot\xc3\xa9"));
        assert_false(machine_name_is_valid("a%i"));
        /* what a command line may carry: paths, options, lines */
        assert_false(machine_name_is_valid("../x"));
        assert_false(machine_name_is_valid(".."));
        assert_false(machine_name_is_valid("."));
        assert_false(machine_name_is_valid("/etc"));
        assert_false(machine_name_is_valid("x/"));
        assert_false(machine_name_is_valid("--force"));
        assert_false(machine_name_is_valid("a\nb"));
        assert_false(machine_name_is_valid("a\\b"));
        assert_false(machine_name_is_valid("a*"));

        /* one rule, with its reason */
        assert_null(machine_name_invalid_reason("bread"));
        assert_string_equal(machine_name_invalid_reason(""), "it is empty");
        assert_non_null(strstr(machine_name_invalid_reason("a/b"), "only ASCII letters"));
        assert_non_null(strstr(machine_name_invalid_reason(".x"), "must not start"));
        assert_non_null(strstr(machine_name_invalid_reason("-x"), "must not start"));
        assert_non_null(strstr(machine_name_invalid_reason("x."), "must not end"));
        assert_non_null(strstr(machine_name_invalid_reason("a..b"), "must not contain"));
        assert_non_null(strstr(machine_name_invalid_reason(
                                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                               "longer than 64"));
}

static void test_cache_key(void **state) {
        assert_true(cache_key_is_valid("debian-bookworm-amd64-minbase-1a2b3c4d"));
        assert_true(cache_key_is_valid("ubuntu-jammy-arm64-buildd-00ff00ff"));
        assert_false(cache_key_is_valid(""));
        assert_false(cache_key_is_valid(NULL));
        assert_false(cache_key_is_valid(".."));
        assert_false(cache_key_is_valid("../etc"));
        assert_false(cache_key_is_valid("a/b"));
        assert_false(cache_key_is_valid(".lock"));
        assert_false(cache_key_is_valid("-rf"));
        assert_false(cache_key_is_valid("a..b"));
        assert_false(cache_key_is_valid("a\nb"));
}

static void test_hostname(void **state) {
        assert_true(hostname_is_valid("bread"));
        assert_true(hostname_is_valid("bread.example.org"));
        assert_true(hostname_is_valid("a-b"));
        assert_false(hostname_is_valid("-a"));
        assert_false(hostname_is_valid("a-"));
        assert_false(hostname_is_valid("a..b"));
        assert_false(hostname_is_valid("a_b"));
        assert_false(hostname_is_valid("a."));
        assert_false(hostname_is_valid(""));
}

static void test_unit_name(void **state) {
        assert_true(unit_name_is_valid("machines.target"));
        assert_true(unit_name_is_valid("multi-user.target"));
        assert_true(unit_name_is_valid("getty@tty1.service"));
        assert_false(unit_name_is_valid("machines"));
        assert_false(unit_name_is_valid("machines.tar"));
        assert_false(unit_name_is_valid("../x.target"));
        assert_false(unit_name_is_valid("a/b.target"));
        assert_false(unit_name_is_valid("@x.service"));
        assert_false(unit_name_is_valid(".target"));
}

static void test_package_name(void **state) {
        assert_true(package_name_is_valid("vim"));
        assert_true(package_name_is_valid("libc6"));
        assert_true(package_name_is_valid("g++"));
        assert_true(package_name_is_valid("libstdc++6:i386"));
        assert_false(package_name_is_valid("v"));
        assert_false(package_name_is_valid("Vim"));
        assert_false(package_name_is_valid("-vim"));
        assert_false(package_name_is_valid("vim;rm"));
        assert_false(package_name_is_valid("vim:vax"));
}

static void test_user_name(void **state) {
        assert_true(user_name_is_valid("alice"));
        assert_true(user_name_is_valid("_apt"));
        assert_true(user_name_is_valid("a.b-c_d"));
        assert_false(user_name_is_valid("1alice"));
        assert_false(user_name_is_valid("al ice"));
        assert_false(user_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_urls(void **state) {
        assert_true(url_is_valid("http://deb.debian.org/debian", false));
        assert_true(url_is_valid("https://x/y.tar.xz", false));
        assert_false(url_is_valid("file:///srv/x.tar", false));
        assert_true(url_is_valid("file:///srv/x.tar", true));
        assert_false(url_is_valid("file://relative", true));
        assert_false(url_is_valid("ftp://x/y", true));
        assert_false(url_is_valid("http://", true));
        assert_false(url_is_valid("http:///path", true));
        assert_false(url_is_valid("http://x/a b", true));
}

static void test_arch_and_misc(void **state) {
        assert_true(architecture_is_known("amd64"));
        assert_true(architecture_is_known("riscv64"));
        assert_false(architecture_is_known("x86_64"));
        assert_false(architecture_is_known(NULL));
        assert_non_null(strstr(architecture_list(), "arm64"));
        assert_true(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
        assert_false(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"));
        assert_false(sha256_hex_is_valid("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g"));
        assert_int_equal(parse_boolean("yes"), 1);
        assert_int_equal(parse_boolean("On"), 1);
        assert_int_equal(parse_boolean("0"), 0);
        assert_int_equal(parse_boolean("false"), 0);
        assert_int_equal(parse_boolean("maybe"), -EINVAL);
}

/* Our table against dpkg's own: the Linux architectures "dpkg-architecture -L" lists, computed from the
 * tables dpkg (essential on Debian) ships, and against dpkg-architecture itself where dpkg-dev is there. */
static bool in_list(char **l, const char *s) {
        return strv_contains(l, s);
}

static char **dpkg_linux_architectures(void) {
        _cleanup_free_ char *cputable = NULL, *tupletable = NULL;
        _cleanup_strv_free_ char **cpus = NULL, **lines = NULL;
        char **arches = NULL;

        if (read_full_file("/usr/share/dpkg/cputable", &cputable, NULL) < 0 ||
            read_full_file("/usr/share/dpkg/tupletable", &tupletable, NULL) < 0)
                return NULL;
        assert_int_equal(strv_split(&lines, cputable, "\n"), 0);
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **w = NULL;
                assert_int_equal(strv_split_words(&w, *l), 0);
                if (w[0] && w[0][0] != '#')
                        assert_int_equal(strv_extend(&cpus, w[0]), 0);
        }
        lines = strv_free(lines);
        assert_int_equal(strv_split(&lines, tupletable, "\n"), 0);
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **w = NULL;
                assert_int_equal(strv_split_words(&w, *l), 0);
                if (!w[0] || w[0][0] == '#' || !w[1] || !strstr(w[0], "-linux-"))
                        continue;
                /* "base-gnu-linux-<cpu> <cpu>": every CPU; other Linux tuples name their architecture */
                if (streq(w[1], "<cpu>")) {
                        STRV_FOREACH(c, cpus)
                                if (!in_list(arches, *c))
                                        assert_int_equal(strv_extend(&arches, *c), 0);
                } else if (!strchr(w[1], '-') && !in_list(arches, w[1]))
                        assert_int_equal(strv_extend(&arches, w[1]), 0);
        }
        return arches;
}

/* Names dpkg dropped after bookworm (trixie's dpkg no longer lists them): still accepted, since a machine
 * may be declared for a release that had them; nothing else may differ from the host's dpkg. */
static const char *const retired_architectures[] = { "arm64ilp32", "avr32", "m32r", "tilegx", NULL };

static void test_architectures_match_dpkg(void **state) {
        _cleanup_strv_free_ char **dpkg = dpkg_linux_architectures();
        const char *const *ours;
        size_t n = architectures_known(&ours), retired = 0;
        FILE *f;

        if (!dpkg) {
                printf("no /usr/share/dpkg tables, cannot compare\n");
                skip();
        }
        for (size_t i = 0; i < n; i++)
                if (!in_list(dpkg, ours[i])) {
                        if (!in_list((char **) retired_architectures, ours[i]))
                                fail_msg("'%s' is not an architecture dpkg knows", ours[i]);
                        retired++;
                }
        STRV_FOREACH(a, dpkg)
                if (!architecture_is_known(*a))
                        fail_msg("dpkg knows '%s', valid.c does not", *a);
        assert_int_equal(strv_length(dpkg) + retired, n);

        /* and dpkg-architecture's own answer, when dpkg-dev is installed */
        f = popen("dpkg-architecture -L 2>/dev/null", "re");
        if (f) {
                char line[128];
                size_t seen = 0;
                while (fgets(line, sizeof line, f)) {
                        line[strcspn(line, "\n")] = 0;
                        if (strchr(line, '-'))
                                continue; /* another OS: "kfreebsd-amd64", "musl-linux-arm64" */
                        seen++;
                        if (!architecture_is_known(line))
                                fail_msg("dpkg-architecture -L lists '%s', valid.c does not", line);
                }
                pclose(f);
                assert_true(seen == 0 || seen + retired == n);
        }
}

static void test_timespan(void **state) {
        uint64_t v;

        assert_int_equal(parse_timespan_sec("7d", &v), 0);
        assert_int_equal(v, 7 * 86400);
        assert_int_equal(parse_timespan_sec("90", &v), 0);
        assert_int_equal(v, 90);
        assert_int_equal(parse_timespan_sec("1d 12h", &v), 0);
        assert_int_equal(v, 86400 + 12 * 3600);
        assert_int_equal(parse_timespan_sec("30min", &v), 0);
        assert_int_equal(v, 1800);
        assert_int_equal(parse_timespan_sec("2w", &v), 0);
        assert_int_equal(v, 14 * 86400);
        assert_int_equal(parse_timespan_sec("infinity", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_timespan_sec("7 fortnights", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("-1d", &v), -EINVAL);
        assert_int_equal(parse_timespan_sec("99999999999999999999w", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_name), cmocka_unit_test(test_hostname),
                cmocka_unit_test(test_unit_name),    cmocka_unit_test(test_package_name),
                cmocka_unit_test(test_user_name),    cmocka_unit_test(test_urls),
                cmocka_unit_test(test_arch_and_misc), cmocka_unit_test(test_timespan),
                cmocka_unit_test(test_cache_key),     cmocka_unit_test(test_architectures_match_dpkg),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
