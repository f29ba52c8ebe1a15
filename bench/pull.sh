#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pull-tar against "curl -s URL | tar -x" of the same ~200 MiB root file system tarball from a loopback
# HTTP server, interleaved, medians of RUNS; and pull-tar's peak RSS. Targets: ratio <= 1.1, RSS <= 32 MiB.
# Usage: bench/pull.sh [BUILD-DIR] [TREE]   (root; TREE defaults to the cached e2e test host tree)
set -eu
build=$(realpath "${1:-build}")
tree=${2:-$(ls -d /var/cache/machinespawn-e2e/host-* 2>/dev/null | head -n1)}
runs=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench/pull.sh: run as root" >&2; exit 1; }
[ -d "$tree" ] || { echo "bench/pull.sh: no tree to pack (run the e2e tests once, or pass one)" >&2; exit 1; }

tmp=$(mktemp -d -p /var/tmp mspawn-bench-pull-XXXXXX)
server=
trap '[ -n "$server" ] && kill $server; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/www" "$tmp/etc"
tar -C "$tree" -cf "$tmp/www/rootfs.tar" .
size=$(stat -c %s "$tmp/www/rootfs.tar")
. "$(dirname "$0")/../tests/http-server.sh"
http_server_start "$tmp/www"
server=$http_pid port=$http_port
url=http://127.0.0.1:$port/rootfs.tar
printf '[Cache]\nDirectory=%s/cache\n' "$tmp" >"$tmp/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state MACHINESPAWN_SYSCONFDIR=$tmp/etc \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../conf.d/machinespawn.conf

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ours=() theirs=() rss=()
for i in $(seq "$runs"); do
        rm -rf "$tmp/cache" "$tmp/machines" "$tmp/plain"
        mkdir -p "$tmp/plain"
        sync; s=$(now)
        curl -s "$url" | tar -C "$tmp/plain" -x
        theirs+=("$(since "$s")")
        sync; s=$(now)
        /usr/bin/time -f %M -o "$tmp/rss" "$build/cli/machinespawn" pull-tar --verify=no "$url" "m$i" 2>/dev/null
        ours+=("$(since "$s")")
        rss+=("$(cat "$tmp/rss")")
done
t_ours=$(median "${ours[@]}")
t_theirs=$(median "${theirs[@]}")
printf 'tarball %d MiB from %s\n' $((size >> 20)) "$url"
printf '%-36s %8.2f s  (median of %d)\n' "curl -s URL | tar -x" "$t_theirs" "$runs"
printf '%-36s %8.2f s  (median of %d)\n' "machinespawn pull-tar" "$t_ours" "$runs"
printf 'pull-tar / curl|tar:  %.2f   (target: <= 1.1)\n' "$(echo "$t_ours / $t_theirs" | bc -l)"
printf 'pull-tar peak RSS:    %d KiB (largest of %d; target: <= 32768 KiB)\n' \
        "$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)" "$runs"
