/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <time.h>

#include "fileio.h"
#include "mspawn-save.h"
#include "mspawn-write.h"
#include "strv.h"
#include "unit-file.h"

#define SAVED_MARKER "# " MSPAWN_SAVED_COMMENT

static int read_back(const char *name, const char *path, const char *text, const char *distro_info_dir,
                     MachineConfig **ret, Diagnostics *d) {
        _cleanup_(unit_file_done) UnitFile u = {};
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_free_ char *scratch = strdup(text);
        int r;

        if (!scratch)
                return -ENOMEM;
        r = unit_file_parse_buffer(&u, path, scratch, strlen(scratch), d);
        if (r >= 0)
                r = machine_config_from_unit(name, path, &u, time(NULL), distro_info_dir, &c, d);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        free(c->source_path);
        c->source_path = strdup(path);
        if (!c->source_path)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int mspawn_declare(const MachineConfig *declared, const char *dir, const char *distro_info_dir, bool save,
                   MachineConfig **ret_config, char **ret_path, const char **ret_bad_key, Diagnostics *d) {
        _cleanup_(machine_config_freep) MachineConfig *c = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL, *existing = NULL;
        int r;

        r = mspawn_format(declared, MSPAWN_SAVED_COMMENT, &text, ret_bad_key);
        if (r < 0)
                return r;
        path = strjoin(dir, "/", declared->name, ".mspawn");
        if (!path)
                return -ENOMEM;
        r = read_back(declared->name, path, text, distro_info_dir, &c, d);
        if (r < 0)
                return r;

        if (save) {
                if (read_full_file(path, &existing, NULL) >= 0) {
                        if (!streq(existing, text))
                                r = -EEXIST;
                        else
                                r = 0;
                } else {
                        r = mkdir_parents(path, 0755);
                        if (r >= 0)
                                r = write_file_atomic(path, text, strlen(text), 0644, WRITE_DURABLE);
                        if (r >= 0)
                                r = 1;
                }
        }
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        if (r < 0)
                return r;
        *ret_config = TAKE_PTR(c);
        return r;
}

int mspawn_remove_saved(const char *dir, const char *name, char **ret_path) {
        _cleanup_free_ char *path = strjoin(dir, "/", name, ".mspawn"), *text = NULL;
        int r = 0;

        if (!path)
                return -ENOMEM;
        if (read_full_file(path, &text, NULL) >= 0 && startswith(text, SAVED_MARKER "\n")) {
                if (unlink(path) < 0)
                        r = -errno;
                else
                        r = 1;
        }
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return r;
}
