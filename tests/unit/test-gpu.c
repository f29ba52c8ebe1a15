/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tests.h"

#include "fileio.h"
#include "gpu.h"
#include "strv.h"

static void node(const char *dir, const char *rel, unsigned maj, unsigned min) {
        _cleanup_free_ char *p = strjoin(dir, "/", rel);
        assert_int_equal(mkdir_parents(p, 0755), 0);
        assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(maj, min)), 0);
}

static bool can_mknod(const char *dir) {
        _cleanup_free_ char *p = strjoin(dir, "/probe");
        if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) < 0)
                return false;
        unlink(p);
        return true;
}

/* A made-up /dev: render and card nodes, NVIDIA nodes, and things that are not devices to pass on. */
static void test_find_nodes(void **state) {
        _cleanup_free_ char *dev = tests_mkdtemp();
        _cleanup_(gpu_devices_done) GpuDevices g = {};

        if (!can_mknod(dev)) {
                tests_rm_rf(dev);
                skip(); /* mknod needs CAP_MKNOD (root) */
        }
        node(dev, "dri/renderD128", 226, 128);
        node(dev, "dri/card0", 226, 0);
        node(dev, "nvidia0", 195, 0);
        node(dev, "nvidiactl", 195, 255);
        node(dev, "nvidia-uvm", 510, 0);
        node(dev, "nvidia-modeset", 195, 254);
        node(dev, "nvidia-caps/nvidia-cap1", 511, 1);
        node(dev, "null", 1, 3);            /* not a GPU */
        node(dev, "nvidiafoo", 195, 9);     /* not a name the driver uses */
        tests_write(dev, "dri/renderD129", "a regular file, not a device\n");
        _cleanup_free_ char *link = strjoin(dev, "/dri/renderD130");
        assert_int_equal(symlink("/dev/null", link), 0);

        assert_int_equal(gpu_find_nodes(dev, &g), 0);
        _cleanup_free_ char *got = strv_join(g.nodes, " ");
        assert_string_equal(got, "/dev/dri/card0 /dev/dri/renderD128 /dev/nvidia-caps/nvidia-cap1 /dev/nvidia-modeset "
                                 "/dev/nvidia-uvm /dev/nvidia0 /dev/nvidiactl");
        for (size_t i = 0; g.nodes[i]; i++) {
                _cleanup_free_ char *want = strjoin(dev, g.nodes[i] + strlen("/dev"));
                assert_string_equal(g.host_nodes[i], want);
        }

        /* the settings: each node bound at its /dev path */
        _cleanup_free_ char *text = NULL;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_int_equal(gpu_nspawn_settings_write(&g, f), 0);
        fclose(f);
        text = buf;
        _cleanup_free_ char *want = NULL;
        assert_true(asprintf(&want, "\n[Files]\nBind=%s/dri/card0:/dev/dri/card0\nBind=%s/dri/renderD128:/dev/dri/renderD128\n",
                             dev, dev) > 0);
        assert_non_null(strstr(text, want));
        assert_null(strstr(text, "renderD129"));
        assert_null(strstr(text, "renderD130"));
        assert_null(strstr(text, "null"));
        tests_rm_rf(dev);
}

static void test_no_gpu(void **state) {
        _cleanup_free_ char *dev = tests_mkdtemp();
        _cleanup_(gpu_devices_done) GpuDevices g = {};
        char *buf = NULL;
        size_t size = 0;

        assert_int_equal(gpu_find_nodes(dev, &g), 0);
        assert_null(g.nodes);
        /* no NVIDIA node: the libraries are not looked for */
        assert_int_equal(gpu_find_libraries(&g, "ldconfig"), 0);
        assert_null(g.libs);
        FILE *f = open_memstream(&buf, &size);
        assert_int_equal(gpu_nspawn_settings_write(&g, f), 0);
        fclose(f);
        assert_string_equal(buf, "");
        free(buf);
        tests_rm_rf(dev);
}

static void test_library_names(void **state) {
        assert_true(gpu_library_is_nvidia("libcuda.so.1"));
        assert_true(gpu_library_is_nvidia("libcuda.so"));
        assert_true(gpu_library_is_nvidia("libnvidia-ml.so.1"));
        assert_true(gpu_library_is_nvidia("libGLX_nvidia.so.0"));
        assert_true(gpu_library_is_nvidia("libEGL_nvidia.so.0"));
        assert_false(gpu_library_is_nvidia("libcudart.so.12"));   /* the toolkit's, in the machine */
        assert_false(gpu_library_is_nvidia("libnvidia-.so"));
        assert_false(gpu_library_is_nvidia("libGLX_mesa.so.0"));
        assert_false(gpu_library_is_nvidia("libc.so.6"));
}

static void test_ldconfig(void **state) {
        _cleanup_strv_free_ char **libs = NULL;
        const char *text =
                "1234 libs found in cache `/etc/ld.so.cache'\n"
                "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n"
                "\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1\n"
                "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
                "\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1\n"
                "\tlibcuda.so (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\n"
                "\tlibGLX_nvidia.so.0 (libc6,x86-64) => relative/path.so\n"
                "garbage line\n"
                "Cache generated by: ldconfig (GNU libc) stable release version 2.36\n";

        assert_int_equal(gpu_libraries_from_ldconfig(text, &libs), 0);
        _cleanup_free_ char *got = strv_join(libs, " ");
        assert_string_equal(got, "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 "
                                 "/usr/lib/i386-linux-gnu/libcuda.so.1");
}

/* With an NVIDIA node the host's ld cache is asked (a stand-in ldconfig here) and the libraries are bound
 * read-only. */
static void test_libraries_bound(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *ldconfig = strjoin(dir, "/ldconfig");
        _cleanup_(gpu_devices_done) GpuDevices g = {};
        char *buf = NULL;
        size_t size = 0;

        tests_write(dir, "ldconfig",
                    "#!/bin/sh\n[ \"$1\" = -p ] || exit 1\n"
                    "printf '\\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1\\n'\n");
        assert_int_equal(chmod(ldconfig, 0755), 0);
        assert_int_equal(strv_extend(&g.nodes, "/dev/nvidiactl"), 0);
        assert_int_equal(strv_extend(&g.host_nodes, "/dev/nvidiactl"), 0);
        assert_int_equal(gpu_find_libraries(&g, ldconfig), 0);
        assert_true(strv_contains(g.libs, "/usr/lib/x86_64-linux-gnu/libcuda.so.1"));
        FILE *f = open_memstream(&buf, &size);
        assert_int_equal(gpu_nspawn_settings_write(&g, f), 0);
        fclose(f);
        assert_non_null(strstr(buf, "Bind=/dev/nvidiactl:/dev/nvidiactl\n"));
        assert_non_null(strstr(buf, "BindReadOnly=/usr/lib/x86_64-linux-gnu/libcuda.so.1\n"));
        free(buf);

        /* a ldconfig that fails is an error, not an empty list */
        tests_write(dir, "ldconfig", "#!/bin/sh\nexit 1\n");
        assert_int_equal(chmod(ldconfig, 0755), 0);
        assert_int_equal(gpu_find_libraries(&g, ldconfig), -EIO);
        tests_rm_rf(dir);
}

/* A path systemd would read back differently is refused, not written. */
static void test_unsafe_path(void **state) {
        _cleanup_(gpu_devices_done) GpuDevices g = {};
        char *buf = NULL;
        size_t size = 0;

        assert_int_equal(strv_extend(&g.nodes, "/dev/dri/renderD128"), 0);
        assert_int_equal(strv_extend(&g.host_nodes, "/tmp/a:b/dri/renderD128"), 0);
        FILE *f = open_memstream(&buf, &size);
        assert_int_equal(gpu_nspawn_settings_write(&g, f), -EINVAL);
        fclose(f);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_nodes),
                cmocka_unit_test(test_no_gpu),
                cmocka_unit_test(test_library_names),
                cmocka_unit_test(test_ldconfig),
                cmocka_unit_test(test_libraries_bound),
                cmocka_unit_test(test_unsafe_path),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
