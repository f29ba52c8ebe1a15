#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what machinespawn needs from Debian, builds it and installs it (prefix /usr), then lets systemd
# pick up the generator. Run as root from the source tree. Quiet while things work; a step that fails
# has its output printed and its exit status returned.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

packages() { grep -hv '^#' "$@" | xargs; }

log=$(mktemp "${TMPDIR:-/tmp}/machinespawn-setup-XXXXXX.log") || exit 1
trap 'rm -f "$log"' EXIT

# step DESCRIPTION COMMAND...: runs COMMAND with its output in the log; on failure prints the log and exits
# with COMMAND's status.
step() {
        local what=$1 rc
        shift
        "$@" >"$log" 2>&1
        rc=$?
        if [ $rc != 0 ]; then
                cat "$log" >&2
                echo "setup.sh: $what failed (exit status $rc): $*" >&2
                exit $rc
        fi
}

if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: run as root (it installs packages and the build)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
step "updating the package lists" apt-get update
# shellcheck disable=SC2046
step "installing the build and run-time dependencies" \
        apt-get install -y $(packages tools/build-deps.txt tools/runtime-deps.txt)
if [ -d build ]; then
        step "configuring the build" meson setup build --prefix=/usr --buildtype=release --reconfigure
else
        step "configuring the build" meson setup build --prefix=/usr --buildtype=release
fi
step "compiling" meson compile -C build
step "installing" meson install -C build --quiet
step "creating machinespawn's directories" systemd-tmpfiles --create machinespawn.conf
if [ -d /run/systemd/system ]; then
        step "reloading systemd" systemctl daemon-reload
fi
echo "machinespawn installed; declare machines in /etc/machinespawn/NAME.mspawn (see man mspawn)."
