/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "gpu.h"
#include "strv.h"
#include "unit-file.h"

extern char **environ;

void gpu_devices_done(GpuDevices *g) {
        strv_free(g->nodes);
        strv_free(g->host_nodes);
        strv_free(g->libs);
        *g = (GpuDevices) {};
}

static bool name_is_nvidia_node(const char *n) {
        const char *p = startswith(n, "nvidia");

        if (!p)
                return false;
        if (streq(p, "ctl") || streq(p, "-modeset") || streq(p, "-uvm") || streq(p, "-uvm-tools"))
                return true;
        if (!*p)
                return false;
        for (; *p; p++)
                if (*p < '0' || *p > '9')
                        return false;
        return true;
}

static bool name_is_dri_node(const char *n) {
        return startswith(n, "renderD") || startswith(n, "card");
}

/* The character devices directly in dev_dir/sub whose names pass ok(), as "/dev/sub/name". */
static int add_nodes(const char *dev_dir, const char *sub, bool (*ok)(const char *), GpuDevices *g) {
        _cleanup_free_ char *dir = strjoin(dev_dir, sub ? "/" : "", strempty(sub));
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        while ((errno = 0, de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.' || (ok && !ok(de->d_name)))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISCHR(st.st_mode))
                        continue;
                char *host = strjoin(dir, "/", de->d_name);
                char *in = strjoin("/dev/", sub ? sub : "", sub ? "/" : "", de->d_name);
                if (!host || !in) {
                        free(host);
                        free(in);
                        r = -ENOMEM;
                        break;
                }
                if ((r = strv_push(&g->host_nodes, host)) < 0 || (r = strv_push(&g->nodes, in)) < 0)
                        break;
        }
        if (r == 0 && errno > 0)
                r = -errno;
        closedir(d);
        return r;
}

int gpu_find_nodes(const char *dev_dir, GpuDevices *ret) {
        GpuDevices g = {};
        int r;

        if ((r = add_nodes(dev_dir, "dri", name_is_dri_node, &g)) < 0 ||
            (r = add_nodes(dev_dir, NULL, name_is_nvidia_node, &g)) < 0 ||
            (r = add_nodes(dev_dir, "nvidia-caps", NULL, &g)) < 0) {
                gpu_devices_done(&g);
                return r;
        }
        /* the same order on every start; both lists sorted alike since nodes = "/dev" + host - dev_dir */
        strv_sort(g.nodes);
        strv_sort(g.host_nodes);
        *ret = g;
        return 0;
}

/* Base names the NVIDIA driver's user space ships under, before ".so". */
static const char *const nvidia_libraries[] = {
        "libcuda", "libcudadebugger", "libnvcuvid", "libnvoptix", "libGLX_nvidia", "libEGL_nvidia",
        "libGLESv2_nvidia", "libGLESv1_CM_nvidia", "libvdpau_nvidia", NULL,
};

bool gpu_library_is_nvidia(const char *name) {
        const char *p = startswith(name, "libnvidia-");

        if (p)
                return *p && *p != '.' && startswith(p + strcspn(p, "."), ".so");
        for (const char *const *l = nvidia_libraries; *l; l++) {
                p = startswith(name, *l);
                if (p && startswith(p, ".so"))
                        return true;
        }
        return false;
}

int gpu_libraries_from_ldconfig(const char *text, char ***ret) {
        _cleanup_strv_free_ char **lines = NULL, **out = NULL;
        int r;

        /* "\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1" */
        r = strv_split(&lines, strempty(text), "\n");
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                const char *s = *l + strspn(*l, " \t"), *arrow = strstr(s, " => ");
                size_t n = strcspn(s, " \t");
                _cleanup_free_ char *name = NULL;

                if (!arrow || n == 0)
                        continue;
                name = strndup(s, n);
                if (!name)
                        return -ENOMEM;
                if (!gpu_library_is_nvidia(name))
                        continue;
                const char *path = arrow + 4;
                if (path[0] != '/' || strv_contains(out, path))
                        continue;
                r = strv_extend(&out, path);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int run_capture(const char *program, char **ret) {
        posix_spawn_file_actions_t fa;
        int pipefd[2], status, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        r = posix_spawnp(&pid, program, &fa, NULL, (char *[]) { (char *) program, (char *) "-p", NULL }, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return -r;
        }
        /* a linker cache of a few thousand lines; 16 MiB is far beyond any */
        r = read_fd_bounded(pipefd[0], 16U * 1024U * 1024U, ret, NULL);
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                *ret = mfree(*ret);
                return -EIO;
        }
        return r;
}

int gpu_find_libraries(GpuDevices *g, const char *ldconfig) {
        static const char *const data_files[] = {
                "/usr/share/vulkan/icd.d/nvidia_icd.json",
                "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
                "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
                "/usr/bin/nvidia-smi",
                NULL,
        };
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **libs = NULL;
        bool nvidia = false;
        int r;

        STRV_FOREACH(n, g->nodes)
                if (startswith(*n, "/dev/nvidia"))
                        nvidia = true;
        if (!nvidia)
                return 0;

        r = run_capture(ldconfig, &text);
        if (r < 0)
                return r;
        r = gpu_libraries_from_ldconfig(text, &libs);
        if (r < 0)
                return r;
        for (const char *const *p = data_files; *p; p++)
                if (access(*p, F_OK) >= 0 && (r = strv_extend(&libs, *p)) < 0)
                        return r;
        return strv_extend_strv(&g->libs, libs);
}

int gpu_nspawn_settings_write(const GpuDevices *g, FILE *f) {
        if (!g->nodes && !g->libs)
                return 0;
        for (size_t i = 0; g->nodes && g->nodes[i]; i++)
                if (!g->host_nodes[i] || !unit_value_is_safe(g->host_nodes[i]) || strchr(g->host_nodes[i], ':') ||
                    strchr(g->nodes[i], ':'))
                        return -EINVAL;
        STRV_FOREACH(l, g->libs)
                if (!unit_value_is_safe(*l) || strchr(*l, ':'))
                        return -EINVAL;

        fputs("\n# [User] GPU=yes: the host's graphics devices and driver libraries\n[Files]\n", f);
        for (size_t i = 0; g->nodes && g->nodes[i]; i++)
                fprintf(f, "Bind=%s:%s\n", g->host_nodes[i], g->nodes[i]);
        STRV_FOREACH(l, g->libs)
                fprintf(f, "BindReadOnly=%s\n", *l);
        return ferror(f) ? -EIO : 0;
}
