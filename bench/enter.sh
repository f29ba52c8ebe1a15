#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "machinespawn enter NAME -- true" against "distrobox enter NAME -- true" on one booted test host (systemd as
# PID 1, as enter needs), in the same run, medians of 20, with the nearest baselines beside them:
# "systemd-run -M NAME --wait --pipe true" (what enter runs as root, and for the [User] user through pkexec)
# and "machinectl shell USER@NAME /bin/true". distrobox runs rootful podman (vfs storage, cgroupfs) through
# sudo, as its --root has it, as the [User] user, on an image imported from a minbase tree with what
# distrobox-init needs (no registry is reachable here). Target: enter <= 1/4 of distrobox's time.
# The test host with podman and distrobox is built once (the Debian mirror) and cached beside the e2e trees.
# Usage: bench/enter.sh [BUILD-DIR]   (root)
set -eu
export MACHINESPAWN_BUILD_ROOT=$(realpath "${1:-build}")
export MACHINESPAWN_E2E_DISTROBOX=1
out=$("$(dirname "$0")/../tests/e2e/test-desktop.sh" 2>&1) || { echo "$out" | grep -E -A12 'FAIL|SKIP' >&2; }
echo "$out" | grep -E 'bench:' | sed 's/^ *//'
# the figure of each line: "(bench: WHAT: median N ms of 20...)"
ms() { echo "$out" | grep -F "(bench: $1: median" | tail -n 1 | sed -E 's/.*: median ([0-9]+) ms.*/\1/'; }
dbx=$(ms "distrobox enter box -- true")
[ -n "$dbx" ] || { echo "bench/enter.sh: distrobox was not measured" >&2; exit 1; }
! echo "$out" | grep -qE '^FAIL.*distrobox' || { echo "bench/enter.sh: distrobox did not work" >&2; exit 1; }
for what in "machinespawn enter desk -- true" "machinespawn enter desk -- true as alice"; do
        t=$(ms "$what")
        ratio=$(echo "scale=2; $t / $dbx" | bc -l)
        ok=$(echo "$t * 4 <= $dbx" | bc -l)
        printf '%s / distrobox enter: %s ms / %s ms = %s (target <= 0.25: %s)\n' "$what" "$t" "$dbx" "$ratio" \
                "$([ "$ok" = 1 ] && echo met || echo MISSED)"
done
