/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>

#include "tests.h"

#include "oci-manifest.h"
#include "strv.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
        c c c c c c c c c c c c c c c c c c
#define DA D("a")
#define DB D("b")
#define DC D("c")
#define DD D("d")
#define DE D("e")

static const char oci_index[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":["
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DA "\",\"size\":10,"
        " \"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
        " \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DB "\",\"size\":11,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DC "\",\"size\":12,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DD "\",\"size\":13,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
        /* an attestation that claims a real platform: skipped by its annotation */
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DA "\",\"size\":14,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
        " \"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
        "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" DE "\",\"size\":15,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";

/* Docker's list has no mediaType in the body for some registries: the Content-Type says it */
static const char docker_list[] =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" DOCKER_MT_MANIFEST "\",\"digest\":\"" DB "\",\"size\":20,"
        " \"platform\":{\"os\":\"linux\",\"architecture\":\"386\"}},"
        "{\"mediaType\":\"" DOCKER_MT_MANIFEST "\",\"digest\":\"" DC "\",\"size\":21,"
        " \"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";

static const char oci_manifest[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DA "\",\"size\":100},"
        "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DB "\",\"size\":1},"
        "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DC "\",\"size\":2},"
        "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" DD "\",\"size\":3}]}";

static const char docker_manifest[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MT_MANIFEST "\","
        "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" DA "\","
        "\"size\":7023},"
        "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" DB "\","
        "\"size\":32654}]}";

static bool diag_says(const Diagnostics *d, const char *what) {
        for (size_t i = 0; i < d->n; i++)
                if (strstr(d->items[i].message, what))
                        return true;
        return false;
}

static void test_kind(void **state) {
        assert_int_equal(oci_document_is_index(oci_index, strlen(oci_index), NULL), 1);
        assert_int_equal(oci_document_is_index(docker_list, strlen(docker_list), DOCKER_MT_LIST), 1);
        assert_int_equal(oci_document_is_index(docker_list, strlen(docker_list), NULL), 1);
        assert_int_equal(oci_document_is_index(oci_manifest, strlen(oci_manifest), OCI_MT_INDEX), 0);
        assert_int_equal(oci_document_is_index(docker_manifest, strlen(docker_manifest), NULL), 0);
        assert_int_equal(oci_document_is_index("{}", 2, NULL), -EBADMSG);
        assert_int_equal(oci_document_is_index("[1]", 3, NULL), -EBADMSG);
        assert_int_equal(oci_document_is_index("{\"layers\":[]} x", 15, NULL), -EBADMSG);
}

static void select_one(const char *text, const char *arch, const char *variant, const char *digest, uint64_t size) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(oci_descriptor_done) OciDescriptor desc = {};

        assert_int_equal(oci_index_select(text, strlen(text), "linux", arch, variant, &desc, &d), 0);
        assert_string_equal(desc.digest, digest);
        assert_int_equal(desc.size, size);
}

static void test_select(void **state) {
        select_one(oci_index, "amd64", NULL, DE, 15); /* the attestation before it is skipped */
        select_one(oci_index, "arm64", NULL, DD, 13);
        select_one(oci_index, "arm64", "v8", DD, 13);
        select_one(oci_index, "arm", "v7", DC, 12);
        select_one(oci_index, "arm", "v6", DB, 11);
        select_one(docker_list, "386", NULL, DB, 20);
}

static void test_select_none(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        OciDescriptor desc = {};

        assert_int_equal(oci_index_select(oci_index, strlen(oci_index), "linux", "s390x", NULL, &desc, &d), -ENOENT);
        /* the message names what there is, and not the attestations */
        assert_true(diag_says(&d, "no linux/s390x platform"));
        assert_true(diag_says(&d, "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64)"));
        assert_false(diag_says(&d, "unknown"));
        diagnostics_done(&d);
        assert_int_equal(oci_index_select(oci_index, strlen(oci_index), "linux", "arm", "v5", &desc, &d), -ENOENT);
        diagnostics_done(&d);
        assert_int_equal(oci_index_select(docker_list, strlen(docker_list), "linux", "amd64", NULL, &desc, &d),
                         -ENOENT);
        assert_true(diag_says(&d, "windows/amd64"));
        diagnostics_done(&d);
        assert_int_equal(oci_index_select("{\"manifests\":[]}", 16, "linux", "amd64", NULL, &desc, &d), -ENOENT);
        assert_true(diag_says(&d, "it has: none"));
}

static void test_manifest(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(oci_manifest_done) OciManifest m = {}, dm = {};

        assert_int_equal(oci_manifest_parse(oci_manifest, strlen(oci_manifest), &m, &d), 0);
        assert_string_equal(m.config.digest, DA);
        assert_int_equal(m.config.size, 100);
        assert_int_equal(m.n_layers, 3);
        assert_string_equal(m.layers[0].digest, DB);
        assert_string_equal(m.layers[2].digest, DD);
        assert_int_equal(m.layers[2].size, 3);
        assert_int_equal(oci_manifest_parse(docker_manifest, strlen(docker_manifest), &dm, &d), 0);
        assert_int_equal(dm.n_layers, 1);
        assert_int_equal(dm.layers[0].size, 32654);
}

static void manifest_bad(const char *text, int error, const char *says) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        OciManifest m = {};

        assert_int_equal(oci_manifest_parse(text, strlen(text), &m, &d), error);
        if (!diag_says(&d, says))
                fail_msg("no message with '%s' for %s", says, text);
}

static void test_manifest_bad(void **state) {
        manifest_bad("nope", -EBADMSG, "not a JSON object");
        manifest_bad("{\"layers\":[]}", -EBADMSG, "no config");
        manifest_bad("{\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[]}", -EBADMSG, "no layers");
        manifest_bad("{\"config\":{\"digest\":\"sha256:abc\",\"size\":1},\"layers\":[{}]}", -EBADMSG, "config");
        manifest_bad("{\"config\":{\"digest\":\"" DA "\",\"size\":-1},\"layers\":[{}]}", -EBADMSG, "config");
        manifest_bad("{\"config\":{\"digest\":\"" DA "\",\"size\":99999999},\"layers\":[{}]}", -EFBIG, "4 MiB");
        manifest_bad("{\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[{\"digest\":\"" DB "\"}]}", -EBADMSG,
                     "Layer 1");
        manifest_bad("{\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[{\"digest\":\"" DB "\",\"size\":1,"
                     "\"mediaType\":\"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\"}]}",
                     -EOPNOTSUPP, "not a tar");
}

static void test_too_big(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *big = malloc(OCI_MANIFEST_MAX + 2);
        OciManifest m = {};

        assert_non_null(big);
        memset(big, ' ', OCI_MANIFEST_MAX + 1);
        big[0] = '{';
        big[OCI_MANIFEST_MAX] = '}';
        big[OCI_MANIFEST_MAX + 1] = 0;
        assert_int_equal(oci_manifest_parse(big, OCI_MANIFEST_MAX + 1, &m, &d), -EFBIG);
        assert_true(diag_says(&d, "larger than 4 MiB"));
}

static void test_config(void **state) {
        static const char text[] =
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/bin\",\"A=b c\"],"
                "\"WorkingDir\":\"/srv\",\"User\":\"www-data\",\"Entrypoint\":[\"/docker-entrypoint.sh\"],"
                "\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"]}}";
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(oci_exec_done) OciExec e = {}, empty = {};
        _cleanup_free_ char *argv = NULL, *env = NULL;

        assert_int_equal(oci_config_parse(text, strlen(text), &e, &d), 0);
        argv = strv_join(e.argv, "|");
        env = strv_join(e.environment, "|");
        assert_string_equal(argv, "/docker-entrypoint.sh|nginx|-g|daemon off;");
        assert_string_equal(env, "PATH=/usr/bin|A=b c");
        assert_string_equal(e.working_directory, "/srv");
        assert_string_equal(e.user, "www-data");
        assert_int_equal(e.boot, 0);

        /* no config at all, and empty strings: nothing */
        const char *nothing = "{\"config\":{\"WorkingDir\":\"\",\"Entrypoint\":null}}";
        assert_int_equal(oci_config_parse(nothing, strlen(nothing), &empty, &d), 0);
        assert_null(empty.working_directory);
        assert_int_equal(strv_length(empty.argv), 0);

        OciExec ug = {};
        const char *user_group = "{\"config\":{\"User\":\"1000:1000\"}}";
        assert_int_equal(oci_config_parse(user_group, strlen(user_group), &ug, &d), 0);
        assert_string_equal(ug.user, "1000");
        oci_exec_done(&ug);

        OciExec bad = {};
        const char *not_strings = "{\"config\":{\"Cmd\":[1,2]}}";
        assert_int_equal(oci_config_parse(not_strings, strlen(not_strings), &bad, &d), -EBADMSG);
        assert_true(diag_says(&d, "not a list of strings"));
}

static void test_digest_valid(void **state) {
        assert_true(oci_digest_is_valid(DA));
        assert_false(oci_digest_is_valid("sha256:" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        assert_false(oci_digest_is_valid("sha512:aa"));
        assert_false(oci_digest_is_valid(NULL));
        assert_false(oci_digest_is_valid(DA "a"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind),        cmocka_unit_test(test_select),
                cmocka_unit_test(test_select_none), cmocka_unit_test(test_manifest),
                cmocka_unit_test(test_manifest_bad), cmocka_unit_test(test_too_big),
                cmocka_unit_test(test_config),      cmocka_unit_test(test_digest_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
