#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bootstrap speed, all in one run on this machine (as root, with the Debian mirror):
#  - a second machine of a cached kind against a fresh debootstrap of it    (target <= 1/40)
#  - the cached clone against the fastest plain copy of the same base tree  (target <= 1.3)
#  - the first bootstrap against plain debootstrap and plain mmdebstrap     (report; aim <= 1.0 of mmdebstrap)
# Usage: bench/bootstrap.sh [BUILD-DIR] [RELEASE]
set -eu
build=$(realpath "${1:-build}")
release=${2:-bookworm}
mirror=http://deb.debian.org/debian
helper=$build/helpers/bootstrap/machinespawn-bootstrap
packages=dbus,systemd,systemd-sysv
[ "$(id -u)" = 0 ] || { echo "bench/bootstrap.sh: run as root" >&2; exit 1; }

tmp=$(mktemp -d -p /var/tmp mspawn-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
# Every timed step starts the same way: the disk caught up with the step before, and the page cache
# dropped, as when a base is used days after it was built (where the machine allows dropping it).
settle() {
        sync
        echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
}
since() { echo "$(now) - $1" | bc -l; }

mkdir -p "$tmp/conf" "$tmp/etc"
export MACHINESPAWN_CONFIG_PATH=$tmp/conf MACHINESPAWN_SYSCONFDIR=$tmp/etc \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../conf.d/machinespawn.conf \
        MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state
bootstrapper=debootstrap
command -v mmdebstrap >/dev/null && bootstrapper=mmdebstrap
printf '[Bootstrap]\nProxy=none\nBootstrapper=%s\n[Cache]\nDirectory=%s/cache\n' "$bootstrapper" "$tmp" \
        >"$tmp/etc/machinespawn.conf"
for m in first second; do
        printf '[Machine]\nDistribution=debian\nRelease=%s\n' "$release" >"$tmp/conf/$m.mspawn"
done

echo "release $release, packages $packages, bootstrapper of machinespawn: $bootstrapper"
settle
s=$(now)
debootstrap --variant=minbase --include=$packages "$release" "$tmp/plain-debootstrap" "$mirror" >/dev/null 2>&1
t_debootstrap=$(since "$s")
t_mmdebstrap=
if command -v mmdebstrap >/dev/null; then
        s=$(now)
        mmdebstrap --quiet --variant=minbase --include=$packages "$release" "$tmp/plain-mmdebstrap" "$mirror" \
                >/dev/null 2>&1
        t_mmdebstrap=$(since "$s")
fi

settle
s=$(now)
"$helper" first 2>/dev/null
t_first=$(since "$s")
settle
s=$(now)
"$helper" second 2>/dev/null
t_second=$(since "$s")

# The clone alone, against the plain copies of the same base, interleaved three times; medians.
# The same tree both ways: as the first machine has it (cp -a), and packed (zstd | tar); where the cache
# keeps archives, that is the cached archive itself.
base=$tmp/machines/first
archive=$(ls "$tmp"/cache/*.tar.zst 2>/dev/null | head -n1)
if [ -z "$archive" ]; then
        archive=$tmp/base.tar.zst
        tar -C "$base" -cf - . | zstd -q -T0 -3 -o "$archive"
fi
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
clone=() cpa=() ztar=()
for i in $(seq "${RUNS:-5}"); do
        rm -rf "$tmp/machines/second"
        settle; s=$(now); "$helper" second 2>/dev/null; clone+=("$(since "$s")")
        settle; s=$(now); cp -a "$base" "$tmp/cp-$i"; cpa+=("$(since "$s")")
        settle; s=$(now); mkdir "$tmp/zt-$i"; zstd -dc "$archive" | tar -C "$tmp/zt-$i" -x; ztar+=("$(since "$s")")
        rm -rf "$tmp/cp-$i" "$tmp/zt-$i"
done
t_clone=$(median "${clone[@]}")
t_cpa=$(median "${cpa[@]}")
t_ztar=$(median "${ztar[@]}")
t_plain=$t_cpa
[ "$(echo "$t_ztar < $t_cpa" | bc)" = 1 ] && t_plain=$t_ztar

printf '%-44s %8.2f s\n' "plain debootstrap" "$t_debootstrap"
[ -n "$t_mmdebstrap" ] && printf '%-44s %8.2f s\n' "plain mmdebstrap" "$t_mmdebstrap"
printf '%-44s %8.2f s\n' "machinespawn first machine (cold cache)" "$t_first"
printf '%-44s %8.2f s\n' "machinespawn second machine (cached)" "$t_second"
printf "%-44s %8.2f s  (median of %s)\n" "machinespawn machine from cache" "$t_clone" "${RUNS:-5}"
printf "%-44s %8.2f s  (median of %s)\n" "cp -a of the base" "$t_cpa" "${RUNS:-5}"
printf "%-44s %8.2f s  (median of %s)\n" "zstd -dc | tar -x of the base" "$t_ztar" "${RUNS:-5}"
echo
printf 'second machine / fresh debootstrap:      1/%.0f   (target: 1/40 or better)\n' \
        "$(echo "$t_debootstrap / $t_second" | bc -l)"
printf 'cached clone / fastest plain copy:       %.2f    (target: <= 1.3)\n' "$(echo "$t_clone / $t_plain" | bc -l)"
printf 'first bootstrap / plain debootstrap:     %.2f\n' "$(echo "$t_first / $t_debootstrap" | bc -l)"
[ -n "$t_mmdebstrap" ] &&
        printf 'first bootstrap / plain mmdebstrap:      %.2f    (aim: <= 1.0)\n' "$(echo "$t_first / $t_mmdebstrap" | bc -l)"
exit 0
