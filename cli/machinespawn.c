/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn: the same machines as the generator path, by hand. Every verb is a thin front over lib/. */
#include <dlfcn.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "build-config.h"
#include "cache.h"
#include "distro-info.h"
#include "enter.h"
#include "fileio.h"
#include "generator.h"
#include "global-config.h"
#include "log.h"
#include "machine-build.h"
#include "machine-manage.h"
#include "machine-remove.h"
#include "mspawn-load.h"
#include "mspawn-save.h"
#include "oci-ref.h"
#include "proxy.h"
#include "strv.h"
#include "valid.h"
#include "verbs-enter.h"
#include "verbs-lifecycle.h"

/* Exit codes, see machinespawn(1): 0 success, 1 failure, 2 usage; "run" and "boot" pass on the command's. */
#define EXIT_USAGE 2
static bool usage_failed = false;
static int command_status = -1;

static const char *arg_verify = NULL;
static const char *arg_variant = NULL;
static const char *arg_include = NULL;
static const char *arg_output = "text";
static const char *arg_user = NULL;
static const char *arg_arch = NULL;
static bool arg_no_save = false;
static bool arg_keep_config = false;
static bool arg_force = false;

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fputs("machinespawn: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        usage_failed = true;
        return -EINVAL;
}

/* An argument as it may be shown in a message: control characters and non-ASCII bytes as \xNN, so a name
 * with a newline in it cannot fake further lines. Truncated to fit; good for one message at a time. */
static const char *shown(const char *s) {
        static char buf[4 * 80 + 4];
        size_t n = 0;

        for (; *s && n + 5 < sizeof buf; s++) {
                unsigned char c = (unsigned char) *s;
                if (c < 0x20 || c >= 0x7f || c == '\\')
                        n += snprintf(buf + n, sizeof buf - n, "\\x%02x", c);
                else
                        buf[n++] = c;
        }
        if (*s)
                n += snprintf(buf + n, sizeof buf - n, "...");
        buf[n] = 0;
        return buf;
}

static int need_root(const char *verb) {
        if (geteuid() == 0)
                return 0;
        return log_error_errno(EPERM, "'%s' changes the system: run it as root.", verb);
}

/* the MACHINESPAWN_* overrides, read once */
static const Paths *env_paths(void) {
        static Paths p;
        if (!p.machines_dir)
                paths_from_environment(&p);
        return &p;
}

static int load_global(GlobalConfig **ret) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **files = NULL;
        int r;

        r = global_config_files(env_paths()->vendor_conf, env_paths()->sysconf_dir, &files);
        if (r < 0)
                return log_oom();
        r = global_config_load(files, ret, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "Cannot use the global configuration.");
        return 0;
}

/* A bar on a terminal, a line per phase elsewhere. */
static void on_progress(void *userdata, const char *status, int percent) {
        static char last[128];
        bool tty = isatty(STDERR_FILENO);

        if (percent >= 0) {
                unsigned p = (unsigned) percent;
                if (tty) {
                        char bar[41];
                        memset(bar, '#', p * 40 / 100);
                        memset(bar + p * 40 / 100, '.', 40 - p * 40 / 100);
                        bar[40] = 0;
                        fprintf(stderr, "\r[%s] %3u%%%s", bar, p, p == 100 ? "\n" : "");
                        return;
                }
                if (p % 25 != 0)
                        return;
        }
        if (streq(last, status))
                return;
        snprintf(last, sizeof last, "%s", status);
        fprintf(stderr, tty ? "\033[1m%s\033[0m\n" : "%s\n", status);
}

static int build(MachineConfig *c, BuildResult *res) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        BuildOptions o;
        int r;

        r = load_global(&g);
        if (r < 0)
                return r;
        build_options_init(&o);
        o.progress = on_progress;
        r = machine_build(c, g, &o, res, &d);
        diagnostics_log(&d);
        return r;
}

/* ---- bootstrap ---- */

/* "debian-12", "ubuntu-jammy" -> distribution and release. */
static int split_distro_release(const char *s, char **ret_dist, char **ret_rel) {
        const char *dash = strchr(s, '-');

        if (!dash || dash == s || !dash[1])
                return -EINVAL;
        *ret_dist = strndup(s, dash - s);
        *ret_rel = strdup(dash + 1);
        return *ret_dist && *ret_rel ? 0 : -ENOMEM;
}

static bool variant_is_known(const char *s) {
        return streq(s, "minbase") || streq(s, "buildd") || streq(s, "default");
}

/* The model of what "bootstrap" declares, from arguments checked one by one (each a usage error). */
static int bootstrap_model(const char *spec, const char *name, const char *arch, MachineConfig **ret) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_free_ char *dist = NULL, *rel = NULL;
        _cleanup_strv_free_ char **packages = NULL;

        if (split_distro_release(spec, &dist, &rel) < 0 || !distribution_name_is_valid(dist) ||
            !release_name_is_valid(rel))
                return usage_error("'%s' is not DISTRIBUTION-RELEASE (debian-12, debian-bookworm, ubuntu-22.04).",
                                   shown(spec));
        if (arch && !architecture_is_known(arch))
                return usage_error("'%s' is not a Debian architecture (known: %s).", shown(arch),
                                   architecture_list());
        if (arg_variant && !variant_is_known(arg_variant))
                return usage_error("--variant=%s is not one of minbase, buildd, default.", shown(arg_variant));
        if (arg_include) {
                if (strv_split(&packages, arg_include, ",") < 0)
                        return log_oom();
                STRV_FOREACH(p, packages)
                        if (!package_name_is_valid(*p))
                                return usage_error("--include: '%s' is not a valid Debian package name.", shown(*p));
        }

        c = calloc(1, sizeof(MachineConfig));
        if (!c)
                return log_oom();
        c->user.sudo = c->user.display = c->user.audio = -1;
        c->name = strdup(name);
        c->distribution.value = TAKE_PTR(dist);
        c->release.value = TAKE_PTR(rel);
        c->architecture = arch ? strdup(arch) : NULL;
        c->variant = arg_variant ? strdup(arg_variant) : NULL;
        c->packages = TAKE_PTR(packages);
        if (!c->name || (arch && !c->architecture) || (arg_variant && !c->variant))
                return log_oom();
        *ret = TAKE_PTR(c);
        return 0;
}

static int verb_bootstrap(char **args) {
        _cleanup_(machine_config_freep) MachineConfig *declared = NULL, *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_free_ char *path = NULL;
        const char *name = args[1], *bad = NULL;
        int r;

        r = bootstrap_model(args[0], name, args[2], &declared);
        if (r < 0)
                return r;

        /* what the generator will see, saved unless --no-save; the machine is built from it */
        r = mspawn_declare(declared, env_paths()->sysconf_dir, env_paths()->distro_info_dir, !arg_no_save, &c, &path,
                           &bad, &d);
        diagnostics_log(&d);
        if (r == -ENOMEM)
                return log_oom();
        if (r == -EINVAL)
                return usage_error("Cannot declare %s: %s= cannot be written as given.", name, bad ?: "a value");
        if (r == -EEXIST)
                return log_error_errno(r, "%s exists and says something else; remove it or use --no-save.", path);
        if (r == -EBADMSG)
                return -EINVAL;
        if (r < 0)
                return log_error_errno(r, "Cannot write %s: %m", path);
        if (r > 0)
                host_daemon_reload();

        r = build(c, &res);
        if (r < 0)
                return r;
        if (res.existed)
                log_info("Machine %s exists already; nothing built.", name);
        else
                log_info("Machine %s ready (base %s%s).", name, res.cache_key,
                         res.base_built ? ", built now" : ", from the cache");
        return 0;
}

/* ---- pull-tar ---- */

static int verb_pull_tar(char **args) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(build_result_done) BuildResult res = {};
        const char *url = args[0], *name = args[1];
        int r;

        if (!url_is_valid(url, true))
                return log_error_errno(EINVAL, "%s is not an http://, https:// or file:/// URL.", shown(url));

        c = calloc(1, sizeof(MachineConfig));
        if (!c || !(c->name = strdup(name)) || !(c->image.value = strdup(url)) ||
            !(c->source_path = strdup("(command line)")))
                return log_oom();
        c->user.sudo = c->user.display = c->user.audio = -1;
        r = verify_parse(arg_verify, &c->verify, &c->verify_sha256);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return usage_error("--verify=%s is not one of checksum, no, sha256:<64 hex digits>.", arg_verify);

        r = build(c, &res);
        if (r < 0)
                return r;
        if (res.existed)
                return log_error_errno(EEXIST, "Machine %s exists already.", name);
        log_info("Machine %s ready (%s).", name,
                 res.not_modified ? "unchanged on the server, unpacked from the cache" : "downloaded");
        return 0;
}

/* ---- pull-oci ---- */

static int verb_pull_oci(char **args) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_(oci_ref_done) OciRef ref = {};
        const char *spec = args[0], *name = args[1], *why = NULL, *oarch, *variant;
        int r;

        r = oci_ref_parse(spec, &ref, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return usage_error("'%s' is not a registry reference: %s.", shown(spec), why);
        if (arg_arch && oci_platform_from_arch(arg_arch, &oarch, &variant) < 0)
                return usage_error("--arch=%s is not an architecture (amd64, arm64, armhf, arm/v7, i386, 386, "
                                   "ppc64el, s390x, riscv64, ...).", shown(arg_arch));

        c = calloc(1, sizeof(MachineConfig));
        if (!c || !(c->name = strdup(name)) ||
            !(c->image.value = oci_ref_is_docker(spec) ? strdup(spec) : strjoin(OCI_REF_PREFIX, spec)) ||
            !(c->source_path = strdup("(command line)")) || (arg_arch && !(c->architecture = strdup(arg_arch))))
                return log_oom();
        c->user.sudo = c->user.display = c->user.audio = -1;

        r = build(c, &res);
        if (r < 0)
                return r;
        if (res.existed)
                return log_error_errno(EEXIST, "Machine %s exists already.", name);
        log_info("Machine %s ready (%s, %s).", name, res.cache_key,
                 res.not_modified ? "a copy of the cached image tree" : "pulled");
        return 0;
}

/* ---- run, boot ---- */

static int machine_dir(const char *name, char **ret) {
        BuildOptions o;
        struct stat st;

        build_options_init(&o);
        *ret = strjoin(o.paths.machines_dir, "/", name);
        if (!*ret)
                return log_oom();
        if (stat(*ret, &st) < 0 || !S_ISDIR(st.st_mode))
                return log_error_errno(ENOENT, "Machine %s has no image in %s (bootstrap it first).", name,
                                       o.paths.machines_dir);
        return 0;
}

static int verb_run(char **args) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(proxy_result_done) ProxyResult proxy = {};
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *dir = NULL, *bind = NULL;
        const char *name = args[0];
        BuildOptions o;
        int r;

        r = machine_dir(name, &dir);
        if (r < 0)
                return r;
        build_options_init(&o);
        if (machine_is_running(o.paths.machines_dir, name) > 0)
                return log_error_errno(EBUSY, "Machine %s is running; use \"machinectl shell %s\".", name, name);

        r = load_global(&g);
        if (r < 0)
                return r;
        r = proxy_resolve(g->proxy, env_paths(), &proxy);
        if (r < 0)
                return log_error_errno(r, "Proxy detection failed: %m");
        if (proxy.ignored)
                log_warning("Package proxy %s.", proxy.ignored);

        r = strv_extend_strv(&argv, (char *[]) { (char *) "systemd-nspawn", (char *) "--quiet", (char *) "-D", dir,
                                                  (char *) "--machine", (char *) name, NULL });
        if (r >= 0 && !host_has_systemd())
                r = strv_extend_strv(&argv, (char *[]) { (char *) "--register=no", (char *) "--keep-unit", NULL });
        if (r < 0)
                return log_oom();

        /* The proxy is there for this run only: in the environment apt reads, not written into the tree. */
        if (proxy.url) {
                bind = strjoin("--setenv=http_proxy=", proxy.url);
                if (!bind || strv_extend(&argv, bind) < 0)
                        return log_oom();
                log_info("Package proxy %s (%s) is available to apt for this run.", proxy.url, proxy.how);
        }
        if (args[1]) {
                r = strv_extend(&argv, "--");
                if (r >= 0)
                        r = strv_extend_strv(&argv, args + 1);
                if (r < 0)
                        return log_oom();
        }

        r = spawn_wait(argv, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot run systemd-nspawn: %m");
        command_status = r; /* the command's own status */
        return 0;
}

static int verb_boot(char **args) {
        _cleanup_free_ char *dir = NULL, *tree_id = NULL;
        const char *name = args[0];
        int r;

        r = machine_dir(name, &dir);
        if (r < 0)
                return r;
        tree_id = lifecycle_tree_id(dir);
        /* the machine's init in the foreground, with its .nspawn settings, wherever we are */
        char *argv[] = { (char *) "systemd-nspawn", (char *) "--boot", (char *) "-D", dir, (char *) "--machine",
                         (char *) name, (char *) "--settings=override",
                         host_has_systemd() ? NULL : (char *) "--register=no", (char *) "--keep-unit", NULL };
        r = spawn_wait(argv, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot run systemd-nspawn: %m");
        command_status = r;
        /* a boot that ended well started the machine: what a rebuild replaced is not needed any more */
        if (r == 0)
                lifecycle_booted(name, tree_id);
        return 0;
}

/* ---- systemctl verbs ---- */

static int verb_systemctl(const char *verb, const char *name) {
        int r = machine_systemctl(verb, name);
        if (r == -EIO)
                return log_error_errno(r, "systemctl %s systemd-nspawn@%s.service failed.", verb, name);
        if (r < 0)
                return log_error_errno(r, "Cannot run systemctl: %m");
        return 0;
}

static int verb_start(char **args) {
        return verb_systemctl("start", args[0]);
}

static int verb_stop(char **args) {
        return verb_systemctl("stop", args[0]);
}

static int verb_enable(char **args) {
        return verb_systemctl("enable", args[0]);
}

static int verb_disable(char **args) {
        return verb_systemctl("disable", args[0]);
}

/* ---- enter (cli/verbs-enter.c) ---- */

static int verb_enter(char **args) {
        int status = -1, r;

        r = verb_enter_machine(args[0], arg_user, args + 1, &status);
        if (r < 0)
                return r;
        command_status = status;
        return 0;
}

/* ---- remove, clean-cache, list-cache ---- */

static int verb_remove(char **args) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_uninstall_result_done) MachineUninstallResult res = {};
        const char *name = args[0];
        BuildOptions o;
        int r;

        build_options_init(&o);
        r = machine_uninstall(name, &o,
                              (arg_force ? MACHINE_UNINSTALL_STOP : 0) | (arg_keep_config ? MACHINE_UNINSTALL_KEEP_CONFIG : 0),
                              &res, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r;
        log_info("Removed machine %s (%llu files).", name, (unsigned long long) res.stats.files);
        if (res.config_removed)
                log_info("Removed %s.", res.config_removed);
        return 0;
}

static int verb_clean_cache(char **keys) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **removed = NULL;
        int r;

        STRV_FOREACH(k, keys)
                if (!cache_key_is_valid(*k))
                        return usage_error("'%s' is not a cache key (see \"machinespawn list-cache\").", shown(*k));
        r = load_global(&g);
        if (r < 0)
                return r;
        r = cache_remove_keys(g->cache_dir, keys[0] ? keys : NULL, &removed, &d);
        STRV_FOREACH(k, removed)
                log_info("Removed base %s.", *k);
        diagnostics_log(&d);
        return r;
}

static void json_string(const char *s, FILE *f) {
        fputc('"', f);
        for (; s && *s; s++) {
                if (*s == '"' || *s == '\\')
                        fprintf(f, "\\%c", *s);
                else if ((unsigned char) *s < 0x20)
                        fprintf(f, "\\u%04x", *s);
                else
                        fputc(*s, f);
        }
        fputc('"', f);
}

static void json_nullable_string(const char *s, FILE *f) {
        if (s)
                json_string(s, f);
        else
                fputs("null", f);
}

/* "5h", "3d", "-" for unknown */
static const char *format_age(char *buf, size_t size, time_t now, time_t then) {
        long long h;

        if (then <= 0)
                return "-";
        h = (long long) (now - then) / 3600;
        snprintf(buf, size, h >= 48 ? "%lldd" : "%lldh", h >= 48 ? h / 24 : h);
        return buf;
}

static int check_output_format(void) {
        if (!streq(arg_output, "text") && !streq(arg_output, "json"))
                return usage_error("--output=%s is not text or json.", shown(arg_output));
        return 0;
}

static int verb_list_cache(char **args) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        CacheEntry *e = NULL;
        size_t n = 0;
        time_t now = time(NULL);
        bool json;
        int r;

        r = check_output_format();
        if (r < 0)
                return r;
        json = streq(arg_output, "json");
        r = load_global(&g);
        if (r < 0)
                return r;
        r = cache_list(g->cache_dir, &e, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", g->cache_dir);
        if (json)
                fputs("[", stdout);
        else
                printf("%-48s %6s %-6s %9s %9s %s\n", "KEY", "AGE", "STATE", "SIZE", "LAST-USED", "");
        for (size_t i = 0; i < n; i++) {
                uint64_t size = 0;
                char age[32], used[32];
                bool fresh = cache_entry_fresh(g->cache_dir, e[i].key, g->max_age_sec, now) > 0;

                (void) cache_entry_size(g->cache_dir, e[i].key, &size);
                if (json) {
                        printf("%s{\"key\": ", i == 0 ? "\n  " : ",\n  ");
                        json_string(e[i].key, stdout);
                        printf(", \"built\": %lld, \"last_used\": %lld, \"size\": %llu, \"fresh\": %s, \"busy\": %s}",
                               (long long) e[i].built, (long long) e[i].last_used, (unsigned long long) size,
                               fresh ? "true" : "false", e[i].busy ? "true" : "false");
                } else
                        printf("%-48s %6s %-6s %8.1fM %9s %s\n", e[i].key, format_age(age, sizeof age, now, e[i].built),
                               fresh ? "fresh" : "stale", (double) size / (1024.0 * 1024.0),
                               e[i].last_used > 0 ? format_age(used, sizeof used, now, e[i].last_used) : "never",
                               e[i].busy ? "in use" : "");
        }
        if (json)
                fputs(n == 0 ? "]\n" : "\n]\n", stdout);
        cache_entries_free(e, n);
        return 0;
}

/* ---- list ---- */

static void list_print_json(const MachineListEntry *e, bool first) {
        fputs(first ? "\n  {\"name\": " : ",\n  {\"name\": ", stdout);
        json_string(e->name, stdout);
        fputs(", \"declared\": ", stdout);
        json_nullable_string(e->declared, stdout);
        printf(", \"image\": %s, \"size\": %llu, \"running\": %s, \"origin\": ", e->image ? "true" : "false",
               (unsigned long long) e->size, e->running ? "true" : "false");
        json_nullable_string(e->origin, stdout);
        if (e->base_age >= 0)
                printf(", \"base_age\": %lld}", e->base_age);
        else
                fputs(", \"base_age\": null}", stdout);
}

static int verb_list(char **args) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        MachineListEntry *l = NULL;
        size_t n = 0;
        BuildOptions o;
        bool json;
        int r;

        r = check_output_format();
        if (r < 0)
                return r;
        json = streq(arg_output, "json");
        build_options_init(&o);
        r = load_global(&g);
        if (r < 0)
                return r;
        r = machine_list(&o, g->cache_dir, time(NULL), &l, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list machines: %m");

        if (json)
                fputs("[", stdout);
        else
                printf("%-20s %-40s %-6s %9s %-8s %s\n", "NAME", "DECLARED", "IMAGE", "SIZE", "STATE", "ORIGIN");
        for (size_t i = 0; i < n; i++) {
                char age[32] = "";

                if (json) {
                        list_print_json(&l[i], i == 0);
                        continue;
                }
                if (l[i].base_age >= 0)
                        snprintf(age, sizeof age, " (%lldh old)", l[i].base_age / 3600);
                printf("%-20s %-40s %-6s %8.1fM %-8s %s%s\n", l[i].name, l[i].declared ?: "-",
                       l[i].image ? "yes" : "no", (double) l[i].size / (1024.0 * 1024.0),
                       l[i].running ? "running" : "stopped", l[i].origin ?: "-", age);
        }
        if (json)
                fputs(n == 0 ? "]\n" : "\n]\n", stdout);
        machine_list_free(l, n);
        return 0;
}

/* ---- cat, check ---- */

static int verb_cat(char **args) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(output_plan_done) OutputPlan plan = {};
        _cleanup_strv_free_ char **search = NULL, **dropins = NULL;
        _cleanup_free_ char *main_path = NULL;
        GeneratorPaths paths = { .helperdir = HELPER_DIR, .unitdir = SYSTEM_UNIT_DIR };
        int r;

        if (mspawn_search_path(env_paths(), &search) < 0 || mspawn_index_build(search, &idx) < 0)
                return log_oom();
        r = mspawn_find(&idx, args[0], &main_path, &dropins);
        if (r == -ENOENT)
                return log_error_errno(r, "No %s.mspawn in %s.", args[0], strv_join(search, ", ") ?: "");
        if (r < 0)
                return log_error_errno(r, "Cannot look up %s.mspawn: %m", args[0]);
        if (r > 0) {
                printf("# %s masks the machine.\n", main_path);
                return 0;
        }

        /* each file as it is, then what the generator makes of them */
        char **files = NULL;
        if (strv_extend(&files, main_path) < 0 || strv_extend_strv(&files, dropins) < 0)
                return log_oom();
        STRV_FOREACH(f, files) {
                _cleanup_free_ char *text = NULL;
                if (read_full_file(*f, &text, NULL) < 0)
                        continue;
                printf("# %s\n%s%s\n", *f, text, endswith(text, "\n") ? "" : "\n");
        }
        strv_free(files);

        r = mspawn_load(&idx, args[0], time(NULL), env_paths(), &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return log_error_errno(r, "%s is not usable; the generator skips it.", main_path);
        if (generator_plan_machine(c, &paths, &plan) < 0)
                return log_oom();
        printf("# --- what machinespawn-generator makes of it ---\n");
        return output_plan_print(&plan, stdout);
}

static bool check_present(const char *what) {
        /* an absolute path is a file that must be readable, a "libNAME.so.N" a library dlopen() finds (as
         * the code that loads it at run time does), anything else a program in $PATH */
        if (what[0] == '/')
                return access(what, R_OK) >= 0;
        if (startswith(what, "lib") && strstr(what, ".so.")) {
                void *h = dlopen(what, RTLD_LAZY | RTLD_LOCAL);
                if (h)
                        dlclose(h);
                return h;
        }
        return find_executable(what);
}

static int verb_check(char **args) {
        /* Exactly what debian/control promises: Depends, Recommends, Suggests; and tar and cp, which Depends
         * leaves out as Debian's Essential packages have them. An entry is there when any alternative is. */
        static const struct {
                const char *what[2];
                const char *package, *field, *why;
        } items[] = {
                { { "systemd-nspawn" }, "systemd-container", "Depends", NULL },
                { { "machinectl" }, "systemd-container", "Depends", NULL },
                { { "debootstrap", "mmdebstrap" }, "debootstrap | mmdebstrap", "Depends", NULL },
                { { "zstd" }, "zstd", "Depends", NULL },
                { { "tar" }, "tar", "Essential", NULL },
                { { "cp" }, "coreutils", "Essential", NULL },
                { { "/usr/share/distro-info/debian.csv" }, "distro-info-data", "Depends", NULL },
                { { "/usr/share/keyrings/debian-archive-keyring.gpg" }, "debian-archive-keyring", "Depends",
                  NULL },
                { { "mmdebstrap" }, "mmdebstrap", "Recommends", "faster first builds" },
                { { "/etc/ssl/certs/ca-certificates.crt" }, "ca-certificates", "Recommends",
                  "https:// mirrors and URLs" },
                { { "pkexec" }, "pkexec", "Recommends", "commands of the [User] user through enter" },
                { { "libisal.so.2" }, "libisal2", "Recommends", "faster gzip layers from registries" },
                { { "/usr/share/keyrings/ubuntu-archive-keyring.gpg" }, "ubuntu-keyring", "Suggests",
                  "Ubuntu machines" },
                { { "/usr/sbin/apt-cacher-ng" }, "apt-cacher-ng", "Suggests", "a cache for bootstraps" },
        };
        int missing = 0;

        for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                bool required = !streq(items[i].field, "Recommends") && !streq(items[i].field, "Suggests");
                bool ok = false;
                _cleanup_free_ char *what = NULL;

                for (size_t j = 0; j < ELEMENTSOF(items[i].what) && items[i].what[j]; j++)
                        ok = ok || check_present(items[i].what[j]);
                what = items[i].what[1] ? strjoin(items[i].what[0], " or ", items[i].what[1])
                                        : strdup(items[i].what[0]);
                if (!what)
                        return log_oom();
                printf("%-48s %-8s %s: %s\n", what, ok ? "ok" : required ? "MISSING" : "missing",
                       items[i].field, items[i].package);
                if (!ok) {
                        /* the first alternative is what apt-get would pick */
                        printf("    apt-get install %s%s%s%s\n",
                               items[i].what[1] ? items[i].what[0] : items[i].package,
                               items[i].why ? " (" : "", strempty(items[i].why), items[i].why ? ")" : "");
                        missing += required;
                }
        }
        printf("%-48s %s\n", "systemd as init with its bus",
               host_has_systemd() ? "yes" : "no (machines run unregistered; start/stop/enable need it)");
        if (missing > 0)
                return log_error_errno(ENOENT, "%i required piece(s) missing.", missing);
        return 0;
}

/* ---- rebuild, rollback (cli/verbs-lifecycle.c) ---- */

static int verb_rebuild(char **args) {
        return verb_rebuild_machine(args[0], on_progress);
}

static int verb_rollback(char **args) {
        return verb_rollback_machine(args[0]);
}

/* ---- the verb table ---- */

#define VERB_ANY UINT_MAX

typedef enum VerbFlags {
        VERB_ROOT = 1 << 0,         /* changes the system: root only */
        VERB_SYSTEMD = 1 << 1,      /* needs systemd as PID 1 and its bus */
        VERB_NAME_ARG0 = 1 << 2,    /* the first argument is a machine NAME */
        VERB_NAME_ARG1 = 1 << 3,    /* the second argument is */
        VERB_COMMAND_TAIL = 1 << 4, /* after the first argument, everything is a command's, options too */
} VerbFlags;

typedef struct Verb {
        const char *name;
        unsigned min_args, max_args; /* after the verb; VERB_ANY: no limit */
        VerbFlags flags;
        int (*run)(char **args);
        const char *synopsis; /* the arguments and the options that apply, as usage shows them */
        const char *help;
} Verb;

/* One line per verb: dispatch, argument counts, "--help" and each verb's usage all come from here. */
static const Verb verbs[] = {
        { "bootstrap",   2, 3,        VERB_ROOT | VERB_NAME_ARG1, verb_bootstrap,
          "DISTRO-RELEASE NAME [ARCH] [--variant=V] [--include=PKG,...] [--no-save]",
          "Declare a machine and build it now (debian-12, ubuntu-jammy)" },
        { "run",         1, VERB_ANY, VERB_ROOT | VERB_NAME_ARG0 | VERB_COMMAND_TAIL, verb_run,
          "NAME [COMMAND...]", "Run a command (default: a shell) in a stopped machine" },
        { "pull-tar",    2, 2,        VERB_ROOT | VERB_NAME_ARG1, verb_pull_tar,
          "URL NAME [--verify=checksum|no|sha256:HEX]", "Download a root file system tarball as machine NAME" },
        { "pull-oci",    2, 2,        VERB_ROOT | VERB_NAME_ARG1, verb_pull_oci,
          "REF NAME [--arch=ARCH]",
          "Pull a container image from a registry as machine NAME" },
        { "remove",      1, 1,        VERB_ROOT | VERB_NAME_ARG0, verb_remove,
          "NAME [--keep-config] [--force]", "Remove a machine (and the .mspawn bootstrap wrote)" },
        { "list",        0, 0,        0, verb_list,
          "[--output=text|json]", "List machines: declared, image, size, state, origin" },
        { "list-cache",  0, 0,        0, verb_list_cache,
          "[--output=text|json]", "List cached base trees: key, age, size, last use" },
        { "clean-cache", 0, VERB_ANY, VERB_ROOT, verb_clean_cache,
          "[KEY...]", "Remove cached base trees (all, or the named ones)" },
        { "start",       1, 1,        VERB_ROOT | VERB_SYSTEMD | VERB_NAME_ARG0, verb_start,
          "NAME", "Start the machine's systemd-nspawn@ unit" },
        { "stop",        1, 1,        VERB_ROOT | VERB_SYSTEMD | VERB_NAME_ARG0, verb_stop,
          "NAME", "Stop the machine's systemd-nspawn@ unit" },
        { "enable",      1, 1,        VERB_ROOT | VERB_SYSTEMD | VERB_NAME_ARG0, verb_enable,
          "NAME", "Enable the machine's systemd-nspawn@ unit" },
        { "disable",     1, 1,        VERB_ROOT | VERB_SYSTEMD | VERB_NAME_ARG0, verb_disable,
          "NAME", "Disable the machine's systemd-nspawn@ unit" },
        { "boot",        1, 1,        VERB_ROOT | VERB_NAME_ARG0, verb_boot,
          "NAME", "Boot the machine's init in the foreground" },
        { "enter",       1, VERB_ANY, VERB_SYSTEMD | VERB_NAME_ARG0, verb_enter,
          "NAME [--user=USER] [-- COMMAND...]", "A shell (or COMMAND) as the machine's [User] in the running machine" },
        { "cat",         1, 1,        VERB_NAME_ARG0, verb_cat,
          "NAME", "Show the .mspawn, its drop-ins, and what the generator makes of them" },
        { "check",       0, 0,        0, verb_check,
          "", "Check what machinespawn needs; name the package for what is missing" },
        { "rebuild",     1, 1,        VERB_ROOT | VERB_NAME_ARG0, verb_rebuild,
          "NAME", "Build the machine again from its .mspawn, keeping its Keep= paths" },
        { "rollback",    1, 1,        VERB_ROOT | VERB_NAME_ARG0, verb_rollback,
          "NAME", "Return a rebuilt machine to its previous tree" },
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        return &verbs[i];
        return NULL;
}

static void help(void) {
        printf("machinespawn [OPTIONS...] COMMAND ...\n\nDeclarative systemd-nspawn machines, by hand.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char usage[160], line[160];
                size_t n = 0;

                /* the arguments only: " [--option...]" groups are left to the list of options below */
                snprintf(usage, sizeof usage, "%s %s", verbs[i].name, verbs[i].synopsis);
                for (const char *p = usage; *p && n + 1 < sizeof line;) {
                        if (startswith(p, " [--") && p[4] != ' ') {
                                p += strcspn(p, "]");
                                p += *p == ']';
                        } else
                                line[n++] = *p++;
                }
                line[n] = 0;
                printf("  %-36s %s\n", line, verbs[i].help);
        }
        printf("\nOptions:\n"
               "  -h --help                 Show this help (or a command's, after it)\n"
               "     --version              Show the version\n"
               "     --variant=VARIANT      bootstrap: minbase (default), buildd, default\n"
               "     --include=PKG,...      bootstrap: extra packages\n"
               "     --no-save              bootstrap: do not write /etc/machinespawn/NAME.mspawn\n"
               "     --verify=MODE          pull-tar: checksum (default), no, sha256:HEX\n"
               "     --arch=ARCH            pull-oci: the platform to pull (default: the host's)\n"
               "     --keep-config          remove: keep the .mspawn\n"
               "     --force                remove: stop a running machine first\n"
               "     --output=text|json     list, list-cache: the format\n"
               "     --user=USER            enter: as this user (default: the machine's [User] Name=)\n"
               "\nSee machinespawn(1) and mspawn(5).\n");
}

static void verb_usage(const Verb *v, FILE *f) {
        fprintf(f, "machinespawn %s%s%s", v->name, isempty(v->synopsis) ? "" : " ", v->synopsis);
}

/* Argument counts, a NAME checked once for every verb before any verb looks at the file system (a NAME
 * becomes a path under the machines, configuration and settings directories, so "../x" must never reach
 * one), then what the verb needs of the system. */
static int verb_dispatch(const Verb *v, char **args) {
        unsigned n = strv_length(args);
        int r;

        if (n < v->min_args || n > v->max_args) {
                fputs("machinespawn: usage: ", stderr);
                verb_usage(v, stderr);
                fputc('\n', stderr);
                usage_failed = true;
                return -EINVAL;
        }
        for (unsigned i = 0; i < 2; i++) {
                const char *why;

                if (!(v->flags & (i == 0 ? VERB_NAME_ARG0 : VERB_NAME_ARG1)))
                        continue;
                why = machine_name_invalid_reason(args[i]);
                if (why)
                        return usage_error("'%s' is not a valid machine name: %s (see machinespawn(1)).",
                                           shown(args[i]), why);
        }
        if ((v->flags & VERB_SYSTEMD) && !host_has_systemd())
                return log_error_errno(EOPNOTSUPP, "'%s' needs systemd as the init system and its bus; here there is "
                                       "none (\"machinespawn run\" and \"boot\" work without it).", v->name);
        if (v->flags & VERB_ROOT) {
                r = need_root(v->name);
                if (r < 0)
                        return r;
        }
        return v->run(args);
}

enum {
        ARG_VERSION = 0x100,
        ARG_VERIFY,
        ARG_VARIANT,
        ARG_INCLUDE,
        ARG_NO_SAVE,
        ARG_KEEP_CONFIG,
        ARG_FORCE,
        ARG_OUTPUT,
        ARG_USER,
        ARG_ARCH,
};

static int parse_option(int c, bool *help_wanted, bool *version_wanted) {
        switch (c) {
        case 'h':
                *help_wanted = true;
                return 0;
        case ARG_VERSION:
                *version_wanted = true;
                return 0;
        case ARG_VERIFY:
                arg_verify = optarg;
                return 0;
        case ARG_VARIANT:
                arg_variant = optarg;
                return 0;
        case ARG_INCLUDE:
                arg_include = optarg;
                return 0;
        case ARG_NO_SAVE:
                arg_no_save = true;
                return 0;
        case ARG_KEEP_CONFIG:
                arg_keep_config = true;
                return 0;
        case ARG_FORCE:
                arg_force = true;
                return 0;
        case ARG_OUTPUT:
                arg_output = optarg;
                return 0;
        case ARG_USER:
                arg_user = optarg;
                return 0;
        case ARG_ARCH:
                arg_arch = optarg;
                return 0;
        default: /* getopt said why */
                usage_failed = true;
                return -EINVAL;
        }
}

/* One pass over argv: options anywhere (before or after the command and its arguments), positional
 * arguments moved down in place to argv[1...] (getopt has read everything below optind already). A verb
 * with VERB_COMMAND_TAIL stops option parsing after its first argument: the rest is the command's. "--"
 * ends options for every verb. Sets *ret_n to the number of positional arguments. */
static int parse_argv(int argc, char *argv[], bool *help_wanted, bool *version_wanted, int *ret_n) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "verify", required_argument, NULL, ARG_VERIFY },
                { "variant", required_argument, NULL, ARG_VARIANT },
                { "include", required_argument, NULL, ARG_INCLUDE },
                { "no-save", no_argument, NULL, ARG_NO_SAVE },
                { "keep-config", no_argument, NULL, ARG_KEEP_CONFIG },
                { "force", no_argument, NULL, ARG_FORCE },
                { "output", required_argument, NULL, ARG_OUTPUT },
                { "user", required_argument, NULL, ARG_USER },
                { "arch", required_argument, NULL, ARG_ARCH },
                {},
        };
        const Verb *v = NULL;
        int n = 0, c, r;

        for (;;) {
                bool tail = v && (v->flags & VERB_COMMAND_TAIL) && n >= 2;

                /* "+": stop at each non-option, which is taken here, then carry on after it */
                while (!tail && (c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                        r = parse_option(c, help_wanted, version_wanted);
                        if (r < 0)
                                return r;
                }
                if (optind >= argc)
                        break;
                if (tail || streq(argv[optind - 1], "--")) {
                        /* the rest as it is */
                        while (optind < argc)
                                argv[1 + n++] = argv[optind++];
                        break;
                }
                argv[1 + n++] = argv[optind++];
                if (n == 1)
                        v = verb_find(argv[1]);
        }
        argv[1 + n] = NULL;
        *ret_n = n;
        return 0;
}

static int run(int argc, char *argv[]) {
        bool help_wanted = false, version_wanted = false;
        const Verb *v;
        int n, r;

        log_set_prefix("machinespawn");
        r = parse_argv(argc, argv, &help_wanted, &version_wanted, &n);
        if (r < 0)
                return r;
        if (version_wanted && !help_wanted) {
                printf("machinespawn %s\n", PROJECT_VERSION);
                return 0;
        }
        if (n == 0) {
                help();
                if (help_wanted)
                        return 0;
                usage_failed = true;
                return -EINVAL;
        }
        v = verb_find(argv[1]);
        if (!v)
                return usage_error("Unknown command '%s' (see machinespawn --help).", shown(argv[1]));
        if (help_wanted) {
                fputs("Usage: ", stdout);
                verb_usage(v, stdout);
                printf("\n  %s\n\nSee machinespawn(1).\n", v->help);
                return 0;
        }
        /* not for enter: libcurl's TLS set-up would be a third of its time */
        if (v->run != verb_enter)
                curl_global_init(CURL_GLOBAL_DEFAULT);
        return verb_dispatch(v, argv + 2);
}

int main(int argc, char *argv[]) {
        int r;

        r = run(argc, argv);
        curl_global_cleanup();
        if (usage_failed)
                return EXIT_USAGE;
        if (r < 0)
                return EXIT_FAILURE;
        return command_status > 0 ? command_status : EXIT_SUCCESS;
}
