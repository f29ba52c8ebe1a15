# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by tests/package/test-*.sh: the e2e harness plus building the Debian package from a copy of the
# source tree.
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

SOURCE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

package_require() {
        e2e_require
        command -v dpkg-buildpackage >/dev/null || e2e_skip "needs dpkg-buildpackage (apt-get install dpkg-dev)"
        command -v dh >/dev/null || e2e_skip "needs debhelper (apt-get install debhelper)"
}

# package_copy_source DIR: the source tree without build directories, version control or build products
# of an earlier dpkg-buildpackage, as DIR/machinespawn-VERSION.
package_copy_source() {
        local dir=$1/machinespawn-src
        mkdir -p "$dir"
        tar -C "$SOURCE_ROOT" --exclude=./.git --exclude='./build*' --exclude='./obj-*' \
                --exclude=./debian/.debhelper --exclude=./debian/machinespawn --exclude=./debian/tmp \
                --exclude=./debian/files --exclude=./debian/debhelper-build-stamp \
                --exclude='./debian/*.substvars' --exclude='./debian/*.debhelper*' -cf - . | tar -C "$dir" -xf -
        echo "$dir"
}

# package_build DIR [dpkg-buildpackage args...]: builds from a copy of the source in DIR; the .deb and
# .changes land in DIR. Prints the build log on failure.
package_build() {
        local dir=$1 src
        shift
        src=$(package_copy_source "$dir")
        if ! (cd "$src" && dpkg-buildpackage -us -uc "$@") >"$dir/build.log" 2>&1; then
                tail -n 60 "$dir/build.log" >&2
                echo "dpkg-buildpackage failed" >&2
                return 1
        fi
        rm -rf "$src"
}

# package_lintian CHANGES: lintian on the .changes (source and binaries); fails on any error or warning.
package_lintian() {
        local out rc
        out=$(lintian --fail-on error,warning --pedantic --info "$@" 2>&1)
        rc=$?
        echo "$out" | grep -v "running with root privileges"
        return $rc
}

# package_build_in RELEASE DIR: the binary package built (without its tests) in a fresh RELEASE root that
# gets the build dependencies debian/control names (apt-get build-dep, through $E2E_PROXY when set): a
# package for RELEASE's libraries. The .deb lands in DIR.
package_build_in() {
        local release=$1 dir=$2 tree root src
        tree=$(e2e_root_tree "$release" build-essential debhelper lintian) || exit $?
        root=$dir/root-$release
        cp -a --reflink=auto "$tree" "$root" || return 1
        if [ -n "${E2E_PROXY:-}" ]; then
                echo "Acquire::http::Proxy \"$E2E_PROXY\";" >"$root/etc/apt/apt.conf.d/00e2e-proxy"
        fi
        src=$(package_copy_source "$root/build")
        mv "$src" "$root/build/machinespawn"
        if ! e2e_run_in "$root" --chdir=/build/machinespawn --setenv=DEB_BUILD_OPTIONS=nocheck \
                --setenv=DEB_BUILD_PROFILES=nocheck --setenv=DEBIAN_FRONTEND=noninteractive sh -c \
                'apt-get update -qq && apt-get build-dep -y -qq -P nocheck . >/dev/null &&
                 dpkg-buildpackage -us -uc -b' >"$dir/build-$release.log" 2>&1; then
                tail -n 60 "$dir/build-$release.log" >&2
                echo "dpkg-buildpackage in $release failed" >&2
                return 1
        fi
        mv "$root"/build/machinespawn_*.deb "$dir/"
        rm -rf "$root"
}
