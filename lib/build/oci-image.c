/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap.h"
#include "cache.h"
#include "chase.h"
#include "fileio.h"
#include "finish.h"
#include "oci-image.h"
#include "oci-layer.h"
#include "oci-manifest.h"
#include "oci-ref.h"
#include "oci-registry.h"
#include "oci-stream.h"
#include "strv.h"
#include "tree.h"


static void say(const BuildOptions *o, const char *status) {
        if (o && o->progress)
                o->progress(o->userdata, status, -1);
}

bool tree_init_is_systemd(const char *root) {
        _cleanup_close_ int root_fd = chase_root_open(root);
        _cleanup_free_ char *path = strdup("sbin/init");

        if (root_fd < 0 || !path)
                return false;
        /* follow the links by hand, each resolved inside the tree, to the file they end at */
        for (unsigned hop = 0; hop < 32; hop++) {
                _cleanup_free_ char *name = NULL;
                _cleanup_close_ int dir = chase_open_parent(root_fd, path, 0, &name);
                char target[PATH_MAX];
                struct stat st;
                ssize_t n;

                if (dir < 0 || fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return false;
                if (S_ISREG(st.st_mode))
                        return streq(name, "systemd");
                if (!S_ISLNK(st.st_mode))
                        return false;
                n = readlinkat(dir, name, target, sizeof target - 1);
                if (n <= 0)
                        return false;
                target[n] = 0;
                char *next;
                if (target[0] == '/')
                        next = strdup(target);
                else {
                        char *slash = strrchr(path, '/');
                        if (slash)
                                *slash = 0;
                        next = slash ? strjoin(path, "/", target) : strdup(target);
                }
                if (!next)
                        return false;
                free(path);
                path = next;
        }
        return false;
}

/* The platform manifest for the reference: through the index when there is one. */
static int resolve_manifest(OciRegistry *reg, const OciRef *ref, const char *arch, const char *variant,
                            OciManifest *ret, char **ret_digest, Diagnostics *d) {
        _cleanup_free_ char *body = NULL, *ctype = NULL, *digest = NULL;
        size_t size;
        int r;

        r = oci_registry_get_manifest(reg, ref->digest ?: ref->tag, &body, &size, &ctype, &digest, d);
        if (r < 0)
                return r;
        r = oci_document_is_index(body, size, ctype);
        if (r < 0)
                return diag_error(d, NULL, 0, EBADMSG, "The manifest of %s/%s is neither an image manifest nor an "
                                  "index.", ref->registry, ref->repository);
        if (r > 0) {
                _cleanup_(oci_descriptor_done) OciDescriptor sel = {};

                r = oci_index_select(body, size, "linux", arch, variant, &sel, d);
                if (r < 0)
                        return r;
                body = mfree(body);
                ctype = mfree(ctype);
                digest = mfree(digest);
                r = oci_registry_get_manifest(reg, sel.digest, &body, &size, &ctype, &digest, d);
                if (r < 0)
                        return r;
                if (oci_document_is_index(body, size, ctype) != 0)
                        return diag_error(d, NULL, 0, EBADMSG, "The index of %s/%s points at another index, refused.",
                                          ref->registry, ref->repository);
        }
        r = oci_manifest_parse(body, size, ret, d);
        if (r < 0)
                return r;
        *ret_digest = TAKE_PTR(digest);
        return 0;
}

/* Pulls every blob and applies the layers in order into the new directory tmp. */
static int flatten(OciRegistry *reg, const OciManifest *m, const char *blob_dir, const BuildOptions *o,
                   const char *tmp, struct archive *copy, uint64_t *ret_replaced, OciExec *ret_exec, Diagnostics *d) {
        _cleanup_free_ char *config = NULL;
        _cleanup_close_ int cfd = -EBADF;
        size_t config_size;
        int r;

        say(o, "Fetching the image config");
        cfd = oci_registry_get_blob(reg, &m->config, blob_dir, d);
        if (cfd < 0)
                return cfd;
        r = read_fd_bounded(cfd, OCI_MANIFEST_MAX, &config, &config_size);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "Cannot read the image config: %s", strerror(-r));
        r = oci_config_parse(config, config_size, ret_exec, d);
        if (r < 0)
                return r;

        /* each layer unpacked as it arrives into tmp, which nobody uses before every digest is checked */
        for (size_t i = 0; i < m->n_layers; i++) {
                OciLayerStats stats = {};
                char status[256];

                snprintf(status, sizeof status, "Fetching and applying layer %zu of %zu (%llu bytes)", i + 1,
                         m->n_layers, (unsigned long long) m->layers[i].size);
                say(o, status);
                r = oci_stream_layer(reg, m->layers + i, blob_dir, tmp, copy, &stats, d);
                if (r < 0)
                        return diag_error(d, NULL, 0, -r, "Layer %zu (%s) of the image cannot be applied.", i + 1,
                                          m->layers[i].digest);
                *ret_replaced += stats.replaced;
        }
        ret_exec->boot = tree_init_is_systemd(tmp);
        return 0;
}

/* Like tree_pack(), with a fast zstd level on two threads: packing is on the first machine's path, and zstd
 * -T0 -3 (tree_pack()'s) takes more memory (one window per core) and time than the rest of a pull.
 * --fast=3 against -1: a third less time to pack, two fifths less to unpack, a quarter larger. */
static int pack(const char *tree, const char *archive) {
        return tree_pack_with(tree, archive, "zstd -T2 --fast=3 -q");
}

/* The cache's archive of the image tree, written while the layers are unpacked: their entries in order, as
 * a pax tar (xattrs in the SCHILY records GNU tar reads), compressed by zstd in a process of its own, on
 * another core. Replayed by tree_unpack(), it is the flattened tree as long as no layer removed or replaced
 * what a lower one wrote (OciLayerStats.replaced); otherwise it is dropped and the tree packed after. */
/* The tar's pieces handed to zstd: libarchive's default 10 KiB blocks cost one send() and one wakeup of
 * zstd each, 70000 of them for a root file system. */
#define COPY_BLOCK (1024 * 1024)

/* The archive is fsynced before it is published: its writeback is started every so much input, so that
 * the fsync waits for the tail only. */
#define COPY_WRITEBACK_EVERY (32 * 1024 * 1024)

typedef struct TreeCopy {
        struct archive *a;
        int fd;  /* our end of zstd's input */
        int out; /* the archive zstd writes */
        pid_t pid;
        const char *path;
        uint64_t unsynced;
} TreeCopy;

static la_ssize_t copy_write(struct archive *a, void *userdata, const void *buf, size_t size) {
        TreeCopy *c = userdata;

        for (;;) {
                ssize_t n = send(c->fd, buf, size, MSG_NOSIGNAL);
                if (n >= 0) {
                        c->unsynced += (uint64_t) n;
                        if (c->unsynced >= COPY_WRITEBACK_EVERY) {
                                (void) sync_file_range(c->out, 0, 0, SYNC_FILE_RANGE_WRITE);
                                c->unsynced = 0;
                        }
                        return n;
                }
                if (errno != EINTR) {
                        archive_set_error(a, errno, "Cannot write the image archive");
                        return -1;
                }
        }
}

static void copy_abort(TreeCopy *c) {
        if (c->a)
                archive_write_free(c->a);
        c->a = NULL;
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -EBADF;
        if (c->out >= 0)
                close(c->out);
        c->out = -EBADF;
        if (c->pid > 0) {
                (void) kill(c->pid, SIGKILL);
                (void) waitpid(c->pid, NULL, 0);
                (void) unlink(c->path);
        }
        c->pid = 0;
}

/* zstd in one thread: -T1 (one worker) copies every block into a job and hashes each job's overlap with the
 * last again, half as much CPU more for the same archive, and this runs beside the unpacking. */
static int copy_begin(const char *path, TreeCopy *c) {
        char *argv[] = { (char *) "zstd", (char *) "-q", (char *) "--fast=3", (char *) "--single-thread",
                         (char *) "-c", NULL };
        posix_spawn_file_actions_t fa;
        int pair[2], r;

        *c = (TreeCopy) { .fd = -EBADF, .out = -EBADF, .path = path };
        c->out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (c->out < 0)
                return -errno;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
                r = -errno;
                (void) unlink(path);
                copy_abort(c);
                return r;
        }
        r = posix_spawn_file_actions_init(&fa);
        if (r == 0) {
                r = posix_spawn_file_actions_adddup2(&fa, pair[1], STDIN_FILENO);
                if (r == 0)
                        r = posix_spawn_file_actions_adddup2(&fa, c->out, STDOUT_FILENO);
                if (r == 0)
                        r = posix_spawnp(&c->pid, argv[0], &fa, NULL, argv, environ);
                posix_spawn_file_actions_destroy(&fa);
        }
        close(pair[1]);
        c->fd = pair[0];
        if (r != 0) {
                c->pid = 0;
                (void) unlink(path);
                copy_abort(c);
                return -r;
        }
        c->a = archive_write_new();
        if (!c->a || archive_write_set_format_pax(c->a) != ARCHIVE_OK ||
            archive_write_set_format_option(c->a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(c->a, COPY_BLOCK) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(c->a, 1) != ARCHIVE_OK ||
            archive_write_open(c->a, c, NULL, copy_write, NULL) != ARCHIVE_OK) {
                copy_abort(c);
                return -ENOMEM;
        }
        return 0;
}

/* The archive's end written and zstd done with it: 0 when the archive is whole. */
static int copy_finish(TreeCopy *c) {
        int status = 0, r = 0;

        if (archive_write_close(c->a) != ARCHIVE_OK)
                r = -EIO;
        archive_write_free(c->a);
        c->a = NULL;
        close(c->fd);
        c->fd = -EBADF;
        while (waitpid(c->pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        c->pid = 0;
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = -EIO;
        return r;
}

/* Flattens the image and publishes it in the cache. Where the cache keeps archives, the tree is built
 * right at in_place (the new machine) and packed from there: one pass less than building, packing and
 * unpacking again. Otherwise it is built in the cache and the caller clones it (reflinks). Returns 1 when
 * in_place was filled. */
static int build_tree(OciRegistry *reg, const OciManifest *m, const char *reference, const char *digest,
                      const char *trees, const char *key, const char *blob_dir, const char *in_place,
                      const BuildOptions *o, Diagnostics *d) {
        _cleanup_(oci_exec_done) OciExec exec = {};
        _cleanup_free_ char *tmp = NULL, *info = NULL, *record = NULL, *archive = NULL;
        _cleanup_(copy_abort) TreeCopy copy = { .fd = -EBADF, .out = -EBADF };
        bool archives = cache_use_archives(trees, o->paths.cache_format);
        uint64_t replaced = 0;
        const char *tree;
        char built[32];
        int r;

        r = cache_clean_tmp(trees, key);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "Cannot clean stale temporaries in %s: %s", trees, strerror(-r));
        r = cache_tmp_dir(trees, key, &tmp);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "Cannot create a build directory in %s: %s", trees, strerror(-r));
        if (archives) {
                (void) rmdir(tmp); /* only the unique name is needed, for the archive */
                archive = strjoin(tmp, CACHE_ARCHIVE_SUFFIX);
                if (!archive)
                        return -ENOMEM;
                if (mkdir(in_place, 0755) < 0)
                        return diag_error(d, NULL, 0, errno, "Cannot create %s: %m", in_place);
                tree = in_place;
                if (copy_begin(archive, &copy) < 0)
                        copy_abort(&copy); /* packed after, then */
        } else
                tree = tmp;

        r = flatten(reg, m, blob_dir, o, tree, copy.a, &replaced, &exec, d);
        if (r >= 0) {
                r = oci_exec_format(&exec, &record);
                if (r == -EINVAL)
                        r = diag_error(d, NULL, 0, EINVAL, "The image config holds a value with a newline, which "
                                       "cannot be recorded.");
        }
        if (r >= 0 && archives) {
                say(o, "Caching the image tree");
                r = copy.a && replaced == 0 ? copy_finish(&copy) : -ESTALE;
                if (r < 0) {
                        copy_abort(&copy);
                        r = pack(tree, archive);
                }
                if (r < 0)
                        r = diag_error(d, NULL, 0, -r, "Cannot pack the image tree: %s", strerror(-r));
        }
        if (r >= 0) {
                snprintf(built, sizeof built, "%lld", (long long) time(NULL));
                /* the settings ride along in the .info: a second machine needs no blob at all */
                info = strjoin("built=", built, "\nformat=", archives ? "archive" : "tree", "\nreference=", reference,
                               "\nmanifest=", digest, "\nconfig=", m->config.digest, "\n", record);
                r = info ? cache_publish(trees, key, archives ? archive : tmp, info) : -ENOMEM;
                if (r < 0 && r != -ENOMEM)
                        r = diag_error(d, NULL, 0, -r, "Cannot publish the image tree %s: %s", key, strerror(-r));
        }
        if (r < 0) {
                copy_abort(&copy);
                if (archives)
                        (void) unlink(archive);
                else
                        (void) tree_remove(tmp, NULL);
                return r;
        }
        return archives;
}

static int tree_fresh(const char *trees, const char *key) {
        _cleanup_free_ char *base = NULL, *info = cache_path(trees, key, ".info");
        bool is_archive;

        if (!info)
                return -ENOMEM;
        if (cache_base(trees, key, &base, &is_archive) < 0 || access(info, F_OK) < 0)
                return 0;
        return 1;
}

int oci_image_materialize(const char *reference, const char *arch, const GlobalConfig *g, const BuildOptions *o,
                          const char *target, OciExec *ret_exec, OciImageResult *ret, Diagnostics *d) {
        _cleanup_(oci_ref_done) OciRef ref = {};
        _cleanup_(oci_registry_done) OciRegistry reg = {};
        _cleanup_(oci_manifest_done) OciManifest m = {};
        _cleanup_free_ char *digest = NULL, *trees = NULL, *blob_dir = NULL, *base = NULL, *info_path = NULL;
        _cleanup_free_ char *info = NULL;
        _cleanup_close_ int lock = -EBADF;
        const char *why = NULL, *oarch, *variant, *key;
        bool is_archive, built_in_place = false;
        int r;

        *ret = (OciImageResult) {};
        r = oci_ref_parse(reference, &ref, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return diag_error(d, NULL, 0, EINVAL, "%s is not a registry reference: %s.", reference, why);
        arch = arch ?: host_debian_architecture();
        if (oci_platform_from_arch(arch, &oarch, &variant) < 0)
                return diag_error(d, NULL, 0, EINVAL, "Architecture %s has no OCI name (amd64, arm64, arm/v7, 386, "
                                  "ppc64le, s390x, riscv64, ...).", strempty(arch));

        trees = strjoin(g->cache_dir, "/oci/trees");
        blob_dir = strjoin(g->cache_dir, "/oci/blobs/sha256");
        if (!trees || !blob_dir)
                return -ENOMEM;
        r = oci_registry_open(&reg, &ref, global_config_registry_insecure(g, ref.registry), NULL, d);
        if (r < 0)
                return r;
        reg.ca_bundle = o->paths.ca_bundle;

        say(o, "Resolving the image manifest");
        r = resolve_manifest(&reg, &ref, oarch, variant, &m, &digest, d);
        if (r < 0)
                return r;
        snprintf(ret->digest, sizeof ret->digest, "%s", digest);
        ret->layers = (unsigned) m.n_layers;
        key = digest + strlen("sha256:");

        /* like a base: copied from under a shared lock, built under an exclusive one */
        lock = cache_lock(trees, key, LOCK_SH);
        if (lock < 0)
                return diag_error(d, NULL, 0, -lock, "Cannot lock the cache in %s: %s", trees, strerror(-lock));
        r = tree_fresh(trees, key);
        if (r < 0)
                return r;
        ret->tree_cached = r > 0;
        if (r == 0) {
                if (flock(lock, LOCK_UN) < 0 || flock(lock, LOCK_EX) < 0)
                        return diag_error(d, NULL, 0, errno, "Cannot lock the cache: %m");
                r = tree_fresh(trees, key);
                if (r < 0)
                        return r;
                if (r == 0) {
                        r = build_tree(&reg, &m, reference, digest, trees, key, blob_dir, target, o, d);
                        if (r < 0)
                                return r;
                        built_in_place = r > 0;
                }
                if (flock(lock, LOCK_SH) < 0)
                        return diag_error(d, NULL, 0, errno, "Cannot lock the cache: %m");
        }
        ret->downloaded = reg.downloaded;

        info_path = cache_path(trees, key, ".info");
        if (!info_path)
                return -ENOMEM;
        r = read_full_file(info_path, &info, NULL);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "Cannot read %s: %s", info_path, strerror(-r));
        r = oci_exec_parse(info, ret_exec);
        if (r < 0)
                return r;

        if (built_in_place)
                return 0;
        r = cache_base(trees, key, &base, &is_archive);
        if (r < 0)
                return diag_error(d, NULL, 0, -r, "The image tree %s vanished from %s.", key, trees);
        say(o, "Copying the image tree");
        r = is_archive ? tree_unpack(base, target) : tree_clone(base, target);
        if (r < 0) {
                (void) tree_remove(target, NULL);
                return diag_error(d, NULL, 0, -r, "Cannot copy %s to %s: %s", base, target, strerror(-r));
        }
        return 0;
}

int machine_build_oci(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, const char *path,
                      BuildResult *ret, Diagnostics *d) {
        _cleanup_free_ char *tmp = strjoin(o->paths.machines_dir, "/.#", c->name, ".XXXXXX");
        _cleanup_free_ char *record = NULL, *record_path = machine_oci_exec_path(o, c->name);
        _cleanup_(oci_exec_done) OciExec exec = {};
        OciImageResult res;
        const char *failed = NULL;
        int r;

        if (!tmp || !record_path)
                return -ENOMEM;
        if (!mkdtemp(tmp))
                return diag_error(d, NULL, 0, errno, "Cannot create a temporary in %s: %m", o->paths.machines_dir);
        (void) rmdir(tmp); /* the copy makes it; mkdtemp() only reserved a unique name */

        r = oci_image_materialize(c->image.value, c->architecture, g, o, tmp, &exec, &res, d);
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return r;
        }
        r = machine_finish_image(tmp, c->hostname ?: c->name, &failed);
        if (r < 0)
                diag_error(d, NULL, 0, -r, "Cannot finish %s: %s%s%s", c->name, strempty(failed), failed ? ": " : "",
                           chase_strerror(r));
        if (r >= 0 && chmod(tmp, 0755) < 0)
                r = diag_error(d, NULL, 0, errno, "Cannot finish %s: %m", tmp);
        /* the settings first: a machine never exists without them */
        if (r >= 0)
                r = oci_exec_format(&exec, &record);
        if (r >= 0)
                r = mkdir_p(o->paths.state_dir, 0755);
        if (r >= 0) {
                r = write_file_atomic(record_path, record, strlen(record), 0644, 0);
                if (r < 0)
                        diag_error(d, NULL, 0, -r, "Cannot write %s: %s", record_path, strerror(-r));
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = diag_error(d, NULL, 0, errno, "Cannot rename %s to %s: %m", tmp, path);
        if (r < 0) {
                (void) tree_remove(tmp, NULL);
                return r;
        }
        ret->pulled = true;
        ret->not_modified = res.tree_cached;
        ret->downloaded = res.downloaded;
        ret->cache_key = strdup(res.digest);
        return ret->cache_key ? 0 : -ENOMEM;
}
