/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tests.h"

#include "oci-ref.h"

static void test_parse_good(void **state) {
        static const struct {
                const char *in, *registry, *repository, *tag, *digest;
        } cases[] = {
                { "docker://debian", "docker.io", "library/debian", "latest", NULL },
                { "debian", "docker.io", "library/debian", "latest", NULL },
                { "docker://debian:bookworm", "docker.io", "library/debian", "bookworm", NULL },
                { "docker://fedora/fedora:40", "docker.io", "fedora/fedora", "40", NULL },
                { "docker://docker.io/library/alpine:3.20", "docker.io", "library/alpine", "3.20", NULL },
                { "docker://docker.io/alpine", "docker.io", "library/alpine", "latest", NULL },
                { "docker://index.docker.io/alpine", "docker.io", "library/alpine", "latest", NULL },
                { "docker://quay.io/centos/centos:stream9", "quay.io", "centos/centos", "stream9", NULL },
                { "docker://quay.io/x", "quay.io", "x", "latest", NULL },
                { "docker://ghcr.io/a/b/c-d_e.f__g:v1.2-rc_3", "ghcr.io", "a/b/c-d_e.f__g", "v1.2-rc_3", NULL },
                { "docker://localhost/img", "localhost", "img", "latest", NULL },
                { "docker://localhost:5000/img:t", "localhost:5000", "img", "t", NULL },
                { "docker://127.0.0.1:5000/test/img:v1", "127.0.0.1:5000", "test/img", "v1", NULL },
                { "docker://a--b/c", "docker.io", "a--b/c", "latest", NULL },
                { "docker://debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  "docker.io", "library/debian", NULL,
                  "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
                /* a tag next to a digest: the digest decides */
                { "docker://r.io:443/x:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  "r.io:443", "x", NULL, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(oci_ref_done) OciRef r = {};
                const char *why = NULL;

                if (oci_ref_parse(cases[i].in, &r, &why) < 0)
                        fail_msg("%s: refused: %s", cases[i].in, why);
                if (!streq(r.registry, cases[i].registry) || !streq(r.repository, cases[i].repository) ||
                    !streq_ptr(r.tag, cases[i].tag) || !streq_ptr(r.digest, cases[i].digest))
                        fail_msg("%s: got %s %s %s %s", cases[i].in, r.registry, r.repository, r.tag ?: "-",
                                 r.digest ?: "-");
        }
}

static void test_parse_bad(void **state) {
        static const struct {
                const char *in, *why;
        } cases[] = {
                { "docker://", "empty reference" },
                { "", "empty reference" },
                { "docker://Debian", "repository name" },
                { "docker://debian:", "tag" },
                { "docker://debian:.x", "tag" },
                { "docker://debian:a/b", "registry" },
                { "docker://debian@sha256:abc", "digest" },
                { "docker://debian@md5:0123456789abcdef0123456789abcdef", "digest" },
                { "docker://debian@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest" },
                { "docker://quay.io/", "no repository" },
                { "docker://quay.io:99999/x", "registry" },
                { "docker://quay.io:/x", "registry" },
                { "docker://qu_ay.io/x", "registry" },
                { "docker://a//b", "repository name" },
                { "docker://a/../b", "repository name" },
                { "docker://-a", "repository name" },
                { "docker://a-", "repository name" },
                { "docker://a___b", "repository name" },
                { "docker://a..b", "repository name" },
                { "docker://deb ian", "repository name" },
                { "docker://debian\n", "repository name" },
                { "docker://x:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "tag" }, /* 129 */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(oci_ref_done) OciRef r = {};
                const char *why = NULL;

                if (oci_ref_parse(cases[i].in, &r, &why) != -EINVAL)
                        fail_msg("%s: accepted as %s/%s", cases[i].in, r.registry, r.repository);
                if (!why || !strstr(why, cases[i].why))
                        fail_msg("%s: reason '%s' does not mention '%s'", cases[i].in, why ?: "(none)", cases[i].why);
        }
}

static void test_is_docker(void **state) {
        assert_true(oci_ref_is_docker("docker://x"));
        assert_false(oci_ref_is_docker("https://x/rootfs.tar"));
        assert_false(oci_ref_is_docker(NULL));
        assert_string_equal(oci_registry_api_host("docker.io"), "registry-1.docker.io");
        assert_string_equal(oci_registry_api_host("quay.io"), "quay.io");
}

static void test_platform(void **state) {
        static const struct {
                const char *in, *arch, *variant;
        } cases[] = {
                { "amd64", "amd64", NULL },   { "arm64", "arm64", NULL },     { "armhf", "arm", "v7" },
                { "armel", "arm", "v5" },     { "i386", "386", NULL },        { "ppc64el", "ppc64le", NULL },
                { "s390x", "s390x", NULL },   { "riscv64", "riscv64", NULL }, { "386", "386", NULL },
                { "arm/v6", "arm", "v6" },    { "ppc64le", "ppc64le", NULL },
        };
        const char *a, *v;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(oci_platform_from_arch(cases[i].in, &a, &v), 0);
                assert_string_equal(a, cases[i].arch);
                assert_true(streq_ptr(v, cases[i].variant));
        }
        assert_int_equal(oci_platform_from_arch("x86_64", &a, &v), -EINVAL);
        assert_int_equal(oci_platform_from_arch(NULL, &a, &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_good),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_is_docker),
                cmocka_unit_test(test_platform),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
