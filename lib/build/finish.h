/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bootstrap.h"

/* All of these work inside the tree through chase.h only (links followed inside the tree, never out of
 * it; FIFOs, devices, hard links replaced, never written through). On failure *ret_failed (optional) names
 * the path inside the tree that was refused; chase_strerror() says why. */

/* Makes a fresh bootstrap fit to be a shared base: no machine-id, no downloaded packages or package
 * lists, no build-time apt configuration (a proxy, for one). */
int base_tidy(const char *root, const char **ret_failed);

/* The per-machine part, never baked into the cache: host name, an empty machine-id (each machine makes its
 * own on first boot), sources.list with the release's updates and security suites, LANG=C.UTF-8, and the
 * apt proxy only when keep_proxy is given. */
int machine_finish(const char *root, const BootstrapPlan *p, const char *keep_proxy, const char **ret_failed);

/* For a machine unpacked from an image: only what is the machine's own, host name and machine-id. */
int machine_finish_image(const char *root, const char *hostname, const char **ret_failed);
