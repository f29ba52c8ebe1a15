#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The built package on fresh bookworm and trixie roots booted with systemd: apt installs it (dependencies
# from the Debian mirror through apt-cacher-ng), a machine declared in /etc/machinespawn starts with
# systemctl and machinectl lists it, machinespawn check names a missing dependency's package, and
# apt-get purge removes the package and leaves the machine alone.
# MACHINESPAWN_PACKAGE_RELEASES picks the releases (default: bookworm trixie).
. "$(dirname "$0")/common.sh"
package_require
e2e_workdir
trap 'e2e_acng_stop; rm -rf "$work"' EXIT
e2e_acng_start "$work" 3143

rc=0
host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
for release in ${MACHINESPAWN_PACKAGE_RELEASES:-bookworm trixie}; do
        echo "---- $release"
        # A package links the libraries of the release it is built on: build on this host for its own
        # release, in a fresh root of the release otherwise.
        mkdir "$work/deb-$release"
        if [ "$release" = "$host" ]; then
                DEB_BUILD_OPTIONS=nocheck package_build "$work/deb-$release" -b || exit 1
        else
                package_build_in "$release" "$work/deb-$release" || exit 1
        fi
        deb=$(ls "$work/deb-$release"/machinespawn_*.deb)
        tree=$(e2e_root_tree "$release" systemd systemd-sysv dbus) || exit $?
        mkdir "$work/$release"
        e2e_prepare_root "$work/$release" "$tree"
        cp "$deb" "$work/$release/root/e2e/machinespawn.deb"
        e2e_boot "$work/$release" "$(dirname "$0")/scenario-install.sh" || rc=$((rc + 1))
        rm -rf "$work/$release"
done
exit $rc
