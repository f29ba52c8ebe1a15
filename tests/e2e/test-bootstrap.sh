#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bootstrap on first start, on a real systemd with real debootstrap from the Debian mirror, through a real
# apt-cacher-ng on loopback that proxy detection must find: four releases reach a running container, a
# second machine of a kind comes from the cache, a build killed with SIGKILL is followed by a start that
# works, four machines of one kind started at once run one bootstrap, and removing a machine with a bind
# mount of a host directory inside leaves the host files alone.
. "$(dirname "$0")/lib.sh"
e2e_require
command -v apt-cacher-ng >/dev/null || [ -x /usr/sbin/apt-cacher-ng ] ||
        e2e_skip "needs apt-cacher-ng (apt-get install apt-cacher-ng)"

e2e_workdir
acng_pid=
cleanup() {
        [ -n "$acng_pid" ] && kill "$acng_pid" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

# apt-cacher-ng on 127.0.0.1:3142, plain forwarding (no remapping to other mirrors), foreground.
if (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null; then
        # On CI, the package's own daemon may have been started by its installation: ours replaces it.
        if [ "${CI:-}" = true ] && pgrep -x apt-cacher-ng >/dev/null; then
                pkill -x apt-cacher-ng
                for _ in $(seq 50); do
                        (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null || break
                        sleep 0.1
                done
        fi
        if (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null; then
                e2e_skip "127.0.0.1:3142 is taken by another process; the test runs its own apt-cacher-ng there"
        fi
fi
acng=$E2E_CACHE/acng
mkdir -p "$acng/cache" "$acng/log" "$work/acng"
chown -R apt-cacher-ng "$acng" "$work/acng" 2>/dev/null
cat >"$work/acng/acng.conf" <<CONF
CacheDir: $acng/cache
LogDir: $work/acng
SupportDir: /usr/lib/apt-cacher-ng
Port: 3142
BindAddress: 127.0.0.1
VerboseLog: 1
ForeGround: 1
SocketPath: $work/acng/socket
PidFile: $work/acng/pid
CONF
/usr/sbin/apt-cacher-ng -c "$work/acng" >"$work/acng/stdout" 2>&1 &
acng_pid=$!
for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null && break
        sleep 0.1
done

e2e_prepare_host "$work"
mkdir -p "$work/root/srv/hostdata"
echo "host data" >"$work/root/srv/hostdata/precious"

# The test host shares this network namespace: its machinespawn sees the apt-cacher-ng on loopback.
MACHINESPAWN_E2E_TIMEOUT=3000 e2e_boot "$work" "$(dirname "$0")/scenario-bootstrap.sh"
rc=$?

requests=$(grep -c "deb.debian.org/debian/" "$work/acng/apt-cacher.log" 2>/dev/null || echo 0)
if [ "$requests" -gt 100 ]; then
        echo "ok   the bootstraps went through apt-cacher-ng ($requests requests in its log)"
else
        echo "FAIL the bootstraps went through apt-cacher-ng (only $requests requests in its log)"
        rc=$((rc + 1))
fi
exit $rc
