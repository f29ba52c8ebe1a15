/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "generator.h"
#include "nspawn-settings.h"
#include "oci-exec.h"
#include "strv.h"
#include "unit-file.h"

int nspawn_settings_write(const MachineConfig *c, const HostUser *user, const HostSockets *sockets, FILE *f) {
        bool bind_home = user && c->user.home != HOME_NONE;
        bool bind_sockets = sockets && sockets->binds;
        bool hostname_set = false;
        int r;

        for (size_t i = 0; i < c->exec.n; i++)
                if (streq(c->exec.items[i].key, "Hostname"))
                        hostname_set = true;

        /* The host's passwd says where the home is: a ':' would split Bind=, the rest must read back. */
        if (bind_home && (!unit_value_is_safe(user->home) || strchr(user->home, ':')))
                return -EINVAL;

        r = generator_write_header(c, "machinespawn-prepare", f);
        if (r < 0)
                return r;
        if (c->exec.n > 0 || (c->hostname && !hostname_set) || c->oci) {
                fputs("\n[Exec]\n", f);
                if (c->hostname && !hostname_set) {
                        r = generator_write_setting("Hostname", c->hostname, f);
                        if (r < 0)
                                return r;
                }
                /* the image's settings first: the .mspawn's own [Exec] lines below override them */
                if (c->oci) {
                        r = oci_exec_write_nspawn(c->oci, &c->exec, f);
                        if (r < 0)
                                return r;
                }
                r = generator_write_settings(&c->exec, f);
                if (r < 0)
                        return r;
        }
        if (c->files.n > 0 || bind_home || bind_sockets) {
                fputs("\n[Files]\n", f);
                /* The home at the same path. "idmap": the machine runs with its own user namespace
                 * (-U), and an idmapped mount shows the host's owners unshifted, so a file alice makes
                 * inside is alice's on the host. */
                if (bind_home)
                        fprintf(f, "Bind=%s:%s:idmap\n", user->home, user->home);
                /* the session's sockets, idmapped for the same reason: they are the user's */
                STRV_FOREACH(b, bind_sockets ? sockets->binds : NULL) {
                        _cleanup_free_ char *v = strjoin(*b, ":idmap");
                        if (!v)
                                return -ENOMEM;
                        r = generator_write_setting("Bind", v, f);
                        if (r < 0)
                                return r;
                }
                r = generator_write_settings(&c->files, f);
                if (r < 0)
                        return r;
        }
        if (c->network.n > 0) {
                fputs("\n[Network]\n", f);
                r = generator_write_settings(&c->network, f);
                if (r < 0)
                        return r;
        }
        return ferror(f) ? -EIO : 0;
}
