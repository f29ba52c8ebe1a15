/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An OCI machine's recorded image settings (STATE_DIR/NAME.oci): read at every start by prepare, removed
 * with the machine; kept apart from pulling so that neither needs the download code. */
#include <fcntl.h>

#include "fileio.h"
#include "oci-image.h"
#include "strv.h"

#define OCI_EXEC_MAX (4U * 1024U * 1024U)

char *machine_oci_exec_path(const BuildOptions *o, const char *name) {
        return strjoin(o->paths.state_dir, "/", name, ".oci");
}

int machine_oci_exec_load(const BuildOptions *o, const char *name, OciExec **ret) {
        _cleanup_free_ char *p = machine_oci_exec_path(o, name), *text = NULL;
        _cleanup_(oci_exec_freep) OciExec *e = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        *ret = NULL;
        if (!p)
                return -ENOMEM;
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        r = read_fd_bounded(fd, OCI_EXEC_MAX, &text, NULL);
        if (r < 0)
                return r;
        e = calloc(1, sizeof(OciExec));
        if (!e)
                return -ENOMEM;
        r = oci_exec_parse(text, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}
