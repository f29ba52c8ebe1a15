#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "machinespawn enter NAME -- true" on a running machine, median of 20, measured inside a booted test
# host (systemd as PID 1, as enter needs). Compare with Distrobox's published 0.40 s for
# "distrobox enter ... whoami". Usage: bench/enter.sh [BUILD-DIR]   (root)
set -eu
export MACHINESPAWN_BUILD_ROOT=$(realpath "${1:-build}")
"$(dirname "$0")/../tests/e2e/test-user.sh" | grep -E 'enter desk -- true|FAIL'
