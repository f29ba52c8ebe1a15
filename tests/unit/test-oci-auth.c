/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

#include "oci-auth.h"
#include "strv.h"

static void test_challenge(void **state) {
        _cleanup_(oci_challenge_done) OciChallenge c = {}, b = {}, q = {}, two = {};

        assert_int_equal(oci_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                             "scope=\"repository:library/debian:pull\"", &c), 0);
        assert_string_equal(c.scheme, "bearer");
        assert_string_equal(c.realm, "https://auth.docker.io/token");
        assert_string_equal(c.service, "registry.docker.io");
        assert_string_equal(c.scope, "repository:library/debian:pull");

        assert_int_equal(oci_challenge_parse("Basic realm=\"Registry Realm\"", &b), 0);
        assert_string_equal(b.scheme, "basic");
        assert_string_equal(b.realm, "Registry Realm");
        assert_null(b.service);

        /* commas and escaped quotes inside quotes, a token value, spaces around, odd case */
        assert_int_equal(oci_challenge_parse("  BEARER  Realm=\"https://a/t?x=1,y=2\" , service=reg , "
                                             "scope=\"repository:a:pull,push\",error=\"say \\\"no\\\"\"", &q), 0);
        assert_string_equal(q.scheme, "bearer");
        assert_string_equal(q.realm, "https://a/t?x=1,y=2");
        assert_string_equal(q.service, "reg");
        assert_string_equal(q.scope, "repository:a:pull,push");

        /* only the first of two challenges */
        assert_int_equal(oci_challenge_parse("Bearer realm=\"https://r/t\", Basic realm=\"x\"", &two), 0);
        assert_string_equal(two.realm, "https://r/t");

        OciChallenge bad = {};
        assert_int_equal(oci_challenge_parse("", &bad), -EINVAL);
        assert_int_equal(oci_challenge_parse("Bearer realm=\"unterminated", &bad), -EINVAL);
}

static void test_lookup_text(void **state) {
        static const char text[] =
                "{\"auths\":{"
                "\"quay.io\":{\"auth\":\"cXVheTpx\"},"
                "\"quay.io/team\":{\"auth\":\"dGVhbTp0\"},"
                "\"quay.io/team/app\":{\"auth\":\"YXBwOmE=\"},"
                "\"localhost:5000\":{\"auth\":\"bG9jYWw6bA==\"},"
                "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmg=\"},"
                "\"empty.io\":{\"auth\":\"\"}}}";
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *e = NULL, *f = NULL, *g = NULL;
        char *none = NULL;

        assert_int_equal(oci_auth_lookup_text(text, "quay.io", "other/x", &a), 0);
        assert_string_equal(a, "cXVheTpx");
        assert_int_equal(oci_auth_lookup_text(text, "quay.io", "team/x", &b), 0);
        assert_string_equal(b, "dGVhbTp0");
        assert_int_equal(oci_auth_lookup_text(text, "quay.io", "team/app", &c), 0);
        assert_string_equal(c, "YXBwOmE=");
        assert_int_equal(oci_auth_lookup_text(text, "localhost:5000", "x", &e), 0);
        assert_string_equal(e, "bG9jYWw6bA==");
        assert_int_equal(oci_auth_lookup_text(text, "docker.io", "library/debian", &f), 0);
        assert_string_equal(f, "aHViOmg=");
        /* another port is another registry */
        assert_int_equal(oci_auth_lookup_text(text, "localhost:5001", "x", &none), -ENOENT);
        assert_int_equal(oci_auth_lookup_text(text, "localhost", "x", &none), -ENOENT);
        assert_int_equal(oci_auth_lookup_text(text, "empty.io", "x", &none), -ENOENT);
        /* a name that only starts like a configured one */
        assert_int_equal(oci_auth_lookup_text(text, "quay.io", "teamster/x", &g), 0);
        assert_string_equal(g, "cXVheTpx");
        assert_int_equal(oci_auth_lookup_text("{}", "quay.io", "x", &none), -ENOENT);
        assert_int_equal(oci_auth_lookup_text("not json", "quay.io", "x", &none), -EBADMSG);
        assert_int_equal(oci_auth_lookup_text("{\"auths\":[]}", "quay.io", "x", &none), -EBADMSG);
        assert_null(none);
}

static void test_lookup_files(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *first = NULL, *second = NULL, *broken = NULL, *got = NULL;
        _cleanup_free_ char *skipped = NULL, *missing = NULL, *got2 = NULL;
        _cleanup_strv_free_ char **files = NULL;

        tests_write(dir, "broken.json", "{{{");
        tests_write(dir, "first.json", "{\"auths\":{\"other.io\":{\"auth\":\"b3RoZXI6bw==\"}}}");
        tests_write(dir, "second.json", "{\"auths\":{\"quay.io\":{\"auth\":\"c2Vjb25kOnM=\"}}}");
        assert_true(asprintf(&broken, "%s/broken.json", dir) > 0);
        assert_true(asprintf(&first, "%s/first.json", dir) > 0);
        assert_true(asprintf(&second, "%s/second.json", dir) > 0);
        assert_true(asprintf(&missing, "%s/missing.json", dir) > 0);
        files = strv_copy((char *[]) { missing, broken, first, second, NULL });
        assert_non_null(files);
        /* the first file that names the registry, past missing, broken and unrelated ones */
        assert_int_equal(oci_auth_lookup(files, "quay.io", "x", &got, &skipped), 0);
        assert_string_equal(got, "c2Vjb25kOnM=");
        assert_string_equal(skipped, broken);
        assert_int_equal(oci_auth_lookup(files, "other.io", "x", &got2, NULL), 0);
        assert_string_equal(got2, "b3RoZXI6bw==");
        char *none = NULL;
        assert_int_equal(oci_auth_lookup(files, "nowhere.io", "x", &none, NULL), -ENOENT);
        tests_rm_rf(dir);
}

static void test_files_order(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *joined = NULL;

        setenv("REGISTRY_AUTH_FILE", "/x/auth.json", 1);
        setenv("HOME", "/home/u", 1);
        assert_int_equal(oci_auth_files(&l), 0);
        joined = strv_join(l, " ");
        assert_string_equal(joined, "/x/auth.json /run/containers/0/auth.json /etc/containers/auth.json "
                                    "/home/u/.docker/config.json");
        strv_free(l);
        l = NULL;
        unsetenv("REGISTRY_AUTH_FILE");
        assert_int_equal(oci_auth_files(&l), 0);
        assert_string_equal(l[0], "/run/containers/0/auth.json");
}

/* Credentials go along only where scheme, host and port are the registry's own. */
static void test_same_origin(void **state) {
        static const struct {
                const char *a, *b;
                bool same;
        } cases[] = {
                { "https://r.io/v2/x/blobs/sha256:1", "https://r.io/v2/x/blobs/sha256:2", true },
                { "https://r.io/v2/", "https://R.IO:443/other", true },
                { "http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/x?y", true },
                { "https://r.io/v2/", "https://cdn.r.io/blob", false },
                { "https://r.io/v2/", "https://r.io.evil.net/blob", false },
                { "https://r.io/v2/", "https://r.io:8443/blob", false },
                { "https://r.io/v2/", "http://r.io/blob", false },
                { "http://127.0.0.1:5000/v2/", "http://127.0.0.2:5000/v2/", false },
                { "http://127.0.0.1:5000/v2/", "http://127.0.0.1:5001/v2/", false },
                { "https://r.io/v2/", "https://user@evil.net/", false },
                { "https://r.io/v2/", "not a url", false },
                { "https://r.io/v2/", NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (oci_url_same_origin(cases[i].a, cases[i].b) != cases[i].same)
                        fail_msg("%s vs %s: expected %s", cases[i].a, cases[i].b ?: "(null)",
                                 cases[i].same ? "same" : "different");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_challenge),    cmocka_unit_test(test_lookup_text),
                cmocka_unit_test(test_lookup_files), cmocka_unit_test(test_files_order),
                cmocka_unit_test(test_same_origin),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
