/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tests.h"

#include "sha256.h"

static void check(const char *in, const char *expect) {
        char hex[65];
        assert_int_equal(sha256_hex(in, strlen(in), hex), 0);
        assert_string_equal(hex, expect);
}

/* FIPS 180-4 example vectors */
static void test_vectors(void **state) {
        check("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        check("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_streaming_matches_one_shot(void **state) {
        static char million[1000000];
        Sha256 s;
        uint8_t d[32];
        char hex[65];

        memset(million, 'a', sizeof million);
        assert_int_equal(sha256_init(&s), 0);
        /* odd chunk sizes cross block boundaries every way */
        for (size_t off = 0, step = 1; off < sizeof million; off += step, step = step % 97 + 13)
                sha256_update(&s, million + off, off + step > sizeof million ? sizeof million - off : step);
        sha256_final(&s, d);
        sha256_to_hex(d, hex);
        assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vectors),
                cmocka_unit_test(test_streaming_matches_one_shot),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
