#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what machinespawn needs from Debian, builds it and installs it (prefix /usr), then lets systemd
# pick up the generator. Run as root from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."

packages() { grep -hv '^#' "$@" | xargs; }

if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: run as root (it installs packages and the build)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2046
apt-get install -y -qq $(packages tools/build-deps.txt tools/runtime-deps.txt) >/dev/null
if [ -d build ]; then
        meson setup build --prefix=/usr --buildtype=release --reconfigure >/dev/null
else
        meson setup build --prefix=/usr --buildtype=release >/dev/null
fi
meson compile -C build
meson install -C build --quiet
systemd-tmpfiles --create machinespawn.conf 2>/dev/null || true
if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
fi
echo "machinespawn installed; declare machines in /etc/machinespawn/NAME.mspawn (see man mspawn)."
