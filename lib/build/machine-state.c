/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where machines, their locks and their origin records live: shared by building and removal, which
 * must not need the download code. */
#include <fcntl.h>
#include <sys/file.h>

#include "fileio.h"
#include "machine-build.h"
#include "strv.h"

void build_options_init(BuildOptions *o) {
        *o = (BuildOptions) {};
        paths_from_environment(&o->paths);
}

int machine_lock(const BuildOptions *o, const char *name, Diagnostics *d) {
        _cleanup_free_ char *p = strjoin(o->paths.run_dir, "/", name, ".lock");
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!p)
                return -ENOMEM;
        r = mkdir_p(o->paths.run_dir, 0755);
        if (r < 0)
                return diag_error(d, NULL, 0, r, "Cannot create %s: %s", o->paths.run_dir, strerror(-r));
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot lock %s: %m", p);
        return TAKE_FD(fd);
}

char *machine_origin_path(const BuildOptions *o, const char *name) {
        return strjoin(o->paths.state_dir, "/", name, ".origin");
}
