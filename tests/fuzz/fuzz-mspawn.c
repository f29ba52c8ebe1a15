/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: bytes as a .mspawn through the parser, the interpretation, and both writers. Whatever
 * is accepted must come out so that reading the output back with the same (systemd's) rules gives exactly
 * the settings that went in: a difference is a value systemd would read differently, and aborts. */
#include <stdint.h>

#include "fileio.h"
#include "generator.h"
#include "nspawn-settings.h"
#include "machine-config.h"
#include "unit-file.h"

static const GeneratorPaths paths = { .helperdir = "/usr/libexec/machinespawn", .unitdir = "/usr/lib/systemd/system" };

/* The assignments of section in u, from the skip'th on, must be list, in order. */
static void check_section(const UnitFile *u, const char *section, size_t skip, const SettingList *list) {
        size_t k = 0;

        for (size_t i = 0; i < u->n; i++) {
                if (!streq(u->items[i].section, section))
                        continue;
                if (skip > 0) {
                        skip--;
                        continue;
                }
                if (k >= list->n || !streq(u->items[i].key, list->items[k].key) ||
                    !streq(u->items[i].value, list->items[k].value))
                        abort();
                k++;
        }
        if (k != list->n)
                abort();
}

static void read_back(const char *text, const char *section, size_t skip, const SettingList *list) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_free_ char *copy = strdup(text);

        if (!copy)
                return;
        if (unit_file_parse_buffer(&u, "out", copy, strlen(copy), &d) < 0)
                abort();
        check_section(&u, section, skip, list);
}

static int nspawn_writer(const void *userdata, FILE *f) {
        return nspawn_settings_write(userdata, NULL, NULL, f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(diagnostics_done) Diagnostics d = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_(output_plan_done) OutputPlan plan = {};
        _cleanup_free_ char *buf = NULL, *nspawn = NULL;

        if (size > UNIT_FILE_SIZE_MAX)
                return 0;
        buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = 0;

        if (unit_file_parse_buffer(&u, "fuzz.mspawn", buf, size, &d) < 0)
                return 0;
        if (machine_config_from_unit("fuzz", "fuzz.mspawn", &u, 1795910400, "/usr/share/distro-info", &c, &d) < 0)
                return 0;
        c->source_path = strdup("/etc/machinespawn/fuzz.mspawn");
        if (!c->source_path)
                return 0;

        /* the parser accepted it: the writers must not refuse it, and what they write must read back */
        if (generator_plan_machine(c, &paths, &plan) < 0)
                abort();
        read_back(plan.items[0].content, "Unit", 4, &c->unit); /* after SourcePath, Documentation, Requires, After */
        /* after ExecStartPre, ExecStartPost, and GPU=yes's four DeviceAllow= lines */
        read_back(plan.items[0].content, "Service", 2 + (c->user.gpu > 0 ? 4 : 0), &c->service);

        if (write_to_string(nspawn_writer, c, &nspawn) < 0)
                abort();
        /* Hostname= from [Machine] comes first when [Exec] has none */
        bool hostname_added = false;
        if (c->hostname) {
                hostname_added = true;
                for (size_t i = 0; i < c->exec.n; i++)
                        if (streq(c->exec.items[i].key, "Hostname"))
                                hostname_added = false;
        }
        read_back(nspawn, "Exec", hostname_added, &c->exec);
        read_back(nspawn, "Files", 0, &c->files);
        read_back(nspawn, "Network", 0, &c->network);
        return 0;
}
