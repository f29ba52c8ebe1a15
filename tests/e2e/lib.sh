# SPDX-License-Identifier: LGPL-2.1-or-later
# End-to-end test harness: boots a real Debian tree with real systemd under systemd-nspawn, with this build
# installed into it, runs a scenario script inside as a oneshot unit and reports its result.
# See DEVELOPERS.md. Sourced by tests/e2e/test-*.sh.

set -u

E2E_CACHE=${MACHINESPAWN_E2E_CACHE:-/var/cache/machinespawn-e2e}
E2E_RELEASE=${MACHINESPAWN_E2E_RELEASE:-bookworm}
E2E_MIRROR=${MACHINESPAWN_E2E_MIRROR:-http://deb.debian.org/debian}
# What the test host needs: systemd as PID 1, nested nspawn, the libraries our binaries link, bootstrap tools,
# and an X server and a sound server with their clients for [User] Display=/Audio= (machines copied from
# this tree have the clients too).
E2E_PACKAGES="systemd systemd-sysv dbus systemd-container iproute2 ca-certificates debootstrap \
distro-info-data debian-archive-keyring libcurl4 libarchive13 libiniparser1 libsystemd0 zstd xz-utils \
xvfb xauth x11-utils pulseaudio pulseaudio-utils sudo"

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

# Prints the path of a cached, bootable test host tree, building it on first use (needs the Debian mirror).
e2e_host_tree() {
        local stamp tree tmp tool
        stamp=$(echo "$E2E_RELEASE $E2E_PACKAGES" | sha256sum | cut -c1-12)
        tree="$E2E_CACHE/host-$E2E_RELEASE-$stamp"
        if [ -d "$tree" ]; then
                echo "$tree"
                return 0
        fi
        mkdir -p "$E2E_CACHE"
        # partial builds of earlier runs, and trees for package lists of the past
        rm -rf "$E2E_CACHE"/.tmp-host-* "$E2E_CACHE"/host-*-* 2>/dev/null
        tmp=$(mktemp -d "$E2E_CACHE/.tmp-host-XXXXXX")
        e2e_log "building test host tree $tree (once)"
        if command -v mmdebstrap >/dev/null; then
                tool=(mmdebstrap --quiet --variant=minbase --include="${E2E_PACKAGES// /,}" "$E2E_RELEASE" "$tmp" "$E2E_MIRROR")
        else
                rmdir "$tmp"
                tool=(debootstrap --variant=minbase --include="${E2E_PACKAGES// /,}" "$E2E_RELEASE" "$tmp" "$E2E_MIRROR")
        fi
        if ! "${tool[@]}" >"$E2E_CACHE/host-build.log" 2>&1; then
                tail -n 20 "$E2E_CACHE/host-build.log" >&2
                rm -rf "$tmp"
                e2e_skip "cannot build the test host tree (no network to $E2E_MIRROR?)"
        fi
        # A fixed machine-id would make journald of parallel hosts collide; let each boot make its own.
        : >"$tmp/etc/machine-id"
        echo "e2e-host" >"$tmp/etc/hostname"
        mv -T "$tmp" "$tree"
        echo "$tree"
}

# e2e_prepare_host WORKDIR: a private copy of the host tree with this build installed, ready to boot.
e2e_prepare_host() {
        local work=$1 tree
        tree=$(e2e_host_tree) || exit $?
        cp -a --reflink=auto "$tree" "$work/root" || exit 1
        DESTDIR="$work/root" meson install -C "$MACHINESPAWN_BUILD_ROOT" --quiet --no-rebuild >/dev/null ||
                { echo "meson install into the test host failed" >&2; exit 1; }
        mkdir -p "$work/root/e2e"
        cp "$(dirname "${BASH_SOURCE[0]}")/inside.sh" "$work/root/e2e/inside.sh"
        cat >"$work/root/etc/systemd/system/e2e-scenario.service" <<'UNIT'
[Unit]
Description=machinespawn end-to-end scenario
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash -c 'bash /e2e/scenario.sh >>/e2e/log 2>&1; echo $? >/e2e/result'
# Power off when the scenario is done; not when a scenario rebooted the host on purpose.
ExecStopPost=/bin/sh -c 'test ! -f /e2e/result || systemctl poweroff --no-block'
UNIT
        mkdir -p "$work/root/etc/systemd/system/multi-user.target.wants"
        ln -sf ../e2e-scenario.service "$work/root/etc/systemd/system/multi-user.target.wants/e2e-scenario.service"
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
        cat >"$work/root/etc/systemd/system/e2e-scenario.service" <<'UNIT'
[Unit]
Description=machinespawn end-to-end scenario
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/bash -c 'bash /e2e/scenario.sh >>/e2e/log 2>&1; echo $? >/e2e/result'
ExecStopPost=/bin/sh -c 'test ! -f /e2e/result || systemctl poweroff --no-block'
UNIT
        ln -sf ../e2e-scenario.service "$work/root/etc/systemd/system/multi-user.target.wants/e2e-scenario.service"
}

# e2e_run_in ROOT COMMAND...: runs COMMAND in ROOT without booting it (the host's network, unregistered).
e2e_run_in() {
        local root=$1
        shift
        systemd-nspawn --quiet --register=no --keep-unit --directory="$root" --machine="e2e-run-$$" "$@" </dev/null
}
