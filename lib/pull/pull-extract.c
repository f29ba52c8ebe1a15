/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>

#include "pull-extract.h"

bool archive_path_is_safe(const char *path) {
        const char *p = path;

        if (isempty(path) || path[0] == '/' || strlen(path) >= PATH_MAX)
                return false;
        /* no ".." component anywhere: "a/../../b", "..", "../x" */
        while (*p) {
                size_t n = strcspn(p, "/");
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p += n;
                p += strspn(p, "/");
        }
        return true;
}

struct archive *extract_reader_new(void) {
        struct archive *a = archive_read_new();
        if (!a)
                return NULL;
        /* the format and compression are found from the content, whatever the name says */
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        return a;
}

struct archive *extract_disk_writer_new(void) {
        struct archive *out = archive_write_disk_new();
        if (!out)
                return NULL;
        /* libarchive's guards, and our own path checks on top: they are a start, not the whole answer */
        archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
                                                    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        /* no ARCHIVE_EXTRACT_UNLINK: with it, SECURE_SYMLINKS replaces a symlink in the way by a directory
         * and carries on; without it, writing through a symlink is refused, which is what we want */
        archive_write_disk_set_standard_lookup(out);
        return out;
}

int extract_entry_check(struct archive_entry *e, const char *what, uint64_t *skipped_devices, Diagnostics *d) {
        const char *path = archive_entry_pathname(e), *link;

        if (!path || !archive_path_is_safe(path)) {
                /* "./" alone is the top directory itself */
                if (path && (streq(path, "./") || streq(path, ".")))
                        return 0;
                return diag_error(d, NULL, 0, EPERM, "Refusing %s '%s': it would land outside the machine.", what,
                                  strempty(path));
        }
        link = archive_entry_hardlink(e);
        if (link && !archive_path_is_safe(link))
                return diag_error(d, NULL, 0, EPERM, "Refusing hard link '%s' to '%s': it points outside the "
                                  "machine.", path, link);
        if (archive_entry_filetype(e) == AE_IFCHR || archive_entry_filetype(e) == AE_IFBLK) {
                /* a root file system does not need them: /dev is nspawn's */
                (*skipped_devices)++;
                return 0;
        }
        return 1;
}

/* Data at offset into copy, a stream: the holes of a sparse file written as zeros. */
static int copy_data(struct archive *copy, const void *buf, size_t size, int64_t offset, int64_t *written) {
        static const char zeros[16384];

        while (*written < offset) {
                size_t n = (size_t) MIN(offset - *written, (int64_t) sizeof zeros);
                if (archive_write_data(copy, zeros, n) < 0)
                        return -EIO;
                *written += (int64_t) n;
        }
        if (size > 0 && archive_write_data(copy, buf, size) < 0)
                return -EIO;
        *written += (int64_t) size;
        return 0;
}

int extract_entry_copy(struct archive *in, struct archive *out, struct archive_entry *e, struct archive *copy,
                       Diagnostics *d) {
        const char *path = archive_entry_pathname(e);
        int64_t written = 0;
        int k;

        k = archive_write_header(out, e);
        if (k < ARCHIVE_WARN)
                return diag_error(d, NULL, 0, EPERM, "Cannot unpack '%s': %s", path, archive_error_string(out));
        if (copy && archive_write_header(copy, e) < ARCHIVE_WARN)
                return diag_error(d, NULL, 0, EIO, "Cannot copy '%s': %s", path, archive_error_string(copy));
        if (archive_entry_size(e) > 0) {
                const void *buf;
                size_t size;
                la_int64_t offset;

                while ((k = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
                        if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
                                k = ARCHIVE_FATAL;
                                break;
                        }
                        if (copy && copy_data(copy, buf, size, offset, &written) < 0)
                                return diag_error(d, NULL, 0, EIO, "Cannot copy '%s': %s", path,
                                                  archive_error_string(copy));
                }
                if (k != ARCHIVE_EOF)
                        return diag_error(d, NULL, 0, EBADMSG, "Cannot unpack '%s': %s", path,
                                          archive_error_string(in) ?: archive_error_string(out));
                if (copy && copy_data(copy, NULL, 0, archive_entry_size(e), &written) < 0)
                        return diag_error(d, NULL, 0, EIO, "Cannot copy '%s': %s", path, archive_error_string(copy));
        }
        if (archive_write_finish_entry(out) < ARCHIVE_WARN)
                return diag_error(d, NULL, 0, EIO, "Cannot finish '%s': %s", path, archive_error_string(out));
        return 0;
}

static int extract_entries(struct archive *in, struct archive *out, ExtractStats *stats, Diagnostics *d) {
        struct archive_entry *e;
        int r;

        for (;;) {
                int k = archive_read_next_header(in, &e);

                if (k == ARCHIVE_EOF)
                        break;
                if (k < ARCHIVE_WARN)
                        return diag_error(d, NULL, 0, EBADMSG, "Broken archive: %s", archive_error_string(in));
                r = extract_entry_check(e, "archive entry", &stats->skipped_devices, d);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                r = extract_entry_copy(in, out, e, NULL, d);
                if (r < 0)
                        return r;
                stats->entries++;
        }
        if (archive_write_close(out) < ARCHIVE_WARN)
                return diag_error(d, NULL, 0, EIO, "Cannot finish unpacking: %s", archive_error_string(out));
        return 0;
}

int extract_archive(struct archive *in, const char *target, ExtractStats *stats, Diagnostics *d) {
        _cleanup_(archive_write_freep) struct archive *out = extract_disk_writer_new();
        _cleanup_close_ int cwd = -EBADF;
        int r;

        if (!out)
                return -ENOMEM;
        /* relative to target: the secure flags refuse absolute paths, ours included */
        cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || chdir(target) < 0)
                return diag_error(d, NULL, 0, errno, "Cannot enter %s: %m", target);
        r = extract_entries(in, out, stats, d);
        if (fchdir(cwd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && stats->entries == 0)
                r = diag_error(d, NULL, 0, EBADMSG, "The archive is empty.");
        return r;
}
