/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc-util.h"
#include "distro-info.h"
#include "export-names.h"
#include "log.h"
#include "machine-config.h"
#include "oci-exec.h"
#include "oci-ref.h"
#include "machine-lifecycle.h"
#include "nspawn-keys.h"
#include "strv.h"
#include "valid.h"

static void setting_list_done(SettingList *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].value);
        }
        free(l->items);
        *l = (SettingList) {};
}

static void located_done(Located *l) {
        free(l->value);
        *l = (Located) {};
}

MachineConfig *machine_config_free(MachineConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->source_path);
        strv_free(c->dropin_paths);
        strv_free(c->sources);
        located_done(&c->distribution);
        located_done(&c->release);
        located_done(&c->image);
        located_done(&c->mirror);
        free(c->architecture);
        free(c->variant);
        strv_free(c->components);
        strv_free(c->packages);
        free(c->verify_sha256);
        free(c->hostname);
        lifecycle_config_done(&c->life);
        free(c->user.name);
        strv_free(c->user.groups);
        strv_free(c->user.export_apps);
        strv_free(c->user.export_bins);
        setting_list_done(&c->exec);
        setting_list_done(&c->files);
        setting_list_done(&c->network);
        setting_list_done(&c->unit);
        setting_list_done(&c->service);
        strv_free(c->wanted_by);
        strv_free(c->required_by);
        oci_exec_free(c->oci);
        free(c);
        return NULL;
}

const char *verify_mode_to_string(VerifyMode m) {
        static const char *const t[] = {
                [VERIFY_CHECKSUM] = "checksum",
                [VERIFY_SHA256] = "sha256",
                [VERIFY_NO] = "no",
        };
        return m < ELEMENTSOF(t) ? t[m] : NULL;
}

int verify_parse(const char *s, VerifyMode *ret_mode, char **ret_sha256) {
        const char *hex;
        char *copy = NULL;

        if (isempty(s) || streq(s, "checksum"))
                *ret_mode = VERIFY_CHECKSUM;
        else if (streq(s, "no"))
                *ret_mode = VERIFY_NO;
        else {
                hex = startswith(s, "sha256:");
                if (!hex || !sha256_hex_is_valid(hex))
                        return -EINVAL;
                copy = strdup(hex);
                if (!copy)
                        return -ENOMEM;
                *ret_mode = VERIFY_SHA256;
        }
        *ret_sha256 = copy;
        return 0;
}

static int free_and_strdup(char **p, const char *s) {
        char *c = NULL;
        if (s) {
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        free(*p);
        *p = c;
        return 0;
}

/* ---- per-key parsers: (assignment, field, diagnostics); an empty value resets to the default ---- */

/* Lengths and capacities of the lists being built, so that each word costs O(1) to append: a file may hold
 * a hundred thousand of them. Duplicates are dropped once, at the end. */
typedef struct ListState {
        char ***list;
        size_t n, allocated;
} ListState;

typedef struct ParseContext {
        ListState lists[16];
        size_t n_lists;
} ParseContext;

static ListState *parse_context_list(ParseContext *ctx, char ***l) {
        for (size_t i = 0; i < ctx->n_lists; i++)
                if (ctx->lists[i].list == l)
                        return ctx->lists + i;
        assert(ctx->n_lists < ELEMENTSOF(ctx->lists));
        /* lists start out empty (NULL): nothing to take over */
        ctx->lists[ctx->n_lists] = (ListState) { .list = l };
        return ctx->lists + ctx->n_lists++;
}

typedef int (*ConfigParser)(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d);

static int set_located(const UnitAssignment *a, Located *l) {
        if (isempty(a->value)) {
                located_done(l);
                return 0;
        }
        if (free_and_strdup(&l->value, a->value) < 0)
                return -ENOMEM;
        l->file = a->file;
        l->line = a->line;
        return 0;
}

static int parse_distribution(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !distribution_name_is_valid(a->value))
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Distribution=%s is not a distribution name (debian, ubuntu, or a debootstrap "
                                  "script name).", a->value);
        return set_located(a, field);
}

static int parse_release(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !release_name_is_valid(a->value))
                return diag_error(d, a->file, a->line, EINVAL, "Release=%s is not a release name or version.",
                                  a->value);
        return set_located(a, field);
}

static int parse_image(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (streq(a->key, "Image") && oci_ref_is_docker(a->value)) {
                _cleanup_(oci_ref_done) OciRef ref = {};
                const char *why = NULL;
                int r = oci_ref_parse(a->value, &ref, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return diag_error(d, a->file, a->line, EINVAL,
                                          "Image=%s is not a registry reference "
                                          "(docker://[REGISTRY/]NAME[:TAG|@sha256:DIGEST]): %s.", a->value, why);
                return set_located(a, field);
        }
        if (!isempty(a->value) && !url_is_valid(a->value, true))
                return diag_error(d, a->file, a->line, EINVAL,
                                  "%s=%s is not an http://, https:// or file:/// URL.", a->key, a->value);
        return set_located(a, field);
}

static int parse_architecture(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !architecture_is_known(a->value))
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Architecture=%s is not a Debian architecture (known: %s).", a->value,
                                  architecture_list());
        return free_and_strdup(field, isempty(a->value) ? NULL : a->value);
}

static int parse_variant(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !streq(a->value, "minbase") && !streq(a->value, "buildd") &&
            !streq(a->value, "default"))
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Variant=%s is not one of minbase, buildd, default.", a->value);
        return free_and_strdup(field, isempty(a->value) ? NULL : a->value);
}

static int parse_hostname(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !hostname_is_valid(a->value))
                return diag_error(d, a->file, a->line, EINVAL, "Hostname=%s is not a valid host name.",
                                  a->value);
        return free_and_strdup(field, isempty(a->value) ? NULL : a->value);
}

static int parse_verify(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        MachineConfig *c = field;
        VerifyMode mode;
        char *hex;
        int r;

        r = verify_parse(a->value, &mode, &hex);
        if (r == -EINVAL)
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Verify=%s is not one of checksum, no, sha256:<64 hex digits>.", a->value);
        if (r < 0)
                return r;
        c->verify = mode;
        free(c->verify_sha256);
        c->verify_sha256 = hex;
        return 0;
}

static int parse_list(const UnitAssignment *a, char ***l, ParseContext *ctx, bool (*valid)(const char *),
                      const char *what, Diagnostics *d) {
        _cleanup_strv_free_ char **words = NULL;
        ListState *s = parse_context_list(ctx, l);
        int r = 0;

        if (isempty(a->value)) {
                *l = strv_free(*l);
                s->n = s->allocated = 0;
                return 0;
        }
        r = strv_split_words(&words, a->value);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
                if (!valid(*w))
                        return diag_error(d, a->file, a->line, EINVAL, "%s=: '%s' is not a valid %s.", a->key,
                                          *w, what);
        /* the words move over; words keeps those not moved yet */
        size_t n_words = strv_length(words), i = 0;
        for (; i < n_words; i++) {
                r = strv_push_greedy(l, &s->n, &s->allocated, words[i]);
                words[i] = NULL;
                if (r < 0)
                        break;
        }
        for (size_t k = i + 1; k < n_words; k++)
                free(words[k]);
        words = mfree(words);
        return r;
}

static int parse_components(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        return parse_list(a, field, ctx, component_name_is_valid, "archive component", d);
}

static int parse_packages(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        return parse_list(a, field, ctx, package_name_is_valid, "Debian package name", d);
}

static int parse_groups(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        return parse_list(a, field, ctx, user_name_is_valid, "group name", d);
}

static int parse_units(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        return parse_list(a, field, ctx, unit_name_is_valid, "unit name", d);
}

static int parse_user_name(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        if (!isempty(a->value) && !user_name_is_valid(a->value))
                return diag_error(d, a->file, a->line, EINVAL, "Name=%s is not a valid user name.", a->value);
        if (!isempty(a->value) && streq(a->value, "root"))
                return diag_error(d, a->file, a->line, EINVAL,
                                  "Name=root: the machine has its own root already; name a regular user.");
        return free_and_strdup(field, isempty(a->value) ? NULL : a->value);
}

static int parse_home(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        HomeMode *m = field;

        if (isempty(a->value))
                *m = HOME_DEFAULT;
        else if (streq(a->value, "bind"))
                *m = HOME_BIND;
        else if (streq(a->value, "none"))
                *m = HOME_NONE;
        else
                return diag_error(d, a->file, a->line, EINVAL, "Home=%s is not one of bind, none.", a->value);
        return 0;
}

static int parse_tristate(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        int *b = field, r;

        if (isempty(a->value)) {
                *b = -1;
                return 0;
        }
        r = parse_boolean(a->value);
        if (r < 0)
                return diag_error(d, a->file, a->line, EINVAL, "%s=%s is not a boolean (yes or no).", a->key,
                                  a->value);
        *b = r;
        return 0;
}

/* ---- [User] exports and devices ---- */

static bool desktop_id_word_is_valid(const char *s) {
        return desktop_id_is_valid(s);
}

static int parse_export_apps(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        char ***l = field;
        int r;

        r = parse_list(a, l, ctx, desktop_id_word_is_valid, "desktop file ID (org.example.App, no path)", d);
        if (r < 0)
                return r;
        /* one spelling: the ID without ".desktop", so that duplicates fold */
        STRV_FOREACH(w, *l) {
                char *e = (char *) endswith(*w, ".desktop");
                if (e)
                        *e = 0;
        }
        return 0;
}

static int parse_export_bins(const UnitAssignment *a, void *field, ParseContext *ctx, Diagnostics *d) {
        return parse_list(a, field, ctx, export_bin_path_is_valid,
                          "absolute path of a program in the machine (no \"..\", no control characters)", d);
}

static int parse_bool(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        bool *b = field;
        int r;

        if (isempty(a->value)) {
                *b = false;
                return 0;
        }
        r = parse_boolean(a->value);
        if (r < 0)
                return diag_error(d, a->file, a->line, EINVAL, "%s=%s is not a boolean (yes or no).", a->key,
                                  a->value);
        *b = r;
        return 0;
}

/* ---- pass-through sections ---- */

static int setting_list_append(SettingList *l, const UnitAssignment *a) {
        Setting s = {
                .key = strdup(a->key),
                .value = strdup(a->value),
                .file = a->file,
                .line = a->line,
        };

        if (!s.key || !s.value || GREEDY_REALLOC(l->items, l->n_allocated, l->n + 1) < 0) {
                free(s.key);
                free(s.value);
                return -ENOMEM;
        }
        l->items[l->n++] = s;
        return 0;
}

static int setting_index_compare(const void *a, const void *b, void *userdata) {
        const Setting *items = userdata;
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        int c = strcmp(items[x].key, items[y].key);
        return c != 0 ? c : (x > y) - (x < y);
}

/* In a .nspawn an empty assignment is not a reset everywhere, so do the resets here: an empty value drops
 * itself and everything of its key before it. All at once at the end, sorted by key: dropping per reset
 * would cost O(n) each. */
static int setting_list_apply_resets(SettingList *l) {
        _cleanup_free_ size_t *idx = NULL;
        _cleanup_free_ bool *drop = NULL;
        size_t j = 0;

        if (l->n == 0)
                return 0;
        idx = malloc(sizeof(size_t) * l->n);
        drop = calloc(l->n, sizeof(bool));
        if (!idx || !drop)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                idx[i] = i;
        qsort_r(idx, l->n, sizeof(size_t), setting_index_compare, l->items);

        /* per run of one key (in file order), drop up to and including its last reset */
        for (size_t start = 0, end; start < l->n; start = end) {
                size_t last_reset = SIZE_MAX;
                for (end = start; end < l->n && streq(l->items[idx[end]].key, l->items[idx[start]].key); end++)
                        if (isempty(l->items[idx[end]].value))
                                last_reset = end;
                if (last_reset != SIZE_MAX)
                        for (size_t k = start; k <= last_reset; k++)
                                drop[idx[k]] = true;
        }

        for (size_t i = 0; i < l->n; i++) {
                if (drop[i]) {
                        free(l->items[i].key);
                        free(l->items[i].value);
                        continue;
                }
                l->items[j++] = l->items[i];
        }
        l->n = j;
        return 0;
}

static int parse_nspawn_setting(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx, Diagnostics *d) {
        SettingList *l = field;

        if (!nspawn_key_is_known(a->section, a->key))
                diag_warning(d, a->file, a->line,
                             "Unknown key '%s' in section [%s] for systemd-nspawn, passing it on as it is.", a->key,
                             a->section);
        /* an empty value is kept as a reset mark until setting_list_apply_resets() */
        return setting_list_append(l, a);
}

static int parse_unit_setting(const UnitAssignment *a, void *field, _unused_ ParseContext *ctx,
                              _unused_ Diagnostics *d) {
        /* Kept as written, empty ones too: in a drop-in they reset what the upstream template set. */
        return setting_list_append(field, a);
}

typedef struct ConfigTableItem {
        const char *section;
        const char *key; /* NULL: any key of this section */
        ConfigParser parse;
        size_t offset;
} ConfigTableItem;

static const ConfigTableItem config_table[] = {
        { "Machine", "Distribution", parse_distribution, offsetof(MachineConfig, distribution) },
        { "Machine", "Release", parse_release, offsetof(MachineConfig, release) },
        { "Machine", "Architecture", parse_architecture, offsetof(MachineConfig, architecture) },
        { "Machine", "Variant", parse_variant, offsetof(MachineConfig, variant) },
        { "Machine", "Components", parse_components, offsetof(MachineConfig, components) },
        { "Machine", "Packages", parse_packages, offsetof(MachineConfig, packages) },
        { "Machine", "Mirror", parse_image, offsetof(MachineConfig, mirror) },
        { "Machine", "Image", parse_image, offsetof(MachineConfig, image) },
        { "Machine", "Verify", parse_verify, 0 },
        { "Machine", "Hostname", parse_hostname, offsetof(MachineConfig, hostname) },
        /* lifecycle: rebuilds, hooks */
        { "Machine", "Keep", lifecycle_parse_keep, offsetof(MachineConfig, life.keep) },
        { "Machine", "Run", lifecycle_parse_command, offsetof(MachineConfig, life.run) },
        { "Machine", "RunOnStart", lifecycle_parse_command, offsetof(MachineConfig, life.run_on_start) },
        { "Machine", "Copy", lifecycle_parse_copy, offsetof(MachineConfig, life.copy) },
        { "Machine", "RebuildOnChange", parse_tristate, offsetof(MachineConfig, life.rebuild_on_change) },
        { "Machine", "RemoveUnlistedPackages", parse_tristate, offsetof(MachineConfig, life.remove_unlisted) },
        { "User", "Name", parse_user_name, offsetof(MachineConfig, user.name) },
        { "User", "Groups", parse_groups, offsetof(MachineConfig, user.groups) },
        { "User", "Home", parse_home, offsetof(MachineConfig, user.home) },
        { "User", "Sudo", parse_tristate, offsetof(MachineConfig, user.sudo) },
        { "User", "Display", parse_tristate, offsetof(MachineConfig, user.display) },
        { "User", "Audio", parse_tristate, offsetof(MachineConfig, user.audio) },
        /* [User] exports and devices */
        { "User", "ExportApps", parse_export_apps, offsetof(MachineConfig, user.export_apps) },
        { "User", "ExportBins", parse_export_bins, offsetof(MachineConfig, user.export_bins) },
        { "User", "GPU", parse_bool, offsetof(MachineConfig, user.gpu) },
        { "Install", "WantedBy", parse_units, offsetof(MachineConfig, wanted_by) },
        { "Install", "RequiredBy", parse_units, offsetof(MachineConfig, required_by) },
        { "Exec", NULL, parse_nspawn_setting, offsetof(MachineConfig, exec) },
        { "Files", NULL, parse_nspawn_setting, offsetof(MachineConfig, files) },
        { "Network", NULL, parse_nspawn_setting, offsetof(MachineConfig, network) },
        { "Unit", NULL, parse_unit_setting, offsetof(MachineConfig, unit) },
        { "Service", NULL, parse_unit_setting, offsetof(MachineConfig, service) },
};

static const ConfigTableItem *config_table_lookup(const char *section, const char *key, bool *ret_section_known) {
        *ret_section_known = false;
        for (size_t i = 0; i < ELEMENTSOF(config_table); i++) {
                if (!streq(config_table[i].section, section))
                        continue;
                *ret_section_known = true;
                if (!config_table[i].key || streq(config_table[i].key, key))
                        return config_table + i;
        }
        return NULL;
}

/* ---- checks that need the whole file ---- */

static int check_release(MachineConfig *c, time_t now, const char *distro_info_dir, Diagnostics *d) {
        _cleanup_free_ char *known = NULL;
        DistroRelease rel = {};
        const char *dist = c->distribution.value;
        int r;

        if (!streq(dist, "debian") && !streq(dist, "ubuntu"))
                return 0; /* another debootstrap script: debootstrap itself knows its suites */

        r = distro_release_resolve(distro_info_dir, dist, c->release.value, now, &rel, &known);
        if (r == -ENOENT) {
                diag_warning(d, c->release.file, c->release.line,
                             "Cannot check Release=%s: no %s/%s.csv (is distro-info-data installed?).",
                             c->release.value, distro_info_dir, dist);
                return 0;
        }
        if (r == -ESRCH)
                return diag_error(d, c->release.file, c->release.line, EINVAL,
                                  "Release=%s is not a release of %s (known: %s).", c->release.value, dist,
                                  strempty(known));
        if (r < 0)
                return diag_error(d, c->release.file, c->release.line, r, "Cannot check Release=%s: %s",
                                  c->release.value, strerror(-r));
        distro_release_done(&rel);
        return 0;
}

static int check_whole(MachineConfig *c, const char *main_file, time_t now, const char *distro_info_dir,
                       Diagnostics *d) {
        int ret = 0;

        if (!c->distribution.value && !c->image.value)
                return diag_error(d, main_file, 0, EINVAL,
                                  "[Machine] needs exactly one of Distribution= and Image=; neither is set.");
        if (c->distribution.value && c->image.value)
                return diag_error(d, c->image.file, c->image.line, EINVAL,
                                  "[Machine] needs exactly one of Distribution= and Image=; both are set "
                                  "(Distribution= at %s:%u).", c->distribution.file, c->distribution.line);

        if (c->distribution.value) {
                const char *dist = c->distribution.value;

                if (!streq(dist, "debian") && !streq(dist, "ubuntu") && !c->mirror.value)
                        ret = diag_error(d, c->distribution.file, c->distribution.line, EINVAL,
                                         "Distribution=%s needs Mirror= (only debian and ubuntu have a default "
                                         "mirror).", dist);
                if (!c->release.value)
                        ret = diag_error(d, c->distribution.file, c->distribution.line, EINVAL,
                                         "Distribution=%s needs Release= (a codename or version).", dist);
                else if (check_release(c, now, distro_info_dir, d) < 0)
                        ret = -EINVAL;
                if (c->verify != VERIFY_CHECKSUM)
                        diag_warning(d, main_file, 0, "Verify= only applies to Image=, ignoring.");
        } else {
                if (c->release.value)
                        diag_warning(d, c->release.file, c->release.line,
                                     "Release= has no effect with Image=, ignoring.");
                if (c->mirror.value)
                        diag_warning(d, c->mirror.file, c->mirror.line,
                                     "Mirror= has no effect with Image=, ignoring.");
                /* a registry image has one per platform: Architecture= picks it */
                if (c->variant || c->components || c->packages ||
                    (c->architecture && !oci_ref_is_docker(c->image.value)))
                        diag_warning(d, main_file, 0,
                                     "Architecture=, Variant=, Components= and Packages= have no effect with "
                                     "Image=, ignoring.");
        }

        if (!c->user.name && (c->user.groups || c->user.home != HOME_DEFAULT || c->user.sudo >= 0 ||
                              c->user.display >= 0 || c->user.audio >= 0 || c->user.export_apps ||
                              c->user.export_bins))
                ret = diag_error(d, main_file, 0, EINVAL, "[User] settings need Name= (the host user).");

        return ret;
}

int machine_config_from_unit(const char *name, const char *main_file, const UnitFile *u, time_t now,
                             const char *distro_info_dir, MachineConfig **ret, Diagnostics *d) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        ParseContext ctx = {};
        int r, ret_r = 0;

        if (!machine_name_is_valid(name))
                return diag_error(d, main_file, 0, EINVAL, "'%s' is not a valid machine name.", name);

        c = calloc(1, sizeof(MachineConfig));
        if (!c)
                return -ENOMEM;
        c->name = strdup(name);
        if (!c->name)
                return -ENOMEM;
        c->user.sudo = c->user.display = c->user.audio = -1;
        c->life.rebuild_on_change = c->life.remove_unlisted = -1;
        c->sources = strv_copy(u->files);
        if (!c->sources)
                return -ENOMEM;

        for (size_t i = 0; i < u->n; i++) {
                UnitAssignment a_copy = u->items[i];
                const UnitAssignment *a = &a_copy;
                const ConfigTableItem *t;
                bool section_known;

                /* what the config keeps must point at its own copy of the file name */
                a_copy.file = c->sources[u->items[i].file_index];

                if (startswith(a->section, "X-") || startswith(a->key, "X-"))
                        continue; /* vendor extensions, as in unit files */

                t = config_table_lookup(a->section, a->key, &section_known);
                if (!t) {
                        if (section_known)
                                diag_warning(d, a->file, a->line, "Unknown key '%s' in section [%s], ignoring.",
                                             a->key, a->section);
                        else
                                diag_warning(d, a->file, a->line, "Unknown section [%s], ignoring %s=.",
                                             a->section, a->key);
                        continue;
                }

                r = t->parse(a, (uint8_t *) c + t->offset, &ctx, d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        ret_r = -EBADMSG;
        }

        for (size_t i = 0; i < ctx.n_lists; i++)
                if (strv_uniq_stable(*ctx.lists[i].list) < 0)
                        return -ENOMEM;
        SettingList *nspawn_lists[] = { &c->exec, &c->files, &c->network };
        for (size_t i = 0; i < ELEMENTSOF(nspawn_lists); i++)
                if (setting_list_apply_resets(nspawn_lists[i]) < 0)
                        return -ENOMEM;

        if (ret_r < 0) /* cross checks on a half-understood file would only add noise */
                return ret_r;

        r = check_whole(c, main_file, now, distro_info_dir, d);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;

        *ret = TAKE_PTR(c);
        return 0;
}
