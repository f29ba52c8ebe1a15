#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "machinespawn enter NAME -- true" on a running machine against the nearest baselines on the same machine in
# the same run: "systemd-run -M NAME --wait --pipe true" (what enter runs as root) and "machinectl shell
# USER@NAME /bin/true" (what it runs for the [User] user), and enter as that user; medians of 20, measured
# inside a booted test host (systemd as PID 1, as enter needs). distrobox is not measured: it needs a
# container image from a registry, and only the Debian archive is reachable where this runs; its published
# figure for "distrobox enter" is about 0.2 to 0.4 s. Usage: bench/enter.sh [BUILD-DIR]   (root)
set -eu
export MACHINESPAWN_BUILD_ROOT=$(realpath "${1:-build}")
"$(dirname "$0")/../tests/e2e/test-desktop.sh" | grep -E 'bench:|FAIL'
