/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* machinespawn: the same machines as the generator path, by hand. Every verb is a thin front over lib/. */
#include <dirent.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "cache.h"
#include "distro-info.h"
#include "enter.h"
#include "fileio.h"
#include "generator.h"
#include "global-config.h"
#include "log.h"
#include "machine-build.h"
#include "machine-remove.h"
#include "mspawn-load.h"
#include "mspawn-write.h"
#include "proxy.h"
#include "strv.h"
#include "tree.h"
#include "user.h"
#include "valid.h"

/* Exit codes, see machinespawn(1): 0 success, 1 failure, 2 usage; "run" and "boot" pass on the command's. */
#define EXIT_USAGE 2
static bool usage_failed = false;
static int command_status = -1;

static const char *arg_verify = NULL;
static const char *arg_variant = NULL;
static const char *arg_include = NULL;
static const char *arg_output = "text";
static const char *arg_user = NULL;
static bool arg_no_save = false;
static bool arg_keep_config = false;
static bool arg_force = false;

#define SAVED_COMMENT "Written by \"machinespawn bootstrap\"."
static const char *const saved_marker = "# " SAVED_COMMENT;

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

static bool have_systemd(void) {
        /* systemd as PID 1 with its bus: otherwise nspawn runs unregistered (CI machines, chroots) */
        return sd_booted() > 0 && access("/run/dbus/system_bus_socket", F_OK) >= 0;
}

static int need_root(const char *verb) {
        if (geteuid() == 0)
                return 0;
        return log_error_errno(EPERM, "'%s' changes the system: run it as root.", verb);
}

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
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(build_result_done) BuildResult res = {};
        _cleanup_free_ char *text = NULL, *scratch = NULL, *path = NULL, *existing = NULL;
        const char *spec = args[0], *name = args[0] ? args[1] : NULL, *arch = name ? args[2] : NULL, *bad = NULL;
        int r;

        if (!spec || !name || (arch && args[3]))
                return usage_error("usage: machinespawn bootstrap DISTRO-RELEASE NAME [ARCH]");
        r = bootstrap_model(spec, name, arch, &declared);
        if (r < 0)
                return r;
        r = need_root("bootstrap");
        if (r < 0)
                return r;

        /* Saved as the writer makes it from the model, never spliced together; then read back through the
         * loader, so the machine is built from what the generator will see, with its checks and messages. */
        r = mspawn_format(declared, SAVED_COMMENT, &text, &bad);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return usage_error("Cannot declare %s: %s= cannot be written as given.", name, bad ?: "a value");
        path = strjoin(env_paths()->sysconf_dir, "/", name, ".mspawn");
        scratch = strdup(text);
        if (!path || !scratch)
                return log_oom();
        r = unit_file_parse_buffer(&u, path, scratch, strlen(scratch), &d);
        if (r >= 0)
                r = machine_config_from_unit(name, path, &u, time(NULL), env_paths()->distro_info_dir, &c, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r == -ENOMEM ? log_oom() : -EINVAL;
        free(c->source_path);
        c->source_path = strdup(path);
        if (!c->source_path)
                return log_oom();

        if (!arg_no_save) {
                if (read_full_file(path, &existing, NULL) >= 0 && !streq(existing, text))
                        return log_error_errno(EEXIST, "%s exists and says something else; remove it or use "
                                               "--no-save.", path);
                r = mkdir_parents(path, 0755);
                if (r >= 0)
                        r = write_file_atomic(path, text, strlen(text), 0644, WRITE_DURABLE);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s: %m", path);
                if (have_systemd())
                        (void) spawn_wait((char *[]) { (char *) "systemctl", (char *) "daemon-reload", NULL }, NULL);
        }

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
        const char *url = args[0], *name = url ? args[1] : NULL;
        int r;

        if (!url || !name || args[2])
                return usage_error("usage: machinespawn pull-tar URL NAME [--verify=checksum|no|sha256:HEX]");
        if (!url_is_valid(url, true))
                return log_error_errno(EINVAL, "%s is not an http://, https:// or file:/// URL.", shown(url));
        r = need_root("pull-tar");
        if (r < 0)
                return r;

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

        if (!name)
                return usage_error("usage: machinespawn run NAME [COMMAND...]");
        r = need_root("run");
        if (r < 0)
                return r;
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
        if (r >= 0 && !have_systemd())
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
        _cleanup_free_ char *dir = NULL;
        const char *name = args[0];
        int r;

        if (!name || args[1])
                return usage_error("usage: machinespawn boot NAME");
        r = need_root("boot");
        if (r < 0)
                return r;
        r = machine_dir(name, &dir);
        if (r < 0)
                return r;
        /* the machine's init in the foreground, with its .nspawn settings, wherever we are */
        char *argv[] = { (char *) "systemd-nspawn", (char *) "--boot", (char *) "-D", dir, (char *) "--machine",
                         (char *) name, (char *) "--settings=override",
                         have_systemd() ? NULL : (char *) "--register=no", (char *) "--keep-unit", NULL };
        r = spawn_wait(argv, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot run systemd-nspawn: %m");
        command_status = r;
        return 0;
}

/* ---- systemctl verbs ---- */

static int verb_systemctl(const char *verb, char **args) {
        _cleanup_free_ char *unit = NULL;
        int r;

        if (!args[0] || args[1])
                return usage_error("usage: machinespawn %s NAME", verb);
        if (!have_systemd())
                return log_error_errno(EOPNOTSUPP, "'%s' needs systemd as the init system and its bus; here there is "
                                       "none (use \"machinespawn boot %s\").", verb, args[0]);
        r = need_root(verb);
        if (r < 0)
                return r;
        unit = strjoin("systemd-nspawn@", args[0], ".service");
        if (!unit)
                return log_oom();
        r = spawn_wait((char *[]) { (char *) "systemctl", (char *) verb, unit, NULL }, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot run systemctl: %m");
        return r == 0 ? 0 : log_error_errno(EIO, "systemctl %s %s failed.", verb, unit);
}

/* ---- enter ---- */

static bool machine_is_registered(const char *name) {
        _cleanup_free_ char *p = strjoin("/run/systemd/machines/", name);
        return p && access(p, F_OK) >= 0;
}

/* Started is not yet answering: its bus comes up a moment after systemd-nspawn says ready. */
static int wait_for_machine(const char *name, const char *user, bool privileged) {
        _cleanup_free_ char *machine = strjoin("--machine=", name), *target = strjoin(user, "@", name);
        int r;

        if (!machine || !target)
                return log_oom();
        for (unsigned i = 0;; i++) {
                r = spawn_wait(privileged ? (char *[]) { (char *) "systemd-run", machine, (char *) "--quiet",
                                                         (char *) "--wait", (char *) "true", NULL }
                                          /* its pty would put a line end on our output */
                                          : (char *[]) { (char *) "sh", (char *) "-c",
                                                         (char *) "exec machinectl shell --quiet \"$1\" /bin/true "
                                                                  ">/dev/null 2>&1 </dev/null",
                                                         (char *) "sh", target, NULL },
                               (char *[]) { (char *) "SYSTEMD_LOG_LEVEL=emerg", NULL });
                if (r == 0)
                        return 0;
                if (i >= 240)
                        return log_error_errno(ETIMEDOUT, "Machine %s started but does not answer.", name);
                (void) usleep(250 * 1000);
        }
}

static int verb_enter(char **args) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_free_ char *unit = NULL, *root = NULL;
        const char *name = args[0], *user;
        bool privileged, running;
        BuildOptions o;
        char **cmd;
        int r;

        if (!name)
                return usage_error("usage: machinespawn enter NAME [--user=USER] [-- COMMAND...]");
        if (!machine_name_is_valid(name))
                return log_error_errno(EINVAL, "'%s' is not a valid machine name.", name);
        cmd = args + 1;
        if (cmd[0] && streq(cmd[0], "--"))
                cmd++;
        if (!have_systemd())
                return log_error_errno(EOPNOTSUPP, "'enter' needs systemd as the init system and its bus; here there "
                                       "is none (use \"machinespawn run %s\").", name);

        /* the [User] of the machine by default, like distrobox's enter */
        user = arg_user;
        if (!user && mspawn_load_by_name(name, time(NULL), env_paths(), &c, &d) >= 0 && c && c->user.name)
                user = c->user.name;
        if (!user)
                user = "root";

        build_options_init(&o);
        privileged = geteuid() == 0;
        /* machined's record says it runs to anyone; the image lock only to root */
        running = privileged ? machine_is_running(o.paths.machines_dir, name) > 0 : machine_is_registered(name);
        if (!running) {
                /* as the [User] user, polkit lets exactly this unit start (see polkit.h) */
                unit = strjoin("systemd-nspawn@", name, ".service");
                if (!unit)
                        return log_oom();
                r = spawn_wait((char *[]) { (char *) "systemctl", (char *) "start", unit, NULL }, NULL);
                if (r != 0)
                        return log_error_errno(EIO, "Cannot start %s.", unit);
                r = wait_for_machine(name, user, privileged);
                if (r < 0)
                        return r;
        }

        /* the host session's display and audio, as machinespawn-prepare found them at start; read through
         * chase.h (the machine owns the file): a refused file is a warning, the shell still opens. Only root
         * can read the machine's tree. */
        if (privileged) {
                root = strjoin(o.paths.machines_dir, "/", name);
                if (!root)
                        return log_oom();
                r = machine_read_session_env(root, &env);
                if (r < 0 && r != -ENOENT)
                        log_warning("Ignoring %s/%s: %s", root, MACHINE_SESSION_ENV,
                                    r == -EBADMSG ? "not what machinespawn-prepare writes" : chase_strerror(r));
        }
        EnterOptions eo = {
                .machine = name,
                .user = user,
                .command = cmd,
                .env = env,
                .privileged = privileged,
                .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
        };
        r = enter_command_line(&eo, &argv);
        if (r < 0)
                return log_oom();
        /* exec: the terminal, signals and the exit status are the entering command's own */
        fflush(stdout);
        execvp(argv[0], argv);
        return log_error_errno(errno, "Cannot run %s: %m", argv[0]);
}

/* ---- remove, clean-cache ---- */

static int verb_remove(char **args) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *name = args[0];
        BuildOptions o;
        RemoveStats stats = {};
        int r;

        if (!name || args[1])
                return usage_error("usage: machinespawn remove NAME [--keep-config] [--force]");
        r = need_root("remove");
        if (r < 0)
                return r;
        build_options_init(&o);
        if (machine_is_running(o.paths.machines_dir, name) > 0) {
                if (!arg_force)
                        return log_error_errno(EBUSY, "Machine %s is running; stop it first or use --force.", name);
                if (!have_systemd())
                        return log_error_errno(EBUSY, "Machine %s is running outside systemd; stop it first.", name);
                _cleanup_free_ char *unit = strjoin("systemd-nspawn@", name, ".service");
                if (!unit)
                        return log_oom();
                r = spawn_wait((char *[]) { (char *) "systemctl", (char *) "stop", unit, NULL }, NULL);
                if (r != 0)
                        return log_error_errno(EIO, "Cannot stop %s.", unit);
        }

        r = machine_remove(name, &o, o.paths.nspawn_dir, &stats, &d);
        diagnostics_log(&d);
        if (r < 0)
                return r;
        log_info("Removed machine %s (%llu files).", name, (unsigned long long) stats.files);

        /* the declaration too, if "bootstrap" wrote it: a hand-written one is the admin's */
        path = strjoin(env_paths()->sysconf_dir, "/", name, ".mspawn");
        if (!path)
                return log_oom();
        if (!arg_keep_config && read_full_file(path, &text, NULL) >= 0 && startswith(text, saved_marker)) {
                if (unlink(path) < 0)
                        return log_error_errno(errno, "Cannot remove %s: %m", path);
                log_info("Removed %s.", path);
                if (have_systemd())
                        (void) spawn_wait((char *[]) { (char *) "systemctl", (char *) "daemon-reload", NULL }, NULL);
        }
        return 0;
}

static int verb_clean_cache(char **keys) {
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_strv_free_ char **removed = NULL;
        int r;

        STRV_FOREACH(k, keys)
                if (!cache_key_is_valid(*k))
                        return usage_error("'%s' is not a cache key (see \"machinespawn-cache list\").", shown(*k));
        r = need_root("clean-cache");
        if (r < 0)
                return r;
        r = load_global(&g);
        if (r < 0)
                return r;
        r = cache_remove_keys(g->cache_dir, keys[0] ? keys : NULL, &removed, &d);
        STRV_FOREACH(k, removed)
                log_info("Removed base %s.", *k);
        diagnostics_log(&d);
        return r;
}

/* ---- list ---- */

typedef struct Row {
        char *name, *declared, *origin;
        bool image, running;
        uint64_t size;
        long long base_age; /* seconds, -1 unknown */
} Row;

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

static int verb_list(char **args) {
        _cleanup_(mspawn_index_done) MspawnIndex idx = {};
        _cleanup_(global_config_freep) GlobalConfig *g = NULL;
        _cleanup_strv_free_ char **search = NULL, **names = NULL;
        BuildOptions o;
        time_t now = time(NULL);
        int r;

        if (args[0])
                return usage_error("usage: machinespawn list [--output=text|json]");
        if (!streq(arg_output, "text") && !streq(arg_output, "json"))
                return usage_error("--output=%s is not text or json.", arg_output);
        build_options_init(&o);
        r = load_global(&g);
        if (r < 0)
                return r;
        if (mspawn_search_path(env_paths(), &search) < 0 || mspawn_index_build(search, &idx) < 0 || mspawn_enumerate(&idx, &names) < 0)
                return log_oom();

        /* images nobody declared are machines too */
        DIR *dir = opendir(o.paths.machines_dir);
        if (dir) {
                struct dirent *de;
                while ((de = readdir(dir)))
                        if (de->d_name[0] != '.' && de->d_type == DT_DIR && !strv_contains(names, de->d_name))
                                (void) strv_extend(&names, de->d_name);
                closedir(dir);
        }
        strv_sort(names);

        if (streq(arg_output, "json"))
                fputs("[", stdout);
        else
                printf("%-20s %-40s %-6s %9s %-8s %s\n", "NAME", "DECLARED", "IMAGE", "SIZE", "STATE", "ORIGIN");
        bool first = true;
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *declared = NULL, *path = strjoin(o.paths.machines_dir, "/", *n),
                                    *originp = machine_origin_path(&o, *n), *origin_text = NULL, *origin = NULL;
                uint64_t size = 0;
                bool image, running;
                long long base_age = -1;

                if (!path || !originp)
                        return log_oom();
                (void) mspawn_find(&idx, *n, &declared, NULL);
                /* the tree's top, never through a link; its size counted on that descriptor */
                _cleanup_close_ int root_fd = chase_root_open(path);
                image = root_fd >= 0;
                if (image)
                        (void) tree_disk_usage_fd(root_fd, &size);
                running = machine_is_running(o.paths.machines_dir, *n) > 0;
                if (read_full_file(originp, &origin_text, NULL) >= 0) {
                        origin = strndup(origin_text, strcspn(origin_text, "\n"));
                        const char *key = startswith(origin_text, "base=");
                        if (key) {
                                _cleanup_free_ char *k = strndup(key, strcspn(key, "\n")), *infop = NULL, *info = NULL;
                                infop = k ? cache_path(g->cache_dir, k, ".info") : NULL;
                                const char *b = infop && read_full_file(infop, &info, NULL) >= 0 ? strstr(info, "built=")
                                                                                                 : NULL;
                                if (b)
                                        base_age = (long long) now - strtoll(b + 6, NULL, 10);
                        }
                }

                if (streq(arg_output, "json")) {
                        fputs(first ? "\n  {" : ",\n  {", stdout);
                        fputs("\"name\": ", stdout);
                        json_string(*n, stdout);
                        fputs(", \"declared\": ", stdout);
                        if (declared)
                                json_string(declared, stdout);
                        else
                                fputs("null", stdout);
                        printf(", \"image\": %s, \"size\": %llu, \"running\": %s, \"origin\": ", image ? "true" : "false",
                               (unsigned long long) size, running ? "true" : "false");
                        if (origin)
                                json_string(origin, stdout);
                        else
                                fputs("null", stdout);
                        if (base_age >= 0)
                                printf(", \"base_age\": %lld}", base_age);
                        else
                                fputs(", \"base_age\": null}", stdout);
                } else {
                        char age[32] = "";
                        if (base_age >= 0)
                                snprintf(age, sizeof age, " (%lldh old)", base_age / 3600);
                        printf("%-20s %-40s %-6s %8.1fM %-8s %s%s\n", *n, declared ?: "-", image ? "yes" : "no",
                               (double) size / (1024.0 * 1024.0), running ? "running" : "stopped", origin ?: "-", age);
                }
                first = false;
        }
        if (streq(arg_output, "json"))
                fputs(first ? "]\n" : "\n]\n", stdout);
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

        if (!args[0] || args[1])
                return usage_error("usage: machinespawn cat NAME");
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
        /* an absolute path is a file that must be readable, anything else a program in $PATH */
        return what[0] == '/' ? access(what, R_OK) >= 0 : find_executable(what);
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
                { { "/usr/share/keyrings/ubuntu-archive-keyring.gpg" }, "ubuntu-keyring", "Suggests",
                  "Ubuntu machines" },
                { { "/usr/sbin/apt-cacher-ng" }, "apt-cacher-ng", "Suggests", "a cache for bootstraps" },
        };
        int missing = 0;

        if (args[0])
                return usage_error("usage: machinespawn check");
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
               have_systemd() ? "yes" : "no (machines run unregistered; start/stop/enable need it)");
        if (missing > 0)
                return log_error_errno(ENOENT, "%i required piece(s) missing.", missing);
        return 0;
}

/* ---- main ---- */

static const struct {
        const char *verb;
        const char *help;
} verbs[] = {
        { "bootstrap DISTRO-RELEASE NAME [ARCH]", "Declare a machine and build it now (debian-12, ubuntu-jammy)" },
        { "run NAME [COMMAND...]", "Run a command (default: a shell) in a stopped machine" },
        { "pull-tar URL NAME", "Download a root file system tarball as machine NAME" },
        { "remove NAME", "Remove a machine (and the .mspawn bootstrap wrote)" },
        { "clean-cache [KEY...]", "Remove cached base trees (all, or the named ones)" },
        { "list", "List machines: declared, image, size, state, origin" },
        { "start|stop|enable|disable NAME", "systemctl on the machine's systemd-nspawn@ unit" },
        { "boot NAME", "Boot the machine's init in the foreground" },
        { "enter NAME [-- COMMAND...]", "A shell (or COMMAND) as the machine's [User] in the running machine" },
        { "cat NAME", "Show the .mspawn, its drop-ins, and what the generator makes of them" },
        { "check", "Check what machinespawn needs; name the package for what is missing" },
};

static void help(void) {
        printf("machinespawn [OPTIONS...] COMMAND ...\n\nDeclarative systemd-nspawn machines, by hand.\n\nCommands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-38s %s\n", verbs[i].verb, verbs[i].help);
        printf("\nOptions:\n"
               "  -h --help                 Show this help (or a command's, after it)\n"
               "     --version              Show the version\n"
               "     --variant=VARIANT      bootstrap: minbase (default), buildd, default\n"
               "     --include=PKG,...      bootstrap: extra packages\n"
               "     --no-save              bootstrap: do not write /etc/machinespawn/NAME.mspawn\n"
               "     --verify=MODE          pull-tar: checksum (default), no, sha256:HEX\n"
               "     --keep-config          remove: keep the .mspawn\n"
               "     --force                remove: stop a running machine first\n"
               "     --output=text|json     list: the format\n"
               "     --user=USER            enter: as this user (default: the machine's [User] Name=)\n"
               "\nSee machinespawn(1) and mspawn(5).\n");
}

static int verb_help(const char *verb) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strstr(verbs[i].verb, verb)) {
                        printf("machinespawn %s\n  %s\n\nSee machinespawn(1).\n", verbs[i].verb, verbs[i].help);
                        return 0;
                }
        return usage_error("Unknown command '%s' (see machinespawn --help).", verb);
}

/* The verbs that take a machine NAME, and where. It is checked here, once for all of them, before any verb
 * looks at the file system: a NAME becomes a path under the machines, configuration and settings
 * directories, so "../x" must never reach one. */
static const struct {
        const char *verb;
        unsigned name_arg;
} verb_names[] = {
        { "bootstrap", 1 }, { "pull-tar", 1 }, { "run", 0 },    { "boot", 0 },   { "remove", 0 },  { "enter", 0 },
        { "cat", 0 },       { "start", 0 },    { "stop", 0 },   { "enable", 0 }, { "disable", 0 },
};

static int check_name_argument(const char *verb, char **args) {
        for (size_t i = 0; i < ELEMENTSOF(verb_names); i++) {
                const char *name, *why;

                if (!streq(verb, verb_names[i].verb))
                        continue;
                if (strv_length(args) <= verb_names[i].name_arg)
                        return 0; /* missing: the verb's usage says so */
                name = args[verb_names[i].name_arg];
                why = machine_name_invalid_reason(name);
                if (why)
                        return usage_error("'%s' is not a valid machine name: %s (see machinespawn(1)).",
                                           shown(name), why);
                return 0;
        }
        return 0;
}

static int dispatch(const char *verb, char **args) {
        int r;

        r = check_name_argument(verb, args);
        if (r < 0)
                return r;
        if (streq(verb, "bootstrap"))
                return verb_bootstrap(args);
        if (streq(verb, "run"))
                return verb_run(args);
        if (streq(verb, "pull-tar"))
                return verb_pull_tar(args);
        if (streq(verb, "remove"))
                return verb_remove(args);
        if (streq(verb, "clean-cache"))
                return verb_clean_cache(args);
        if (streq(verb, "list"))
                return verb_list(args);
        if (streq(verb, "boot"))
                return verb_boot(args);
        if (streq(verb, "enter"))
                return verb_enter(args);
        if (streq(verb, "cat"))
                return verb_cat(args);
        if (streq(verb, "check"))
                return verb_check(args);
        if (streq(verb, "start") || streq(verb, "stop") || streq(verb, "enable") || streq(verb, "disable"))
                return verb_systemctl(verb, args);
        return usage_error("Unknown command '%s' (see machinespawn --help).", verb);
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
};

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
        {},
};

/* Runs getopt over argv: flags into the arg_ globals. Returns 1 for --help, 2 for --version, 0, or
 * -EINVAL (a usage error, already reported by getopt). optind is left after the options. */
static int parse_options(int argc, char *argv[], const char *shortopts) {
        int c, ret = 0;

        while ((c = getopt_long(argc, argv, shortopts, options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        ret = 1;
                        break;
                case ARG_VERSION:
                        if (ret == 0)
                                ret = 2;
                        break;
                case ARG_VERIFY:
                        arg_verify = optarg;
                        break;
                case ARG_VARIANT:
                        arg_variant = optarg;
                        break;
                case ARG_INCLUDE:
                        arg_include = optarg;
                        break;
                case ARG_NO_SAVE:
                        arg_no_save = true;
                        break;
                case ARG_KEEP_CONFIG:
                        arg_keep_config = true;
                        break;
                case ARG_FORCE:
                        arg_force = true;
                        break;
                case ARG_OUTPUT:
                        arg_output = optarg;
                        break;
                case ARG_USER:
                        arg_user = optarg;
                        break;
                default:
                        usage_failed = true;
                        return -EINVAL;
                }
        return ret;
}

static int run(int argc, char *argv[]) {
        _cleanup_strv_free_ char **rest = NULL, **positional = NULL;
        const char *verb;
        char **args;
        int r;

        log_set_prefix("machinespawn");
        /* "+": the options before the command; the command's own come after it */
        r = parse_options(argc, argv, "+h");
        if (r < 0)
                return r;
        if (r == 2) {
                printf("machinespawn %s\n", PROJECT_VERSION);
                return 0;
        }
        if (optind >= argc) {
                help();
                if (r == 1)
                        return 0;
                usage_failed = true;
                return -EINVAL;
        }
        verb = argv[optind];
        args = argv + optind + 1;

        if (r == 1 || strv_contains(args, "--help") || strv_contains(args, "-h"))
                return verb_help(verb);
        /* "run NAME COMMAND...": everything after NAME is the command's, options included */
        if (streq(verb, "run"))
                return dispatch(verb, args);
        /* "enter NAME [--user=U] -- COMMAND...": options up to "--" */
        if (streq(verb, "enter")) {
                char **dash = args;
                while (*dash && !streq(*dash, "--"))
                        dash++;
                if (strv_extend(&rest, "machinespawn") < 0)
                        return log_oom();
                for (char **a = args; a < dash; a++)
                        if (strv_extend(&rest, *a) < 0)
                                return log_oom();
                optind = 0;
                r = parse_options((int) strv_length(rest), rest, "h");
                if (r < 0)
                        return r;
                positional = strv_copy(rest + optind);
                if (!positional || strv_extend_strv(&positional, dash) < 0)
                        return log_oom();
                return dispatch(verb, positional);
        }

        /* options may follow the arguments ("bootstrap debian-12 bread --variant=buildd") */
        if (strv_extend(&rest, "machinespawn") < 0 || strv_extend_strv(&rest, args) < 0)
                return log_oom();
        optind = 0; /* 0, not 1: glibc then forgets its permutation state from the first pass */
        r = parse_options((int) strv_length(rest), rest, "h");
        if (r < 0)
                return r;
        /* getopt moved the positional arguments to the end */
        positional = strv_copy(rest + optind);
        if (!positional)
                return log_oom();
        return dispatch(verb, positional);
}

int main(int argc, char *argv[]) {
        int r;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = run(argc, argv);
        curl_global_cleanup();
        if (usage_failed)
                return EXIT_USAGE;
        if (r < 0)
                return EXIT_FAILURE;
        return command_status > 0 ? command_status : EXIT_SUCCESS;
}
