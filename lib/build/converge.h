/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "bootstrap.h"
#include "diag.h"
#include "global-config.h"
#include "machine-build.h"
#include "machine-config.h"
#include "origin.h"

/* The record a build of c from plan p (NULL for an Image= machine) makes: no tree, created or hooks yet. */
int origin_wanted(const MachineConfig *c, const BootstrapPlan *p, Origin *ret);

/* Runs "/bin/sh -c COMMAND" in the stopped tree (systemd-nspawn --pipe, unregistered), with the package
 * proxy in http_proxy when there is one. Returns the command's exit status or -errno. */
int tree_run_command(const char *tree, const char *name, const char *proxy, const char *command);

/* Copy=SOURCE:DEST: the host file SOURCE (regular, at most 64 MiB) written to DEST in the tree, resolved
 * inside it, replacing what is there, owned by the owner of the tree's top. */
int tree_copy_in(const char *tree, const char *spec, Diagnostics *d);

/* Copy= and Run= entries that origin has not seen done, in that order, each recorded in origin and
 * written to origin_path as soon as it succeeded. */
int machine_run_hooks(const MachineConfig *c, const char *tree, const char *proxy, Origin *origin,
                      const char *origin_path, Diagnostics *d);

/* Brings the stopped machine in line with its .mspawn before it boots: packages added to Packages= are
 * installed (in the machine's apt, through the package proxy), removed ones reported; new or changed
 * Copy= and Run= run; RunOnStart= runs. A change that needs a new tree (Distribution=, Release=, Image=,
 * Architecture=, Variant=) fails with a message naming it and "machinespawn rebuild NAME", or, with
 * RebuildOnChange=yes, rebuilds. fresh: the machine was built just now; a failing Run= then removes it,
 * so that no machine is left that its hooks did not finish. */
int machine_converge(const MachineConfig *c, const GlobalConfig *g, const BuildOptions *o, bool fresh,
                     Diagnostics *d);
