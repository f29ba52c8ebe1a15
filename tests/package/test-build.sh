#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dpkg-buildpackage builds machinespawn_*.deb from a copy of the source tree on this host and in a fresh
# trixie root that gets its build dependencies from debian/control alone (apt-get build-dep), and lintian
# on either finds no error and no warning.
. "$(dirname "$0")/common.sh"
package_require
command -v lintian >/dev/null || e2e_skip "needs lintian (apt-get install lintian)"
e2e_workdir
trap 'e2e_acng_stop; rm -rf "$work"' EXIT
failed=0
result() {
        if [ "$1" = 0 ]; then echo "ok   $2"; else echo "FAIL $2"; failed=$((failed + 1)); fi
}

mkdir "$work/host"
package_build "$work/host"
result $? "dpkg-buildpackage on this host ($(. /etc/os-release; echo "$VERSION_CODENAME"))"
ls -l "$work"/host/*.deb 2>/dev/null
package_lintian "$work"/host/*.changes
result $? "lintian on this host's build"

e2e_acng_start "$work" 3143
tree=$(e2e_root_tree trixie build-essential debhelper lintian) || exit $?
cp -a --reflink=auto "$tree" "$work/trixie"
echo "Acquire::http::Proxy \"$E2E_PROXY\";" >"$work/trixie/etc/apt/apt.conf.d/00e2e-proxy"
src=$(package_copy_source "$work/trixie/build")
mv "$src" "$work/trixie/build/machinespawn"
e2e_run_in "$work/trixie" --chdir=/build/machinespawn sh -c \
        'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq . >/dev/null &&
         dpkg-buildpackage -us -uc' >"$work/trixie-build.log" 2>&1
rc=$?
[ $rc = 0 ] || tail -n 60 "$work/trixie-build.log"
result $rc "dpkg-buildpackage in a fresh trixie root, build dependencies from debian/control"
ls -l "$work"/trixie/build/*.deb 2>/dev/null
e2e_run_in "$work/trixie" --chdir=/build sh -c \
        'lintian --fail-on error,warning --pedantic --info *.changes >lintian.log 2>&1
         rc=$?; grep -v "running with root privileges" lintian.log; exit $rc'
result $? "lintian in trixie on trixie's build"
exit $failed
