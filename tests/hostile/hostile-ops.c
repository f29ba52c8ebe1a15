/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host-side operations on a machine's tree that no program reaches without the network or systemd:
 * finishing after a bootstrap, tidying a new base, and the reader behind "machinespawn enter". One per
 * call, for test-hostile.sh: exit 0 when it worked, 1 with a message when it refused. */
#include "chase.h"
#include "finish.h"
#include "strv.h"
#include "tree.h"
#include "user.h"

static int report(const char *op, int r, const char *failed) {
        if (r >= 0) {
                printf("%s: ok\n", op);
                return 0;
        }
        fprintf(stderr, "%s: %s%s%s\n", op, strempty(failed), failed ? ": " : "", chase_strerror(r));
        return 1;
}

int main(int argc, char *argv[]) {
        const char *failed = NULL;
        int r;

        if (argc != 3) {
                fprintf(stderr, "Usage: %s finish|finish-image|tidy|session-env-read|usage TREE\n", argv[0]);
                return 2;
        }
        if (streq(argv[1], "finish")) {
                BootstrapPlan p = {
                        .release = { .distribution = (char *) "debian", .codename = (char *) "bookworm", .major = 12 },
                        .components = (char *[]) { (char *) "main", NULL },
                        .mirror = (char *) "http://deb.debian.org/debian",
                        .security_mirror = (char *) "http://deb.debian.org/debian-security",
                        .hostname = (char *) "hostile",
                };
                r = machine_finish(argv[2], &p, "http://127.0.0.1:3142/", &failed);
                return report(argv[1], r, failed);
        }
        if (streq(argv[1], "finish-image"))
                return report(argv[1], machine_finish_image(argv[2], "hostile", &failed), failed);
        if (streq(argv[1], "tidy"))
                return report(argv[1], base_tidy(argv[2], &failed), failed);
        if (streq(argv[1], "session-env-read")) {
                _cleanup_strv_free_ char **env = NULL;
                r = machine_read_session_env(argv[2], &env);
                if (r == -ENOENT)
                        r = 0;
                STRV_FOREACH(e, env)
                        printf("--setenv=%s\n", *e);
                return report(argv[1], r == -EBADMSG ? -EBADMSG : r, r < 0 ? MACHINE_SESSION_ENV : NULL);
        }
        if (streq(argv[1], "usage")) {
                uint64_t size = 0;
                r = tree_disk_usage(argv[2], &size);
                printf("%llu\n", (unsigned long long) size);
                return report(argv[1], r, NULL);
        }
        fprintf(stderr, "Unknown operation %s\n", argv[1]);
        return 2;
}
