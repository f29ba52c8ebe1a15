/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

/* [User] GPU=yes: what of the host's graphics hardware a machine gets.
 *
 * Device nodes are found when the machine starts (machinespawn-prepare): the render and card nodes in
 * /dev/dri, and, where the NVIDIA driver made them, /dev/nvidia[0-9]*, nvidiactl, nvidia-modeset,
 * nvidia-uvm, nvidia-uvm-tools and /dev/nvidia-caps/. Each is bound at the same path in the machine. The
 * cgroup device rules systemd needs are static (DeviceAllow= by device group, written by the generator),
 * since nodes come and go with drivers.
 *
 * The NVIDIA user-space driver has to match the host's kernel module exactly, so with NVIDIA nodes present
 * the host's own libraries are bound read-only at the same paths: found, as nvidia-container-toolkit finds
 * them, in the host's linker cache ("ldconfig -p"), by the library names the driver ships. */

typedef struct GpuDevices {
        char **nodes; /* "/dev/..." as the machine sees it; the host path is dev_dir + the rest */
        char **host_nodes; /* the same, on the host */
        char **libs;  /* host paths of driver libraries and their data files, read-only */
} GpuDevices;

void gpu_devices_done(GpuDevices *g);

/* Character devices under dev_dir as listed above, sorted. Anything else there (a regular file, a link)
 * is not a device to pass on and is skipped. */
int gpu_find_nodes(const char *dev_dir, GpuDevices *ret);

/* Whether a library base name ("libcuda.so.1") is part of the NVIDIA driver. */
bool gpu_library_is_nvidia(const char *name);

/* The NVIDIA driver libraries in "ldconfig -p" output: the paths of the lines whose name passes
 * gpu_library_is_nvidia(), each once, in order. Lines that do not parse are skipped. */
int gpu_libraries_from_ldconfig(const char *text, char ***ret);

/* Runs "LDCONFIG -p" (Paths.ldconfig: a stand-in for tests) and adds what it lists to g->libs, with the
 * driver's data files that exist (Vulkan ICD, EGL vendor). Only when g has an NVIDIA node. dev_dir is
 * Paths.dev_dir (tests make device nodes in a directory of their own). */
int gpu_find_libraries(GpuDevices *g, const char *ldconfig);

/* The nspawn settings: a [Files] section with a Bind= per node and a BindReadOnly= per library. Nothing
 * when g is empty. -EINVAL for a path systemd would read back differently. */
int gpu_nspawn_settings_write(const GpuDevices *g, FILE *f);
