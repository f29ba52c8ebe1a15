/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "bootstrap.h"
#include "cache.h"
#include "chase.h"
#include "converge.h"
#include "distro-info.h"
#include "fileio.h"
#include "finish.h"
#include "origin.h"
#include "machine-build.h"
#include "oci-image.h"
#include "oci-ref.h"
#include "proxy.h"
#include "pull.h"
#include "strv.h"
#include "tree.h"

void build_result_done(BuildResult *r) {
        free(r->cache_key);
        free(r->proxy);
        *r = (BuildResult) {};
}

bool find_executable(const char *name) {
        _cleanup_strv_free_ char **path = NULL;

        if (strv_split(&path, getenv("PATH") ?: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       ":") < 0)
                return false;
        STRV_FOREACH(dir, path) {
                _cleanup_free_ char *p = strjoin(*dir, "/", name);
                if (p && access(p, X_OK) >= 0)
                        return true;
        }
        return false;
}

const char *tool_package(const char *tool) {
        static const struct {
                const char *tool, *package;
        } map[] = {
                { "debootstrap", "debootstrap" },
                { "mmdebstrap", "mmdebstrap" },
                { "cp", "coreutils" },
                { "systemd-nspawn", "systemd-container" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(map[i].tool, tool))
                        return map[i].package;
        return tool;
}

static void progress_percent(const BuildOptions *o, int percent, const char *fmt, ...) _printf_(3, 4);
static void progress_percent(const BuildOptions *o, int percent, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        if (!o->progress)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        o->progress(o->userdata, buf, percent);
}

#define progress(o, ...) progress_percent((o), -1, __VA_ARGS__)

/* qemu's name for a Debian architecture, for the binfmt_misc entry that runs it. */
static const char *qemu_name(const char *arch) {
        static const struct {
                const char *debian, *qemu;
        } map[] = {
                { "arm64", "aarch64" }, { "armhf", "arm" },        { "armel", "arm" },
                { "ppc64el", "ppc64le" }, { "riscv64", "riscv64" }, { "s390x", "s390x" },
                { "mips64el", "mips64el" }, { "mipsel", "mipsel" }, { "loong64", "loongarch64" },
                { "i386", "i386" },     { "amd64", "x86_64" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(map[i].debian, arch))
                        return map[i].qemu;
        return arch;
}

/* Everything the build needs, checked before anything is touched. */
static int check_requirements(const BootstrapPlan *p, const char *host_arch, Diagnostics *d) {
        const char *tool = p->tool == BOOTSTRAPPER_MMDEBSTRAP ? "mmdebstrap" : "debootstrap";

        if (!find_executable(tool))
                return diag_error(d, NULL, 0, ENOENT, "%s is not installed (apt-get install %s).", tool,
                                  tool_package(tool));
        if (!find_executable("cp"))
                return diag_error(d, NULL, 0, ENOENT, "cp is not installed (apt-get install coreutils).");
        if (p->keyring && access(p->keyring, R_OK) < 0)
                return diag_error(d, NULL, 0, ENOENT, "The %s keyring %s is missing (apt-get install %s).",
                                  p->release.distribution, p->keyring, strempty(p->keyring_package));
        /* i386 runs natively on amd64, armel/armhf often on arm64: only ask for qemu where binfmt lacks it */
        if (p->foreign && !(streq(p->architecture, "i386") && streq_ptr(host_arch, "amd64"))) {
                _cleanup_free_ char *binfmt = strjoin("/proc/sys/fs/binfmt_misc/qemu-", qemu_name(p->architecture));
                if (!binfmt)
                        return -ENOMEM;
                if (access(binfmt, F_OK) < 0)
                        return diag_error(d, NULL, 0, ENOEXEC,
                                          "Architecture=%s needs qemu-user-static with binfmt support (apt-get "
                                          "install qemu-user-static binfmt-support); %s is missing.",
                                          p->architecture, binfmt);
        }
        return 0;
}

/* Leftovers of killed builds of this machine: ".#NAME.XXXXXX". */
static void clean_machine_tmp(const char *machines_dir, const char *name) {
        _cleanup_free_ char *prefix = strjoin(".#", name, ".");
        struct dirent *de;
        DIR *dir;

        if (!prefix)
                return;
        dir = opendir(machines_dir);
        if (!dir)
                return;
        while ((de = readdir(dir))) {
                const char *rest = startswith(de->d_name, prefix);
                _cleanup_free_ char *p = NULL;

                if (!rest || strlen(rest) != 6)
                        continue;
                p = strjoin(machines_dir, "/", de->d_name);
                if (p)
                        (void) tree_remove(p, NULL);
        }
        closedir(dir);
}

static int build_base(const BootstrapPlan *p, const GlobalConfig *g, const BuildOptions *o, const char *proxy,
                      Diagnostics *d) {
        _cleanup_free_ char *tmp = NULL, *info = NULL, *proxy_env = NULL;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        char built[32];
        time_t start = time(NULL);
        int r;

        r = cache_clean_tmp(g->cache_dir, p->cache_key);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot clean stale temporaries in %s: %s", g->cache_dir,
                                  strerror(-r));
        r = cache_tmp_dir(g->cache_dir, p->cache_key, &tmp);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot create a build directory in %s: %s", g->cache_dir,
                                  strerror(-r));

        r = bootstrap_plan_argv(p, tmp, proxy, &argv);
        if (r < 0)
                return r;
        r = strv_extend(&env, "DEBIAN_FRONTEND=noninteractive");
        if (r >= 0 && proxy) {
                proxy_env = strjoin("http_proxy=", proxy);
                r = proxy_env ? strv_extend(&env, proxy_env) : -ENOMEM;
        }
        if (r < 0)
                return r;

        progress(o, "Bootstrapping %s %s (%s) with %s", p->release.distribution, p->release.codename,
                 p->architecture, bootstrapper_to_string(p->tool));
        r = spawn_wait(argv, env);
        if (r != 0) {
                (void) tree_remove(tmp, NULL);
                if (r < 0)
                        return diag_error(d, NULL, 0, r, "Cannot run %s: %s", argv[0], strerror(-r));
                return diag_error(d, NULL, 0, EIO, "%s failed with exit status %i (its output is above).",
                                  argv[0], r);
        }

        progress(o, "Caching base %s", p->cache_key);
        const char *failed = NULL;
        r = base_tidy(tmp, &failed);
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return diag_error(d, NULL, 0, r, "Cannot tidy the new base: %s%s%s", strempty(failed), failed ? ": " : "",
                                  chase_strerror(r));
        }
        if (cache_use_archives(g->cache_dir, o->paths.cache_format)) {
                _cleanup_free_ char *archive = strjoin(tmp, CACHE_ARCHIVE_SUFFIX);
                if (!archive)
                        return -ENOMEM;
                r = tree_pack(tmp, archive);
                (void) tree_remove(tmp, NULL);
                if (r < 0) {
                        (void) unlink(archive);
                        return diag_error(d, NULL, 0, r, "Cannot pack the new base: %s", strerror(-r));
                }
                free(tmp);
                tmp = TAKE_PTR(archive);
        }
        snprintf(built, sizeof built, "%lld", (long long) time(NULL));
        char seconds[32];
        snprintf(seconds, sizeof seconds, "%lld", (long long) (time(NULL) - start));
        _cleanup_free_ char *pkgs = strv_join(p->packages, " "), *comps = strv_join(p->components, " ");
        if (!pkgs || !comps)
                return -ENOMEM;
        info = strjoin("built=", built, "\nseconds=", seconds, "\nformat=",
                       endswith(tmp, CACHE_ARCHIVE_SUFFIX) ? "archive" : "tree", "\ntool=", bootstrapper_to_string(p->tool),
                       "\ndistribution=", p->release.distribution, "\nrelease=", p->release.codename,
                       "\narchitecture=", p->architecture, "\nvariant=", p->variant, "\ncomponents=", comps,
                       "\npackages=", pkgs, "\nmirror=", p->mirror, "\n");
        if (!info)
                return -ENOMEM;
        r = cache_publish(g->cache_dir, p->cache_key, tmp, info);
        if (r < 0) {
                if (endswith(tmp, CACHE_ARCHIVE_SUFFIX))
                        (void) unlink(tmp);
                else
                        (void) tree_remove(tmp, NULL);
                return diag_error(d, NULL, 0, r, "Cannot publish base %s: %s", p->cache_key, strerror(-r));
        }
        return 0;
}

/* An archived release's apt configuration, written through descriptors so that no component of
 * etc/apt/apt.conf.d can lead out of the tree. */
static int write_apt_conf(const char *root, const BootstrapPlan *p) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        int r;

        r = bootstrap_plan_apt_conf(p, &text);
        if (r < 0 || !text)
                return r;
        root_fd = chase_root_open(root);
        if (root_fd < 0)
                return root_fd;
        return chase_write_file(root_fd, "etc/apt/apt.conf.d/" BOOTSTRAP_APT_CONF_ARCHIVE, text, strlen(text),
                                0644, 0, 0, CHASE_MKDIR_P);
}

/* Where the machine came from: "machinespawn list" shows the first line, each start compares the rest with
 * the .mspawn (converge.c). */
static int write_origin(const BuildOptions *o, const MachineConfig *c, const BootstrapPlan *p, const char *tree) {
        _cleanup_(origin_done) Origin origin = {};
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        path = o->target ? strjoin(o->paths.state_dir, "/", c->name, ".origin.new") : machine_origin_path(o, c->name);
        if (!path)
                return -ENOMEM;
        r = origin_wanted(c, p, &origin);
        if (r < 0)
                return r;
        r = origin_tree_id(tree, &origin.tree);
        if (r < 0)
                return r;
        if (asprintf(&origin.created, "%lld", (long long) time(NULL)) < 0)
                return -ENOMEM;
        r = origin_format(&origin, &text);
        if (r < 0)
                return r;
        r = mkdir_p(o->paths.state_dir, 0755);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, strlen(text), 0644, 0);
}

/* The machine just put in place, with its record; without one, its first start would adopt it and take
 * its Run= and Copy= for done, so a record that cannot be written takes the machine away again (aside as
 * .#NAME.record, which the next build removes if this cannot). */
static int write_origin_or_undo(const BuildOptions *o, const MachineConfig *c, const BootstrapPlan *p,
                                const char *path, Diagnostics *d) {
        _cleanup_free_ char *aside = NULL;
        int r;

        r = write_origin(o, c, p, path);
        if (r >= 0)
                return 0;
        aside = strjoin(o->paths.machines_dir, "/.#", c->name, ".record");
        if (aside && rename(path, aside) >= 0)
                (void) tree_remove(aside, NULL);
        return diag_error(d, NULL, 0, r, "Cannot write the record of %s in %s: %s", c->name, o->paths.state_dir,
                          strerror(-r));
}

static void pull_progress(void *userdata, uint64_t done, uint64_t total) {
        const BuildOptions *o = userdata;
        static unsigned last = UINT_MAX;
        unsigned pct = total > 0 ? (unsigned) (done * 100 / total) : 0;

        /* STATUS= once per percent, not once per packet */
        if (total > 0 && pct != last) {
                last = pct;
                progress_percent(o, (int) pct, "Downloading %u%% of %llu MiB", pct,
                                 (unsigned long long) (total >> 20));
        }
}

static int build_from_image(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, const char *path,
                            BuildResult *ret, Diagnostics *d) {
        _cleanup_free_ char *tmp = strjoin(o->paths.machines_dir, "/.#", c->name, ".XXXXXX");
        PullOptions po = {
                .url = c->image.value,
                .verify = c->verify,
                .sha256 = c->verify_sha256,
                .cache_dir = g->cache_dir,
                .ca_bundle = o->paths.ca_bundle,
                .progress = pull_progress,
                .userdata = (void *) o,
        };
        PullResult pr;
        int r;

        if (!tmp)
                return -ENOMEM;
        if (!mkdtemp(tmp))
                return diag_error(d, NULL, 0, errno, "Cannot create a temporary in %s: %m", o->paths.machines_dir);
        if (c->verify == VERIFY_NO)
                diag_warning(d, c->source_path, 0, "Verify=no: %s is not verified.", c->image.value);

        progress(o, "Downloading %s", c->image.value);
        r = pull_image(&po, tmp, &pr, d);
        if (r >= 0) {
                progress(o, "Finishing %s", c->name);
                const char *failed = NULL;
                r = machine_finish_image(tmp, c->hostname ?: c->name, &failed);
                if (r < 0)
                        diag_error(d, NULL, 0, r, "Cannot finish %s: %s%s%s", c->name, strempty(failed),
                                   failed ? ": " : "", chase_strerror(r));
        }
        if (r >= 0 && chmod(tmp, 0755) < 0)
                r = diag_error(d, NULL, 0, errno, "Cannot finish %s: %m", tmp);
        if (r >= 0 && rename(tmp, path) < 0)
                r = diag_error(d, NULL, 0, errno, "Cannot rename %s to %s: %m", tmp, path);
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return r;
        }
        r = write_origin_or_undo(o, c, NULL, path, d);
        if (r < 0)
                return r;
        ret->pulled = true;
        ret->not_modified = pr.not_modified;
        ret->downloaded = pr.downloaded;
        return 0;
}

/* What to bootstrap, and whether this host can. */
static int plan_base(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, time_t now,
                     BootstrapPlan **ret, Diagnostics *d) {
        const char *host_arch = host_debian_architecture();
        int r;

        progress(o, "Resolving %s %s", c->distribution.value, c->release.value);
        HostFacts host = {
                .architecture = host_arch,
                .have_mmdebstrap = find_executable("mmdebstrap"),
                .now = now,
                .distro_info_dir = o->paths.distro_info_dir,
        };
        r = bootstrap_plan_build(c, g, &host, ret, d);
        if (r < 0)
                return r;
        return check_requirements(*ret, host_arch, d);
}

/* The base: copied from under a shared lock, built or rebuilt under an exclusive one, checked again once
 * that is held, since whoever held it before may just have built it. Returns the lock, held shared. */
static int ensure_base(const BootstrapPlan *p, const GlobalConfig *g, const BuildOptions *o,
                       const ProxyResult *proxy, time_t now, BuildResult *result, Diagnostics *d) {
        _cleanup_close_ int cache_fd = -EBADF;
        int r;

        cache_fd = cache_lock(g->cache_dir, p->cache_key, LOCK_SH);
        if (cache_fd < 0)
                return diag_error(d, NULL, 0, cache_fd, "Cannot lock the cache in %s: %s", g->cache_dir,
                                  strerror(-cache_fd));
        r = cache_entry_fresh(g->cache_dir, p->cache_key, g->max_age_sec, now);
        if (r != 0)
                return r < 0 ? r : TAKE_FD(cache_fd);

        if (flock(cache_fd, LOCK_UN) < 0 || flock(cache_fd, LOCK_EX) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot lock the cache: %m");
        r = cache_entry_fresh(g->cache_dir, p->cache_key, g->max_age_sec, time(NULL));
        if (r < 0)
                return r;
        if (r == 0) {
                r = build_base(p, g, o, proxy->url, d);
                if (r < 0)
                        return r;
                result->base_built = true;
                if (proxy->url) {
                        result->proxy = strdup(proxy->url);
                        if (!result->proxy)
                                return -ENOMEM;
                        result->proxy_how = proxy->how;
                }
        }
        if (flock(cache_fd, LOCK_SH) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot lock the cache: %m");
        return TAKE_FD(cache_fd);
}

/* The machine: a hidden sibling copied from the base (cache_fd, closed once copied), finished, complete
 * before it gets its name. */
static int machine_from_base(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o,
                             const BootstrapPlan *p, const ProxyResult *proxy, const char *path, int cache_fd,
                             Diagnostics *d) {
        _cleanup_free_ char *tmp = NULL, *base = NULL;
        _cleanup_close_ int held = cache_fd;
        bool is_archive;
        int r;

        r = cache_base(g->cache_dir, p->cache_key, &base, &is_archive);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Base %s vanished from %s.", p->cache_key, g->cache_dir);
        tmp = strjoin(o->paths.machines_dir, "/.#", c->name, ".XXXXXX");
        if (!tmp)
                return -ENOMEM;
        if (!mkdtemp(tmp))
                return diag_error(d, NULL, 0, errno, "Cannot create a temporary in %s: %m", o->paths.machines_dir);
        (void) rmdir(tmp); /* tree_clone() and tree_unpack() make it, mkdtemp() only reserved a unique name */

        (void) cache_mark_used(g->cache_dir, p->cache_key, time(NULL)); /* what pruning goes by */
        progress(o, "Copying base %s", p->cache_key);
        r = is_archive ? tree_unpack(base, tmp) : tree_clone(base, tmp);
        held = (close(held), -EBADF);
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return diag_error(d, NULL, 0, r, "Cannot copy %s to %s: %s", base, tmp, strerror(-r));
        }

        progress(o, "Finishing %s", c->name);
        if (g->keep_proxy && proxy->url && !proxy_to_keep(proxy, true))
                diag_warning(d, NULL, 0, "KeepProxy=yes: not keeping %s in the machine, it was detected, not "
                             "configured.", proxy->url);
        const char *failed = NULL;
        r = machine_finish(tmp, p, proxy_to_keep(proxy, g->keep_proxy), &failed);
        if (r >= 0)
                r = write_apt_conf(tmp, p);
        if (r >= 0 && chmod(tmp, 0755) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return diag_error(d, NULL, 0, r, "Cannot finish %s: %s%s%s", path, strempty(failed), failed ? ": " : "",
                                  chase_strerror(r));
        }
        return 0;
}

int machine_build(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, BuildResult *ret,
                  Diagnostics *d) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_(proxy_result_done) ProxyResult proxy = {};
        _cleanup_free_ char *path = NULL, *raw = NULL;
        _cleanup_close_ int lock = -EBADF;
        _cleanup_(build_result_done) BuildResult result = {};
        time_t now = time(NULL);
        int cache_fd, r;

        *ret = (BuildResult) {};
        path = strjoin(o->paths.machines_dir, "/", o->target ?: c->name);
        raw = strjoin(o->paths.machines_dir, "/", c->name, ".raw");
        if (!path || !raw)
                return -ENOMEM;

        /* One builder per machine: a second start waits here, then finds the machine made. */
        if (!o->target) {
                lock = machine_lock(o, c->name, d);
                if (lock < 0)
                        return lock;
        }

        if (access(path, F_OK) >= 0 || access(raw, F_OK) >= 0) {
                ret->existed = true;
                return 0;
        }
        r = mkdir_p(o->paths.machines_dir, 0700);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot create %s: %s", o->paths.machines_dir, strerror(-r));
        clean_machine_tmp(o->paths.machines_dir, c->name);

        if (oci_ref_is_docker(c->image.value)) {
                r = machine_build_oci(c, g, o, path, ret, d);
                if (r >= 0) /* the reference as written: "list" shows it */
                        r = write_origin_or_undo(o, c, NULL, path, d);
                return r;
        }
        if (c->image.value)
                return build_from_image(c, g, o, path, ret, d);

        r = plan_base(c, g, o, now, &p, d);
        if (r < 0)
                return r;
        result.cache_key = strdup(p->cache_key);
        if (!result.cache_key)
                return -ENOMEM;

        r = proxy_resolve(g->proxy, &o->paths, &proxy);
        if (r < 0)
                return r;
        if (proxy.ignored)
                diag_warning(d, NULL, 0, "Package proxy %s.", proxy.ignored);

        cache_fd = ensure_base(p, g, o, &proxy, now, &result, d);
        if (cache_fd < 0)
                return cache_fd;
        r = machine_from_base(c, g, o, p, &proxy, path, cache_fd, d);
        if (r < 0)
                return r;
        r = write_origin_or_undo(o, c, p, path, d);
        if (r < 0)
                return r;

        *ret = result;
        result = (BuildResult) {};
        return 0;
}

int machine_base_refresh(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, char **ret_key,
                         Diagnostics *d) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_(proxy_result_done) ProxyResult proxy = {};
        _cleanup_free_ char *infop = NULL, *info = NULL;
        _cleanup_close_ int cache_fd = -EBADF;
        const char *host_arch = host_debian_architecture();
        time_t last_used = 0;
        int r;

        if (c->image.value)
                return 0; /* pulled, no base */
        HostFacts host = {
                .architecture = host_arch,
                .have_mmdebstrap = find_executable("mmdebstrap"),
                .now = time(NULL),
                .distro_info_dir = o->paths.distro_info_dir,
        };
        r = bootstrap_plan_build(c, g, &host, &p, d);
        if (r < 0)
                return r;
        if (ret_key) {
                *ret_key = strdup(p->cache_key);
                if (!*ret_key)
                        return -ENOMEM;
        }
        /* busy: being built or copied from right now, so not stale for long; a base not cached at all is
         * built on its machine's next start, not here */
        cache_fd = cache_lock(g->cache_dir, p->cache_key, LOCK_EX | LOCK_NB);
        if (cache_fd == -EBUSY || cache_base(g->cache_dir, p->cache_key, NULL, NULL) < 0)
                return 0;
        if (cache_fd < 0)
                return diag_error(d, NULL, 0, cache_fd, "Cannot lock the cache in %s: %s", g->cache_dir,
                                  strerror(-cache_fd));
        r = cache_entry_fresh(g->cache_dir, p->cache_key, g->max_age_sec, time(NULL));
        if (r != 0)
                return r < 0 ? r : 0;
        r = check_requirements(p, host_arch, d);
        if (r < 0)
                return r;
        r = proxy_resolve(g->proxy, &o->paths, &proxy);
        if (r < 0)
                return r;
        if (proxy.ignored)
                diag_warning(d, NULL, 0, "Package proxy %s.", proxy.ignored);

        /* the new .info starts afresh; when a machine last used the base is still true */
        infop = cache_path(g->cache_dir, p->cache_key, ".info");
        if (!infop)
                return -ENOMEM;
        if (read_full_file(infop, &info, NULL) >= 0)
                cache_info_parse(info, NULL, &last_used);
        r = build_base(p, g, o, proxy.url, d);
        if (r < 0)
                return r;
        if (last_used > 0)
                (void) cache_mark_used(g->cache_dir, p->cache_key, last_used);
        return 1;
}
