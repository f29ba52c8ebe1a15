# SPDX-License-Identifier: LGPL-2.1-or-later
# End-to-end test harness: boots a real Debian tree with real systemd under systemd-nspawn, with this build
# installed into it, runs a scenario script inside as a oneshot unit and reports its result.
# See DEVELOPERS.md. Sourced by tests/e2e/test-*.sh.

set -u

E2E_CACHE=${MACHINESPAWN_E2E_CACHE:-/var/cache/machinespawn-e2e}
# The test host's Debian release (bookworm: systemd 252, trixie: 257, sid: the newest); meson runs each
# scenario once per host release it is registered for.
E2E_RELEASE=${MACHINESPAWN_E2E_RELEASE:-bookworm}
# The release of the machines the scenarios declare with a tree made beforehand: the same on every host,
# so that what differs between runs is the host's systemd.
E2E_MACHINE_RELEASE=bookworm
E2E_MIRROR=${MACHINESPAWN_E2E_MIRROR:-http://deb.debian.org/debian}
E2E_SOURCE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# e2e_host_packages RELEASE: what a test host needs: systemd as PID 1, nested nspawn, the libraries our
# binaries link (their package names changed with the 64-bit time_t transition and iniparser 4.2), bootstrap
# tools, an X server and a sound server with their clients for [User] Display=/Audio= (machines copied
# from such a tree have the clients too), nft to read port forwarding rules, polkit and pkexec for unprivileged entering,
# and a registry server for Image=docker://.
e2e_host_packages() {
        local libs
        case $1 in
        bookworm) libs="libcurl4 libarchive13 libiniparser1" ;;
        *) libs="libcurl4t64 libarchive13t64 libiniparser4" ;;
        esac
        echo "systemd systemd-sysv dbus systemd-container iproute2 ca-certificates debootstrap \
distro-info-data debian-archive-keyring $libs libsystemd0 zstd xz-utils \
xvfb xauth x11-utils pulseaudio pulseaudio-utils sudo nftables polkitd pkexec docker-registry curl libjson-c5"
}
E2E_PACKAGES=$(e2e_host_packages "$E2E_RELEASE")

e2e_skip() {
        echo "SKIP: $*"
        exit 77
}

e2e_log() {
        echo "e2e: $*" >&2
}

e2e_require() {
        [ "$(id -u)" = 0 ] || e2e_skip "needs root (systemd-nspawn)"
        command -v systemd-nspawn >/dev/null || e2e_skip "needs systemd-nspawn (apt-get install systemd-container)"
        [ -n "${MACHINESPAWN_BUILD_ROOT:-}" ] || e2e_skip "MACHINESPAWN_BUILD_ROOT not set (run through meson test)"
}

# e2e_tree KIND RELEASE PACKAGES: prints the path of a cached Debian tree, building it on first use (needs
# the Debian mirror). Trees of other releases and kinds stay; those of this kind and release made for another
# package list go.
e2e_tree() {
        local kind=$1 release=$2 packages=$3 stamp tree tmp tool log
        stamp=$(echo "$release $packages" | sha256sum | cut -c1-12)
        tree="$E2E_CACHE/$kind-$release-$stamp"
        if [ -d "$tree" ]; then
                echo "$tree"
                return 0
        fi
        mkdir -p "$E2E_CACHE"
        # partial builds of earlier runs, and trees of this release for package lists of the past
        rm -rf "$E2E_CACHE/.tmp-$kind-$release-"* "$E2E_CACHE/$kind-$release-"* 2>/dev/null
        tmp=$(mktemp -d "$E2E_CACHE/.tmp-$kind-$release-XXXXXX")
        log="$E2E_CACHE/$kind-$release-build.log"
        e2e_log "building the $release $kind tree $tree (once)"
        if command -v mmdebstrap >/dev/null; then
                # The mirror may serve an unstable whose Release file is past its Valid-Until: the
                # signature is still checked.
                tool=(mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"'
                      --include="${packages// /,}" "$release" "$tmp" "$E2E_MIRROR")
        else
                rmdir "$tmp"
                tool=(debootstrap --variant=minbase --include="${packages// /,}" "$release" "$tmp" "$E2E_MIRROR")
        fi
        if ! "${tool[@]}" >"$log" 2>&1; then
                tail -n 20 "$log" >&2
                rm -rf "$tmp"
                e2e_skip "cannot build the $release $kind tree (no network to $E2E_MIRROR?)"
        fi
        # A fixed machine-id would make journald of parallel hosts collide; let each boot make its own.
        : >"$tmp/etc/machine-id"
        echo "e2e-host" >"$tmp/etc/hostname"
        mv -T "$tmp" "$tree"
        echo "$tree"
}

# Prints the path of the cached, bootable test host tree of $E2E_RELEASE.
e2e_host_tree() {
        e2e_tree host "$E2E_RELEASE" "$E2E_PACKAGES"
}

# Prints the path of a pristine tree to copy for a declared machine: a test host tree of
# $E2E_MACHINE_RELEASE (it boots, and has what [User] Display=/Audio= need).
e2e_machine_tree() {
        e2e_tree host "$E2E_MACHINE_RELEASE" "$(e2e_host_packages "$E2E_MACHINE_RELEASE")"
}

# The source files, for the hash that names a build: git's list where there is one.
e2e_source_hash() {
        (
                cd "$E2E_SOURCE_ROOT" || exit 1
                if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
                        git ls-files -z --cached --others --exclude-standard
                else
                        find . -name .git -prune -o -type d -exec test -e '{}/meson-private' ';' -prune \
                                -o -type f -print0
                fi | LC_ALL=C sort -z | xargs -0 sha256sum 2>/dev/null | sha256sum | cut -c1-12
        )
}

# e2e_release_install: prints a directory with this source tree built for $E2E_RELEASE and installed into
# it (meson install --destdir). Built once per release and source hash in a build root of that release
# (its libraries, its systemd.pc), with systemd-nspawn; the build root is cached like the host trees.
e2e_release_install() {
        local packages root hash out tmp log
        packages="$(grep -hv '^#' "$E2E_SOURCE_ROOT"/tools/build-deps.txt | xargs) libcmocka-dev"
        # Debian 13 moved systemd.pc (the unit and generator directories) into systemd-dev
        [ "$E2E_RELEASE" = bookworm ] || packages="$packages systemd-dev"
        root=$(e2e_tree build "$E2E_RELEASE" "$packages") || exit $?
        hash=$(e2e_source_hash) || exit 1
        out="$E2E_CACHE/install-$E2E_RELEASE-$hash"
        if [ -d "$out" ]; then
                echo "$out"
                return 0
        fi
        rm -rf "$E2E_CACHE/.tmp-install-$E2E_RELEASE-"* "$E2E_CACHE/install-$E2E_RELEASE-"* 2>/dev/null
        tmp=$(mktemp -d "$E2E_CACHE/.tmp-install-$E2E_RELEASE-XXXXXX")
        mkdir "$tmp/build" "$tmp/dest"
        log="$E2E_CACHE/install-$E2E_RELEASE-build.log"
        e2e_log "building machinespawn for $E2E_RELEASE in $root"
        # The build root stays pristine: the build and its result are bind mounts, the source read-only.
        if ! systemd-nspawn --quiet --register=no --keep-unit --directory="$root" --private-network \
                --bind-ro="$E2E_SOURCE_ROOT:/src" --bind="$tmp/build:/build" --bind="$tmp/dest:/dest" \
                /bin/sh -ec 'meson setup /build /src --prefix=/usr
                        meson compile -C /build
                        DESTDIR=/dest meson install -C /build --no-rebuild --quiet' </dev/null >"$log" 2>&1; then
                tail -n 30 "$log" >&2
                rm -rf "$tmp"
                echo "cannot build machinespawn for $E2E_RELEASE (log: $log)" >&2
                exit 1
        fi
        mv -T "$tmp/dest" "$out"
        rm -rf "$tmp"
        echo "$out"
}

# e2e_install_build ROOT: installs this build into ROOT: the meson build directory's own when this host is of
# the test host's release, else one built for that release.
e2e_install_build() {
        local root=$1 native= dest
        native=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        if [ "$native" = "$E2E_RELEASE" ]; then
                DESTDIR="$root" meson install -C "$MACHINESPAWN_BUILD_ROOT" --quiet --no-rebuild >/dev/null ||
                        { echo "meson install into the test host failed" >&2; exit 1; }
        else
                dest=$(e2e_release_install) || exit 1
                cp -a "$dest/." "$root/" || { echo "installing the $E2E_RELEASE build failed" >&2; exit 1; }
        fi
}

# e2e_prepare_host WORKDIR: a private copy of the host tree with this build installed, ready to boot.
e2e_prepare_host() {
        local work=$1 tree
        tree=$(e2e_host_tree) || exit $?
        cp -a --reflink=auto "$tree" "$work/root" || exit 1
        e2e_install_build "$work/root"
        mkdir -p "$work/root/e2e"
        cp "$(dirname "${BASH_SOURCE[0]}")/inside.sh" "$work/root/e2e/inside.sh"
        echo "$E2E_RELEASE" >"$work/root/e2e/release"
        e2e_scenario_unit "$work/root"
}

# e2e_scenario_unit ROOT: the oneshot unit that runs /e2e/scenario.sh at boot, records its exit status in
# /e2e/result and powers off.
e2e_scenario_unit() {
        local root=$1
        mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
        cat >"$root/etc/systemd/system/e2e-scenario.service" <<'UNIT'
[Unit]
Description=machinespawn end-to-end scenario
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash -c 'bash /e2e/scenario.sh >>/e2e/log 2>&1; echo $? >/e2e/result'
# Power off when the scenario is done; not when a scenario rebooted the host on purpose.
ExecStopPost=/bin/sh -c 'test ! -f /e2e/result || systemctl poweroff --no-block'
UNIT
        ln -sf ../e2e-scenario.service "$root/etc/systemd/system/multi-user.target.wants/e2e-scenario.service"
}

# e2e_boot WORKDIR SCENARIO [NSPAWN-ARGS...]: boots the host, runs SCENARIO inside, prints its log,
# returns its exit status.
e2e_boot() {
        local work=$1 scenario=$2 rc
        shift 2
        cp "$scenario" "$work/root/e2e/scenario.sh"
        rm -f "$work/root/e2e/result" "$work/root/e2e/log"
        # Current systemd (sid's) refuses to run on the legacy or hybrid cgroup layout some hosts have:
        # give the test host the unified hierarchy, in a mount namespace of its own.
        local cg=()
        if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] &&
                [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                cg=(unshare --mount --propagation private sh -c \
                        'mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && exec "$@"' sh)
        fi
        # A scenario may reboot the test host (systemd-nspawn exits 133 then); boot it again, up to 3 times.
        for _ in 1 2 3; do
                timeout --kill-after=10 "${MACHINESPAWN_E2E_TIMEOUT:-1200}" "${cg[@]}" \
                        systemd-nspawn --quiet --boot --directory="$work/root" --register=no --keep-unit \
                        --capability=all --machine="e2e-$$" "$@" >>"$work/console.log" 2>&1 </dev/null
                rc=$?
                [ $rc = 133 ] && [ ! -f "$work/root/e2e/result" ] || break
        done
        if [ -f "$work/root/e2e/log" ]; then
                cat "$work/root/e2e/log"
        fi
        if [ ! -f "$work/root/e2e/result" ]; then
                echo "the scenario did not finish (systemd-nspawn exited $rc); console:" >&2
                tail -n 40 "$work/console.log" >&2
                return 1
        fi
        return "$(cat "$work/root/e2e/result")"
}

# Sets $work to a fresh directory that is removed when the test exits.
e2e_workdir() {
        work=$(mktemp -d "${TMPDIR:-/var/tmp}/mspawn-e2e-XXXXXX") || exit 1
        # shellcheck disable=SC2064
        trap "rm -rf '$work'" EXIT
}

# e2e_netns_start: opt-in for a scenario that changes netfilter (port forwarding): the test host then boots in
# a network namespace of its own instead of this one, with loopback up and a veth pair e2e0/e2e1 inside it,
# e2e0 holding 192.0.2.1/24 (TEST-NET-1, routed nowhere): an address of its own that is not loopback.
# Sets E2E_NETNS_ARGS for e2e_boot; e2e_netns_stop removes the namespace.
e2e_netns_start() {
        local ns="mspawn-e2e-$$"
        command -v ip >/dev/null || e2e_skip "needs ip (apt-get install iproute2)"
        ip netns add "$ns" || e2e_skip "cannot create a network namespace (ip netns add)"
        E2E_NETNS=$ns
        if ! { ip -n "$ns" link set lo up && ip -n "$ns" link add e2e0 type veth peer name e2e1 &&
               ip -n "$ns" addr add 192.0.2.1/24 dev e2e0 && ip -n "$ns" link set e2e0 up &&
               ip -n "$ns" link set e2e1 up; }; then
                e2e_netns_stop
                echo "cannot set up the network namespace $ns" >&2
                exit 1
        fi
        E2E_NETNS_ARGS=(--network-namespace-path="/run/netns/$ns")
}

e2e_netns_stop() {
        [ -n "${E2E_NETNS:-}" ] && ip netns delete "$E2E_NETNS"
        E2E_NETNS=
}

# e2e_root_tree RELEASE [PACKAGE...]: prints the path of a cached minbase tree of RELEASE with the
# packages, built on first use with mmdebstrap from the Debian mirror (through $E2E_PROXY when set).
# Kept apart from the test host trees; a tree nobody used for 30 days is removed.
e2e_root_tree() {
        local release=$1 stamp tree tmp include aptopt=()
        shift
        include=$(echo "$*" | tr ' ' ',')
        stamp=$(echo "$release $include" | sha256sum | cut -c1-12)
        tree="$E2E_CACHE/root-$release-$stamp"
        if [ -d "$tree" ]; then
                touch "$tree"
                echo "$tree"
                return 0
        fi
        command -v mmdebstrap >/dev/null || e2e_skip "needs mmdebstrap (apt-get install mmdebstrap)"
        mkdir -p "$E2E_CACHE"
        find "$E2E_CACHE" -mindepth 1 -maxdepth 1 \( -name '.tmp-root-*' -o -name 'root-*' -mtime +30 \) \
                -exec rm -rf {} + 2>/dev/null
        tmp=$(mktemp -d "$E2E_CACHE/.tmp-root-XXXXXX")
        [ -n "${E2E_PROXY:-}" ] && aptopt=(--aptopt="Acquire::http::Proxy \"$E2E_PROXY\"")
        e2e_log "building $release tree $tree (once)"
        if ! mmdebstrap --quiet --variant=minbase ${include:+--include="$include"} "${aptopt[@]}" \
                "$release" "$tmp" "$E2E_MIRROR" >"$E2E_CACHE/root-build.log" 2>&1; then
                tail -n 20 "$E2E_CACHE/root-build.log" >&2
                rm -rf "$tmp"
                e2e_skip "cannot build a $release tree (no network to $E2E_MIRROR?)"
        fi
        rm -f "$tmp/etc/apt/apt.conf.d/99mmdebstrap"
        : >"$tmp/etc/machine-id"
        mv -T "$tmp" "$tree"
        echo "$tree"
}

# e2e_acng_start WORKDIR [PORT]: a private apt-cacher-ng on 127.0.0.1:PORT (3142; plain forwarding, the
# cache kept in $E2E_CACHE/acng, or acng-PORT for another port so that two never share one), in the
# foreground of a background job; sets E2E_PROXY. e2e_acng_stop ends it.
e2e_acng_start() {
        local dir=$1/acng port=${2:-3142} cache=$E2E_CACHE/acng
        [ "$port" = 3142 ] || cache=$E2E_CACHE/acng-$port
        command -v apt-cacher-ng >/dev/null || [ -x /usr/sbin/apt-cacher-ng ] ||
                e2e_skip "needs apt-cacher-ng (apt-get install apt-cacher-ng)"
        if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
                e2e_skip "127.0.0.1:$port is taken by another process; the test runs its own apt-cacher-ng there"
        fi
        mkdir -p "$cache/cache" "$dir"
        chown -R apt-cacher-ng "$cache" "$dir" 2>/dev/null
        cat >"$dir/acng.conf" <<CONF
CacheDir: $cache/cache
LogDir: $dir
SupportDir: /usr/lib/apt-cacher-ng
Port: $port
BindAddress: 127.0.0.1
ForeGround: 1
SocketPath: $dir/socket
PidFile: $dir/pid
CONF
        /usr/sbin/apt-cacher-ng -c "$dir" >"$dir/stdout" 2>&1 &
        E2E_ACNG_PID=$!
        for _ in $(seq 50); do
                (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
                sleep 0.1
        done
        E2E_PROXY=http://127.0.0.1:$port
}

e2e_acng_stop() {
        if [ -n "${E2E_ACNG_PID:-}" ]; then
                kill "$E2E_ACNG_PID" 2>/dev/null
                wait "$E2E_ACNG_PID" 2>/dev/null
        fi
        E2E_ACNG_PID=
}

# e2e_prepare_root WORKDIR TREE: a private copy of TREE (e2e_root_tree with systemd) as $WORKDIR/root,
# ready for e2e_boot, with nothing of this build in it; apt goes through $E2E_PROXY when set.
e2e_prepare_root() {
        local work=$1 tree=$2
        cp -a --reflink=auto "$tree" "$work/root" || exit 1
        mkdir -p "$work/root/e2e" "$work/root/etc/systemd/system/multi-user.target.wants"
        cp "$(dirname "${BASH_SOURCE[0]}")/inside.sh" "$work/root/e2e/inside.sh"
        if [ -n "${E2E_PROXY:-}" ]; then
                echo "Acquire::http::Proxy \"$E2E_PROXY\";" >"$work/root/etc/apt/apt.conf.d/00e2e-proxy"
        fi
        e2e_scenario_unit "$work/root"
}

# e2e_run_in ROOT COMMAND...: runs COMMAND in ROOT without booting it (the host's network, unregistered).
e2e_run_in() {
        local root=$1
        shift
        systemd-nspawn --quiet --register=no --keep-unit --directory="$root" --machine="e2e-run-$$" "$@" </dev/null
}
