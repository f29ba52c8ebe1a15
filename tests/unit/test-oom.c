/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocation failures: every allocation a library function makes is failed in turn (this program replaces
 * malloc and friends, as glibc allows), and each time the function must either fail or give the same result
 * as without the failure, and not crash. The result is rendered as text after the failure
 * window, so what a function lost on the way shows. Not global_config_load(): libiniparser itself does not
 * survive a failed allocation. */
#include <errno.h>
#include <ftw.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdio.h>

#include "oom.h"
#include "tests.h"

#include "bootstrap.h"
#include "cache.h"
#include "chase.h"
#include "distro-info.h"
#include "fileio.h"
#include "finish.h"
#include "generator.h"
#include "global-config.h"
#include "machine-config.h"
#include "mspawn-load.h"
#include "mspawn-write.h"
#include "nspawn-settings.h"
#include "proxy.h"
#include "strv.h"
#include "tree.h"
#include "unit-file.h"
#include "user.h"

static const time_t NOW = 1795910400;
static const char mspawn_text[] =
        "[Machine]\nDistribution=debian\nRelease=12\nArchitecture=amd64\nVariant=minbase\nComponents=main contrib\n"
        "Packages=vim less\nPackages=curl\nHostname=bread\n"
        "[User]\nName=alice\nGroups=audio video\nHome=bind\nSudo=yes\nDisplay=yes\nAudio=yes\n"
        "[Exec]\nBoot=yes\nEnvironment=A=1\n"
        "[Files]\nBind=/srv/a\nBind=/srv/b:/mnt/b\nBindReadOnly=/etc/ssl\n"
        "[Network]\nVirtualEthernet=yes\nPort=tcp:8080:80\n"
        "[Unit]\nDescription=Bread\nAfter=network-online.target\n"
        "[Service]\nEnvironment=B=two words\nMemoryMax=2G\n"
        "[Install]\nWantedBy=machines.target\nRequiredBy=x.target\n";

static char vendor[4096], data_dir[4096];

/* the .mspawn text to a MachineConfig, written back as .mspawn text */
static int parse_config(const char *text, MachineConfig **ret) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *buf = strdup(text);
        int r;

        if (!buf)
                return -ENOMEM;
        r = unit_file_parse_buffer(&u, "bread.mspawn", buf, strlen(buf), &d);
        if (r < 0)
                return r;
        return machine_config_from_unit("bread", "bread.mspawn", &u, NOW, data_dir, ret, &d);
}

static int op_parse(char **ret) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        const char *bad = NULL;
        int r;

        oom_begin();
        r = parse_config(mspawn_text, &c);
        oom_end();
        if (r < 0)
                return r;
        assert_int_equal(mspawn_format(c, "comment", ret, &bad), 0);
        return 0;
}

static int op_format(char **ret) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        const char *bad = NULL;
        int r;

        assert_int_equal(parse_config(mspawn_text, &c), 0);
        oom_begin();
        r = mspawn_format(c, "a comment", ret, &bad);
        oom_end();
        return r;
}

static int op_generator(char **ret) {
        static const GeneratorPaths paths = { .helperdir = "/usr/libexec/machinespawn", .unitdir = "/usr/lib/systemd/system" };
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(output_plan_done) OutputPlan plan = {};
        _cleanup_(host_sockets_done) HostSockets sockets = {};
        HostUser user = { .name = (char *) "alice", .group = (char *) "alice", .home = (char *) "/home/alice",
                          .shell = (char *) "/bin/bash", .uid = 1000, .gid = 1000 };
        _cleanup_free_ char *nspawn = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        assert_int_equal(parse_config(mspawn_text, &c), 0);
        c->source_path = strdup("/etc/machinespawn/bread.mspawn");
        assert_int_equal(strv_extend(&sockets.binds, "/run/user/1000/wayland-0:/run/host-wayland-0"), 0);
        assert_int_equal(strv_extend(&sockets.env, "WAYLAND_DISPLAY=wayland-0"), 0);
        oom_begin();
        r = generator_plan_machine(c, &paths, &plan);
        if (r >= 0) {
                f = open_memstream(&nspawn, &size);
                if (!f)
                        r = -ENOMEM;
                else {
                        r = nspawn_settings_write(c, &user, &sockets, f);
                        if (fclose(f) != 0 && r >= 0)
                                r = -ENOMEM;
                        /* open_memstream() loses its buffer quietly when growing it fails */
                        if (r >= 0 && !nspawn)
                                r = -ENOMEM;
                }
        }
        oom_end();
        if (r < 0)
                return r;
        f = open_memstream(ret, &size);
        assert_non_null(f);
        assert_int_equal(output_plan_print(&plan, f), 0);
        fputs(nspawn, f);
        assert_int_equal(fclose(f), 0);
        return 0;
}

static int op_bootstrap(char **ret) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL, **argv = NULL, **argv2 = NULL;
        _cleanup_free_ char *sources = NULL, *apt = NULL, *a = NULL, *b = NULL;
        HostFacts host = { .architecture = "arm64", .have_mmdebstrap = true, .now = NOW, .distro_info_dir = data_dir };
        int r;

        assert_int_equal(parse_config("[Machine]\nDistribution=debian\nRelease=buster\nPackages=vim\n[User]\nName=a\nSudo=yes\n",
                                      &c),
                         0);
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        oom_begin();
        r = bootstrap_plan_build(c, g, &host, &p, &d);
        if (r >= 0)
                r = bootstrap_plan_argv(p, "/target", "http://10.0.0.1:3142", &argv);
        if (r >= 0) {
                p->tool = BOOTSTRAPPER_DEBOOTSTRAP;
                r = bootstrap_plan_argv(p, "/target", NULL, &argv2);
        }
        if (r >= 0)
                r = bootstrap_plan_sources_list(p, &sources);
        if (r >= 0)
                r = bootstrap_plan_apt_conf(p, &apt);
        oom_end();
        if (r < 0)
                return r;
        a = strv_join(argv, " ");
        b = strv_join(argv2, " ");
        assert_true(asprintf(ret, "%s\n%s\n%s\n%s\n%s\n%s", p->cache_key, a, b, sources, strempty(apt),
                             strempty(p->keyring)) > 0);
        return 0;
}

static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\nalice:x:900:900::/home/old:/bin/sh\n";
static const char group[] = "root:x:0:\naudio:x:29:bob\nalice:x:900:\n";

static int op_user(char **ret) {
        HostUser u = { .name = (char *) "alice", .group = (char *) "alice", .gecos = (char *) "Alice",
                       .home = (char *) "/home/alice", .shell = (char *) "/bin/bash", .uid = 1000, .gid = 1000 };
        _cleanup_free_ char *p = NULL, *g1 = NULL, *g2 = NULL, *s = NULL, *gs = NULL;
        int r;

        oom_begin();
        r = passwd_apply(passwd, &u, &p);
        if (r >= 0)
                r = group_apply(group, "alice", 1000, NULL, &g1);
        if (r >= 0)
                r = group_apply(g1, "audio", 29, "alice", &g2);
        if (r >= 0)
                r = shadow_apply("root:*:19000:0:99999:7:::\n", "alice", &s);
        if (r >= 0)
                r = gshadow_apply("root:*::\n", "audio", "alice", &gs);
        oom_end();
        if (r < 0)
                return r;
        assert_true(asprintf(ret, "%s--\n%s--\n%s--\n%s", p, g2, s, gs) > 0);
        return 0;
}

static int op_strv(char **ret) {
        _cleanup_strv_free_ char **a = NULL, **b = NULL, **c = NULL;
        int r;

        oom_begin();
        r = strv_split_words(&a, "  one two\tthree  ");
        if (r >= 0)
                r = strv_split(&b, "a:b::c", ":");
        if (r >= 0)
                r = strv_extend_strv(&a, b);
        if (r >= 0)
                r = strv_extend(&c, "x");
        if (r >= 0)
                r = strv_extend_strv(&c, a);
        oom_end();
        if (r < 0)
                return r;
        strv_sort(c);
        *ret = strv_join(c, ",");
        return 0;
}

static int op_hosts_and_sockets(char **ret) {
        _cleanup_free_ char *tcp = NULL, *path = NULL, *url = NULL, *address = NULL;
        _cleanup_free_ SocketListener *l = NULL;
        size_t n = 0;
        int r;

        assert_true(asprintf(&path, "%s/proc-net-tcp", getenv("MACHINESPAWN_TEST_DATA")) > 0);
        assert_int_equal(read_full_file(path, &tcp, NULL), 0);
        oom_begin();
        url = proxy_from_hosts("127.0.0.1 localhost\n# 10.0.0.1 apt-proxy\n10.0.0.2 cache apt-proxy\n", &address);
        r = url ? socket_table_parse(tcp, AF_INET, 3142, &l, &n) : -ENOMEM;
        oom_end();
        if (r < 0)
                return r;
        assert_true(asprintf(ret, "%s %s %zu", url, address, n) > 0);
        return 0;
}

static int op_distro_info(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp(), *csv = NULL, *src = NULL, *known = NULL;
        DistroRelease a = {}, b = {};
        int r, r2;

        /* a directory of its own each time: the CSV cache must not answer */
        assert_true(asprintf(&src, "%s/debian.csv", data_dir) > 0);
        assert_int_equal(read_full_file(src, &csv, NULL), 0);
        tests_write(root, "debian.csv", csv);
        oom_begin();
        r = distro_release_resolve(root, "debian", "stable", NOW, &a, NULL);
        if (r >= 0)
                r = distro_release_resolve(root, "debian", "12", NOW, &b, NULL);
        r2 = r >= 0 ? distro_release_resolve(root, "debian", "potato", NOW, &(DistroRelease) {}, &known) : 0;
        oom_end();
        tests_rm_rf(root);
        if (r >= 0 && r2 != -ESRCH)
                r = r2;
        if (r >= 0)
                assert_true(asprintf(ret, "%s %s %s %s %lld|%s", a.codename, strempty(a.version), b.codename,
                                     b.distribution, (long long) b.end_of_life, strempty(known)) > 0);
        distro_release_done(&a);
        distro_release_done(&b);
        return r;
}

/* ---- operations on trees: the result is the tree, every file's path, type, mode and content */

static FILE *render_f;
static size_t render_skip;

static int render_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        fprintf(render_f, "%s %o", path + render_skip, (unsigned) st->st_mode);
        if (S_ISREG(st->st_mode)) {
                _cleanup_free_ char *text = NULL;
                assert_int_equal(read_full_file(path, &text, NULL), 0);
                fprintf(render_f, "\n%s", text);
        }
        fputc('\n', render_f);
        return 0;
}

static char *render_tree(const char *root) {
        char *text = NULL;
        size_t size = 0;

        render_f = open_memstream(&text, &size);
        assert_non_null(render_f);
        render_skip = strlen(root);
        assert_int_equal(nftw(root, render_one, 16, FTW_PHYS), 0);
        assert_int_equal(fclose(render_f), 0);
        return text;
}

/* nftw() walks in directory order: sort the lines of each entry by path for a stable result */
static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static char *render_sorted(const char *root) {
        _cleanup_free_ char *text = render_tree(root);
        _cleanup_strv_free_ char **entries = NULL;
        char *p = text, *next;

        /* entries start with "/" at the beginning of a line (contents here never do) */
        for (; p && *p; p = next) {
                next = strstr(p + 1, "\n/");
                assert_int_equal(strv_push(&entries, strndup(p, next ? (size_t) (next + 1 - p) : strlen(p))), 0);
                if (next)
                        next++;
        }
        qsort(entries, strv_length(entries), sizeof(char *), cmp_str);
        return strv_join(entries, "");
}

static int op_mspawn_load(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp(), *etc = NULL, *lib = NULL, *names = NULL, *text = NULL;
        _cleanup_strv_free_ char **path = NULL, **list = NULL;
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        MspawnIndex idx = {};
        const char *bad = NULL;
        int r;

        tests_write(root, "etc/bread.mspawn", "[Machine]\nDistribution=debian\nRelease=12\nPackages=vim\n");
        tests_write(root, "etc/bread.mspawn.d/10-more.conf", "[Machine]\nPackages=less\n[Files]\nBind=/srv\n");
        tests_write(root, "lib/bread.mspawn.d/20-user.conf", "[User]\nName=alice\n");
        tests_write(root, "lib/bread.mspawn", "[Machine]\nDistribution=ubuntu\nRelease=jammy\n");
        tests_write(root, "lib/toast.mspawn", "[Machine]\nImage=https://example.org/r.tar.xz\nVerify=no\n");
        tests_write(root, "etc/masked.mspawn", "");
        etc = strjoin(root, "/etc");
        lib = strjoin(root, "/lib");
        assert_int_equal(strv_extend(&path, etc), 0);
        assert_int_equal(strv_extend(&path, lib), 0);
        const Paths *paths = tests_paths();
        oom_begin();
        r = mspawn_index_build(path, &idx);
        if (r >= 0)
                r = mspawn_enumerate(&idx, &list);
        if (r >= 0)
                r = mspawn_load(&idx, "bread", NOW, paths, &c, &d);
        oom_end();
        mspawn_index_done(&idx);
        tests_rm_rf(root);
        if (r < 0)
                return r;
        names = strv_join(list, " ");
        assert_int_equal(mspawn_format(c, NULL, &text, &bad), 0);
        assert_true(asprintf(ret, "%s\n%s", names, text) > 0);
        return 0;
}

static const HostUser alice = { .name = (char *) "alice", .group = (char *) "alice", .gecos = (char *) "Alice",
                                .home = (char *) "/home/alice", .shell = (char *) "/bin/bash", .uid = 1000, .gid = 1000 };

static int op_provision(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp();
        /* audio is in the tree; the other one on no host (its GID would come from the host's group database,
         * whose lookup in glibc cannot tell a failed allocation from a missing group) */
        char *groups[] = { (char *) "audio", (char *) "mspawn-oom-test", NULL };
        int r;

        tests_write(root, "etc/passwd", passwd);
        tests_write(root, "etc/group", group);
        tests_write(root, "etc/shadow", "root:*:19000:0:99999:7:::\n");
        tests_write(root, "etc/gshadow", "root:*::\naudio:*::bob\n");
        tests_write(root, "etc/sudoers.d/.keep", "");
        oom_begin();
        r = machine_provision_user(root, &alice, groups, true);
        oom_end();
        if (r >= 0)
                *ret = render_sorted(root);
        tests_rm_rf(root);
        return r;
}

static int op_finish_tree(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp();
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        HostFacts host = { .architecture = "amd64", .now = NOW, .distro_info_dir = data_dir };
        const char *failed = NULL;
        int r;

        assert_int_equal(parse_config("[Machine]\nDistribution=debian\nRelease=12\n", &c), 0);
        assert_int_equal(strv_extend(&files, vendor), 0);
        assert_int_equal(global_config_load(files, &g, &d), 0);
        assert_int_equal(bootstrap_plan_build(c, g, &host, &p, &d), 0);
        tests_write(root, "etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        tests_write(root, "etc/apt/apt.conf.d/99mmdebstrap", "proxy\n");
        tests_write(root, "var/cache/apt/archives/a.deb", "deb");
        tests_write(root, "var/lib/apt/lists/lock", "");
        tests_write(root, "var/lib/apt/lists/x_InRelease", "x");
        oom_begin();
        r = base_tidy(root, &failed);
        if (r >= 0)
                r = machine_finish(root, p, "http://10.0.0.1:3142", &failed);
        oom_end();
        if (r >= 0)
                *ret = render_sorted(root);
        tests_rm_rf(root);
        return r;
}

static void make_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        close(fd);
}

/* text with every occurrence of what replaced by with */
static char *replace_all(const char *text, const char *what, const char *with) {
        _cleanup_strv_free_ char **parts = NULL;
        const char *p = text, *q;

        while ((q = strstr(p, what))) {
                assert_int_equal(strv_push(&parts, strndup(p, q - p)), 0);
                p = q + strlen(what);
        }
        assert_int_equal(strv_extend(&parts, p), 0);
        return strv_join(parts, with);
}

static int op_session(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp(), *rt = strjoin(root, "/rt"), *x11 = strjoin(root, "/x11");
        _cleanup_free_ char *tree = strjoin(root, "/tree"), *p = NULL, *env = NULL, *binds = NULL, *rendered = NULL;
        _cleanup_(host_sockets_done) HostSockets s = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **back = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        tests_write(root, "rt/gdm/Xauthority", "c");
        tests_write(root, "rt/pulse/.keep", "");
        tests_write(root, "x11/.keep", "");
        tests_write(root, "tree/etc/.keep", "");
        const char *socks[] = { "/rt/wayland-0", "/rt/pipewire-0", "/rt/pulse/native", "/x11/X3" };
        for (size_t i = 0; i < ELEMENTSOF(socks); i++) {
                free(p);
                p = strjoin(root, socks[i]);
                make_socket(p);
        }
        fd = chase_root_open(tree);
        assert_true(fd >= 0);
        oom_begin();
        r = host_sockets_find(&alice, true, true, rt, x11, &s, &d);
        if (r >= 0)
                r = machine_write_session_env(fd, &s);
        if (r >= 0)
                r = machine_read_session_env(tree, &back);
        oom_end();
        if (r >= 0) {
                env = strv_join(s.env, " ");
                binds = strv_join(s.binds, " ");
                rendered = strv_join(back, " ");
                _cleanup_free_ char *all = NULL;
                assert_true(asprintf(&all, "%s\n%s\n%s", env, binds, rendered) > 0);
                *ret = replace_all(all, root, "ROOT");
        }
        tests_rm_rf(root);
        return r;
}

static int op_plan_write(char **ret) {
        static const GeneratorPaths paths = { .helperdir = "/usr/libexec/machinespawn", .unitdir = "/usr/lib/systemd/system" };
        _cleanup_free_ char *root = tests_mkdtemp();
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(output_plan_done) OutputPlan plan = {};
        _cleanup_free_ char *failed = NULL;
        int r;

        assert_int_equal(parse_config(mspawn_text, &c), 0);
        c->source_path = strdup("/etc/machinespawn/bread.mspawn");
        assert_int_equal(generator_plan_machine(c, &paths, &plan), 0);
        oom_begin();
        r = output_plan_write(&plan, root, &failed);
        oom_end();
        if (r >= 0)
                *ret = render_sorted(root);
        tests_rm_rf(root);
        return r;
}

/* a tree deeper than the walk keeps open, with files and links on the way */
static int op_tree_remove(char **ret) {
        _cleanup_free_ char *root = tests_mkdtemp(), *top = strjoin(root, "/top"), *rel = strdup("top");
        RemoveStats stats = {};
        struct stat st;
        int r;

        for (unsigned i = 0; i < 34; i++) {
                _cleanup_free_ char *f = strjoin(rel, "/file"), *l = strjoin(root, "/", rel, "/link"), *next = NULL;
                tests_write(root, f, "x");
                assert_int_equal(symlink("/etc/passwd", l), 0);
                next = strjoin(rel, "/d");
                free(rel);
                rel = TAKE_PTR(next);
        }
        oom_begin();
        r = tree_remove(top, &stats);
        oom_end();
        if (r >= 0)
                assert_true(asprintf(ret, "%s %llu %llu", lstat(top, &st) < 0 ? "gone" : "there",
                                     (unsigned long long) stats.files, (unsigned long long) stats.dirs) > 0);
        tests_rm_rf(root);
        return r;
}

static int op_cache(char **ret) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *tmp = NULL, *keys = NULL, *gone = NULL, *tree = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **removed = NULL, **which = NULL, **listed = NULL;
        CacheEntry *e = NULL;
        size_t n = 0;
        int r;

        tests_write(dir, "a-key/etc/os-release", "a");
        tests_write(dir, "a-key.info", "built=1000\ntool=debootstrap\n");
        tests_write(dir, "b-key/etc/os-release", "b");
        tests_write(dir, "b-key.info", "built=2000\n");
        tests_write(dir, "c-key.tar.zst", "archive");
        tests_write(dir, "c-key.info", "built=3000\nformat=archive\n");
        tests_write(dir, ".tmp-d-key-abcdef/etc/os-release", "d");
        tmp = strjoin(dir, "/.tmp-d-key-abcdef");
        assert_int_equal(strv_extend(&which, "b-key"), 0);
        oom_begin();
        r = cache_list(dir, &e, &n);
        if (r >= 0)
                r = cache_remove_keys(dir, which, &removed, &d);
        if (r >= 0)
                r = cache_publish(dir, "d-key", tmp, "built=4000\n");
        oom_end();
        if (r >= 0) {
                for (size_t i = 0; i < n; i++) {
                        char line[256];
                        snprintf(line, sizeof line, "%s@%lld", e[i].key, (long long) e[i].built);
                        assert_int_equal(strv_extend(&listed, line), 0);
                }
                keys = strv_join(listed, " ");
                gone = strv_join(removed, " ");
                tree = render_sorted(dir);
                assert_true(asprintf(ret, "%s\n%s\n%s", keys, gone, tree) > 0);
        }
        cache_entries_free(e, n);
        tests_rm_rf(dir);
        return r;
}

static void test_parse(void **state) {
        oom_check_operation("parse", op_parse);
}
static void test_format(void **state) {
        oom_check_operation("format", op_format);
}
static void test_generator(void **state) {
        oom_check_operation("generator", op_generator);
}
static void test_bootstrap(void **state) {
        oom_check_operation("bootstrap", op_bootstrap);
}
static void test_user(void **state) {
        oom_check_operation("user", op_user);
}
static void test_strv(void **state) {
        oom_check_operation("strv", op_strv);
}
static void test_hosts_and_sockets(void **state) {
        oom_check_operation("hosts-and-sockets", op_hosts_and_sockets);
}
static void test_mspawn_load(void **state) {
        oom_check_operation("mspawn-load", op_mspawn_load);
}
static void test_provision(void **state) {
        oom_check_operation("provision", op_provision);
}
static void test_finish_tree(void **state) {
        oom_check_operation("finish", op_finish_tree);
}
static void test_session(void **state) {
        oom_check_operation("session", op_session);
}
static void test_plan_write(void **state) {
        oom_check_operation("plan-write", op_plan_write);
}
static void test_tree_remove(void **state) {
        oom_check_operation("tree-remove", op_tree_remove);
}
static void test_cache(void **state) {
        oom_check_operation("cache", op_cache);
}
static void test_distro_info(void **state) {
        oom_check_operation("distro-info", op_distro_info);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_strv),          cmocka_unit_test(test_parse),
                cmocka_unit_test(test_format),        cmocka_unit_test(test_generator),
                cmocka_unit_test(test_bootstrap),     cmocka_unit_test(test_user),
                cmocka_unit_test(test_hosts_and_sockets), cmocka_unit_test(test_distro_info),
                cmocka_unit_test(test_mspawn_load),   cmocka_unit_test(test_provision),
                cmocka_unit_test(test_finish_tree),   cmocka_unit_test(test_session),
                cmocka_unit_test(test_plan_write),    cmocka_unit_test(test_tree_remove),
                cmocka_unit_test(test_cache),
        };
        snprintf(data_dir, sizeof data_dir, "%s/distro-info", getenv("MACHINESPAWN_TEST_DATA"));
        snprintf(vendor, sizeof vendor, "%s/conf.d/machinespawn.conf", getenv("MACHINESPAWN_SOURCE_ROOT"));
        setenv("MACHINESPAWN_DISTRO_INFO_DIR", data_dir, 1);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
