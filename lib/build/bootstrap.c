/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/utsname.h>

#include "bootstrap.h"
#include "sha256.h"
#include "strv.h"

BootstrapPlan *bootstrap_plan_free(BootstrapPlan *p) {
        if (!p)
                return NULL;
        free(p->machine);
        distro_release_done(&p->release);
        free(p->architecture);
        free(p->variant);
        strv_free(p->components);
        strv_free(p->packages);
        free(p->mirror);
        free(p->security_mirror);
        free(p->keyring);
        free(p->keyring_package);
        free(p->cache_key);
        free(p->hostname);
        free(p);
        return NULL;
}

const char *host_debian_architecture(void) {
        static const struct {
                const char *machine, *debian;
        } map[] = {
                { "x86_64", "amd64" },   { "aarch64", "arm64" }, { "armv7l", "armhf" },   { "armv8l", "armhf" },
                { "i686", "i386" },      { "i586", "i386" },     { "i386", "i386" },      { "riscv64", "riscv64" },
                { "ppc64le", "ppc64el" }, { "s390x", "s390x" },  { "loongarch64", "loong64" },
                { "mips64", "mips64el" },
        };
        static struct utsname u;

        if (uname(&u) < 0)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (streq(u.machine, map[i].machine))
                        return map[i].debian;
        return NULL;
}

/* *ret = a copy of s, or NULL for NULL; -ENOMEM only when the copy fails */
static int dup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int compute_cache_key(BootstrapPlan *p) {
        _cleanup_strv_free_ char **comps = NULL;
        _cleanup_free_ char *c = NULL, *k = NULL, *material = NULL;
        char hex[65];

        /* Everything that changes the tree, and nothing that does not (the mirror does not). */
        comps = strv_copy(p->components);
        if (!comps)
                return -ENOMEM;
        strv_sort(comps);
        c = strv_join(comps, ",");
        k = strv_join(p->packages, ",");
        if (!c || !k)
                return -ENOMEM;
        material = strjoin("distribution=", p->release.distribution, "\nrelease=", p->release.codename,
                           "\narchitecture=", p->architecture, "\nvariant=", p->variant, "\ncomponents=", c,
                           "\npackages=", k, "\ntool=", bootstrapper_to_string(p->tool), "\n");
        if (!material)
                return -ENOMEM;
        sha256_hex(material, strlen(material), hex);
        hex[8] = 0;
        p->cache_key = strjoin(p->release.distribution, "-", p->release.codename, "-", p->architecture, "-",
                               p->variant, "-", hex);
        return p->cache_key ? 0 : -ENOMEM;
}

/* Past its end of life by the distribution's grace (the time its regular mirrors keep a release after
 * that), with an archive to go to. */
static bool release_archived(const DistroRelease *r, const DistroDefaults *dd, time_t now) {
        uint64_t after;

        if (!dd || !dd->archive_mirror || r->end_of_life <= 0 || now < r->end_of_life)
                return false;
        after = dd->archive_after_sec;
        return after != UINT64_MAX && (uint64_t) (now - r->end_of_life) >= after;
}

int bootstrap_plan_build(const MachineConfig *c, const GlobalConfig *g, const HostFacts *host, BootstrapPlan **ret,
                         Diagnostics *d) {
        _cleanup_(bootstrap_plan_freep) BootstrapPlan *p = NULL;
        _cleanup_free_ char *known = NULL;
        const DistroDefaults *dd;
        const char *dist = c->distribution.value;
        int r;

        if (!dist)
                return diag_error(d, c->source_path, 0, EINVAL, "Machine '%s' has no Distribution= to bootstrap.",
                                  c->name);

        p = calloc(1, sizeof(BootstrapPlan));
        if (!p)
                return -ENOMEM;
        p->machine = strdup(c->name);
        if (!p->machine)
                return -ENOMEM;

        dd = global_config_distro(g, dist);

        r = distro_release_resolve(host->distro_info_dir, dist, c->release.value, host->now, &p->release, &known);
        if (r == -ESRCH)
                return diag_error(d, c->release.file, c->release.line, EINVAL,
                                  "Release=%s is not a release of %s (known: %s).", c->release.value, dist,
                                  strempty(known));
        if (r == -ENOENT) {
                /* No distro-info for this distribution (a debootstrap script with Mirror=): take it as is. */
                p->release = (DistroRelease) {
                        .distribution = strdup(dist),
                        .codename = strdup(c->release.value),
                        .major = UINT32_MAX,
                        .minor = UINT32_MAX,
                        .released = true,
                };
                if (!p->release.distribution || !p->release.codename)
                        return -ENOMEM;
        } else if (r < 0)
                return diag_error(d, c->release.file, c->release.line, r, "Cannot resolve Release=%s: %s",
                                  c->release.value, strerror(-r));

        p->architecture = strdup(c->architecture ?: host->architecture ?: "");
        if (!p->architecture)
                return -ENOMEM;
        if (isempty(p->architecture))
                return diag_error(d, c->source_path, 0, EINVAL,
                                  "Cannot tell the host's Debian architecture; set Architecture=.");
        p->foreign = host->architecture && !streq(p->architecture, host->architecture);
        p->archived = release_archived(&p->release, dd, host->now);
        p->variant = strdup(c->variant ?: "minbase");
        p->hostname = strdup(c->hostname ?: c->name);
        if (!p->variant || !p->hostname)
                return -ENOMEM;

        /* Mirror: the .mspawn's, else the distribution's (the ports mirror for Ubuntu's other architectures). */
        const char *mirror = c->mirror.value;
        if (!mirror && p->archived)
                mirror = dd->archive_mirror;
        if (!mirror && dd) {
                bool ports = dd->ports_mirror && !streq(p->architecture, "amd64") && !streq(p->architecture, "i386");
                mirror = ports ? dd->ports_mirror : dd->mirror;
        }
        if (!mirror)
                return diag_error(d, c->source_path, 0, EINVAL,
                                  "No mirror for Distribution=%s: set Mirror= or add a [%s] section with Mirror= "
                                  "to machinespawn.conf.", dist, dist);
        p->mirror = strdup(mirror);
        if (!p->mirror)
                return -ENOMEM;

        if (c->components)
                p->components = strv_copy(c->components);
        else if (dd && dd->components) {
                r = distro_defaults_components(dd, &p->release, &p->components);
                if (r < 0)
                        return r;
        } else
                p->components = strv_copy((char *[]) { (char *) "main", NULL });
        if (!p->components)
                return -ENOMEM;

        /* Only released releases have security and updates suites; sid and testing do not. */
        r = 0;
        if (dd && p->release.released && !c->mirror.value && p->archived)
                /* An archive holds what it holds: Debian's has no updates suite, Ubuntu's has all pockets. */
                r = dup_or_null(dd->archive_security_mirror, &p->security_mirror);
        else if (dd && p->release.released && !c->mirror.value) {
                const char *sec = dd->security_mirror;
                if (sec && dd->ports_mirror && !streq(p->architecture, "amd64") && !streq(p->architecture, "i386"))
                        sec = dd->ports_mirror;
                r = dup_or_null(sec, &p->security_mirror);
        }
        if (r < 0)
                return r;
        if (dd) {
                /* The current keyring drops the keys of releases long gone; they live on in a removed-keys file. */
                if (dup_or_null(p->archived && dd->archive_keyring ? dd->archive_keyring : dd->keyring, &p->keyring) < 0 ||
                    dup_or_null(dd->keyring_package, &p->keyring_package) < 0)
                        return -ENOMEM;
        }

        p->packages = strv_copy(g->base_packages);
        if (!p->packages || strv_extend_strv(&p->packages, c->packages) < 0)
                return -ENOMEM;
        /* [User] Sudo=yes needs sudo in the machine */
        if (c->user.sudo > 0 && strv_extend(&p->packages, "sudo") < 0)
                return -ENOMEM;
        strv_sort(p->packages);
        strv_uniq_sorted(p->packages);

        /* An archive's old Release files may be signed by keys that have expired since (stretch's in 2025):
         * debootstrap's gpgv accepts a signature made while the key was valid, apt (and so mmdebstrap) does not. */
        if (g->bootstrapper == BOOTSTRAPPER_AUTO)
                p->tool = host->have_mmdebstrap && !p->archived ? BOOTSTRAPPER_MMDEBSTRAP : BOOTSTRAPPER_DEBOOTSTRAP;
        else
                p->tool = g->bootstrapper;

        r = compute_cache_key(p);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int bootstrap_plan_argv(const BootstrapPlan *p, const char *target, const char *proxy, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *comps = strv_join(p->components, ","), *pkgs = strv_join(p->packages, ",");
        char *arg = NULL;
        int r;

        if (!comps || !pkgs)
                return -ENOMEM;

#define ADD(s)                                          \
        do {                                            \
                r = strv_extend(&argv, (s));            \
                if (r < 0)                              \
                        return r;                       \
        } while (0)
#define ADD_JOIN(...)                                   \
        do {                                            \
                arg = strjoin(__VA_ARGS__);             \
                if (!arg)                               \
                        return -ENOMEM;                 \
                r = strv_push(&argv, arg);              \
                if (r < 0)                              \
                        return r;                       \
        } while (0)

        if (p->tool == BOOTSTRAPPER_MMDEBSTRAP) {
                ADD("mmdebstrap");
                ADD("--mode=root");
                /* mmdebstrap's "debootstrap" variant is what debootstrap does by default */
                ADD_JOIN("--variant=", streq(p->variant, "default") ? "debootstrap" : p->variant);
                ADD_JOIN("--architectures=", p->architecture);
                ADD_JOIN("--components=", comps);
                if (!isempty(pkgs))
                        ADD_JOIN("--include=", pkgs);
                if (p->keyring)
                        ADD_JOIN("--keyring=", p->keyring);
                /* unpacking with fsync after every file buys nothing for a tree that is renamed into place */
                ADD("--dpkgopt=force-unsafe-io");
                if (proxy)
                        ADD_JOIN("--aptopt=Acquire::http::Proxy \"", proxy, "\"");
                /* mmdebstrap fetches with apt, which refuses a Release file past its Valid-Until; debootstrap
                 * never looks at Valid-Until */
                if (p->archived)
                        ADD("--aptopt=Acquire::Check-Valid-Until \"false\"");
        } else {
                ADD("debootstrap");
                if (!streq(p->variant, "default"))
                        ADD_JOIN("--variant=", p->variant);
                ADD_JOIN("--arch=", p->architecture);
                ADD_JOIN("--components=", comps);
                if (!isempty(pkgs))
                        ADD_JOIN("--include=", pkgs);
                if (p->keyring)
                        ADD_JOIN("--keyring=", p->keyring);
        }
        ADD(p->release.codename);
        ADD(target);
        ADD(p->mirror);
#undef ADD
#undef ADD_JOIN

        *ret = TAKE_PTR(argv);
        return 0;
}

int bootstrap_plan_apt_conf(const BootstrapPlan *p, char **ret) {
        char *text = NULL;

        if (p->archived) {
                text = strjoin("// Written by machinespawn: ", p->release.distribution, " ", p->release.codename,
                               " comes from an archive whose Release files are past their Valid-Until.\n",
                               "Acquire::Check-Valid-Until \"false\";\n");
                if (!text)
                        return -ENOMEM;
        }
        *ret = text;
        return 0;
}

int bootstrap_plan_sources_list(const BootstrapPlan *p, char **ret) {
        _cleanup_free_ char *comps = strv_join(p->components, " "), *text = NULL;
        const char *code = p->release.codename;
        bool debian = streq(p->release.distribution, "debian");

        if (!comps)
                return -ENOMEM;

        text = strjoin("deb ", p->mirror, " ", code, " ", comps, "\n");
        if (!text)
                return -ENOMEM;
        if (p->security_mirror) {
                char *more;
                /* Debian 10 and older named the security suite "CODENAME/updates". */
                bool old_debian = debian && p->release.major <= 10;
                more = strjoin(text, "deb ", p->mirror, " ", code, "-updates ", comps, "\n", "deb ",
                               p->security_mirror, " ", code, old_debian ? "/updates " : "-security ", comps, "\n");
                if (!more)
                        return -ENOMEM;
                free(text);
                text = more;
        }
        *ret = TAKE_PTR(text);
        return 0;
}
