#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# pull-oci against "skopeo copy docker://... oci:DIR" followed by "umoci unpack" of the same image (a root
# file system tree cut into four gzip layers, a few hundred MiB) from one docker-registry on loopback, in the
# same run, interleaved, each from a cold cache of its own; medians of RUNS. Then the second machine of the
# same image against the first, and pull-oci's peak RSS.
# Targets: pull-oci / skopeo+umoci <= 0.5, peak RSS <= 32 MiB, second machine / first <= 1/20.
# Usage: bench/oci.sh [BUILD-DIR] [TREE]   (root; TREE defaults to the cached e2e test host tree)
# BENCH_DIR: where the registry, the cache and the machines go (default /var/tmp). BENCH_FS=btrfs (or xfs,
# ext4) puts all of it on a fresh file system of that type in a loop-mounted image inside BENCH_DIR instead.
# The second machine is a snapshot of the cached tree on btrfs, a reflink copy of it on xfs, and is unpacked
# from the cache's archive elsewhere.
set -eu
build=$(realpath "${1:-build}")
tree=${2:-$(ls -d /var/cache/machinespawn-e2e/host-bookworm-* 2>/dev/null | grep -v '\.log$' | head -n1)}
runs=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "bench/oci.sh: run as root" >&2; exit 1; }
[ -d "$tree" ] || { echo "bench/oci.sh: no tree to pack (run the e2e tests once, or pass one)" >&2; exit 1; }
for t in docker-registry skopeo umoci; do
        command -v $t >/dev/null || { echo "bench/oci.sh: needs $t (apt-get install $t)" >&2; exit 1; }
done

tmp=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" mspawn-bench-oci-XXXXXX)
registry=
cleanup() {
        [ -z "$registry" ] || { kill "$registry"; wait "$registry" 2>/dev/null || :; }
        if mountpoint -q "$tmp"; then umount "$tmp" || umount -l "$tmp"; fi
        rm -rf "$tmp" "$tmp.img"
}
trap cleanup EXIT
if [ -n "${BENCH_FS:-}" ]; then
        command -v "mkfs.$BENCH_FS" >/dev/null || { echo "bench/oci.sh: needs mkfs.$BENCH_FS" >&2; exit 1; }
        truncate -s 16G "$tmp.img"
        "mkfs.$BENCH_FS" -q "$tmp.img" >/dev/null
        mount -o loop "$tmp.img" "$tmp"
fi
mkdir -p "$tmp/layout/blobs/sha256" "$tmp/etc" "$tmp/storage"

# --- the image: four layers (usr/lib, usr/share, the rest of usr, everything else), written as an OCI layout
blob() {        # FILE MEDIA-TYPE: moves FILE into the layout, prints its descriptor
        local d s
        d=$(sha256sum "$1" | cut -c1-64)
        s=$(stat -c %s "$1")
        mv "$1" "$tmp/layout/blobs/sha256/$d"
        printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$2" "$d" "$s"
}
layers= diff_ids=
n=0
for part in "./usr/lib" "./usr/share" "--exclude=./usr/lib --exclude=./usr/share ./usr" \
        "--exclude=./usr ."; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        tar -C "$tree" --numeric-owner --xattrs --xattrs-include='*' -cf "$tmp/layer$n.tar" $part
        diff_ids="$diff_ids${diff_ids:+,}\"sha256:$(sha256sum "$tmp/layer$n.tar" | cut -c1-64)\""
        gzip -q -6 "$tmp/layer$n.tar"
        layers="$layers${layers:+,}$(blob "$tmp/layer$n.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)"
done
printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/sbin/init"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
        "$(dpkg --print-architecture)" "$diff_ids" >"$tmp/config.json"
config=$(blob "$tmp/config.json" application/vnd.oci.image.config.v1+json)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
        "$config" "$layers" >"$tmp/manifest.json"
manifest=$(blob "$tmp/manifest.json" application/vnd.oci.image.manifest.v1+json)
printf '{"schemaVersion":2,"manifests":[%s]}' \
        "${manifest%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}" >"$tmp/layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$tmp/layout/oci-layout"
size=$(du -sb "$tmp/layout/blobs" | cut -f1)

# --- the registry, on a port the kernel picked a moment ago
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '{"version":0.1,"log":{"level":"error","accesslog":{"disabled":true}},"storage":{"filesystem":{"rootdirectory":"%s"}},"http":{"addr":"127.0.0.1:%s","secret":"bench"}}' \
        "$tmp/storage" "$port" >"$tmp/registry.yml"
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry=$!
for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        sleep 0.1
done
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$tmp/policy.json"
skopeo --policy "$tmp/policy.json" copy --quiet --preserve-digests --dest-tls-verify=false \
        "oci:$tmp/layout:latest" "docker://127.0.0.1:$port/bench/img:latest"
rm -rf "$tmp/layout"
ref=docker://127.0.0.1:$port/bench/img:latest

printf '[Cache]\nDirectory=%s/cache\n\n[Registries]\nInsecure=127.0.0.1:%s\n' "$tmp" "$port" >"$tmp/etc/machinespawn.conf"
echo '{"auths":{}}' >"$tmp/auth.json"
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state \
        MACHINESPAWN_SYSCONFDIR=$tmp/etc MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../conf.d/machinespawn.conf \
        REGISTRY_AUTH_FILE=$tmp/auth.json

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ours=() theirs=() second=() rss=()
for i in $(seq "$runs"); do
        rm -rf "$tmp/cache" "$tmp/machines" "$tmp/state" "$tmp/run" "$tmp/oci" "$tmp/bundle"
        sync; s=$(now)
        skopeo --policy "$tmp/policy.json" copy --quiet --src-tls-verify=false "$ref" "oci:$tmp/oci:latest"
        umoci unpack --image "$tmp/oci:latest" "$tmp/bundle" >/dev/null
        theirs+=("$(since "$s")")
        rm -rf "$tmp/oci" "$tmp/bundle"
        sync; s=$(now)
        /usr/bin/time -f %M -o "$tmp/rss" "$build/cli/machinespawn" pull-oci "$ref" "m$i" >/dev/null 2>"$tmp/log" ||
                { cat "$tmp/log" >&2; exit 1; }
        ours+=("$(since "$s")")
        rss+=("$(cat "$tmp/rss")")
        sync; s=$(now)
        "$build/cli/machinespawn" pull-oci "$ref" "m$i-again" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
        second+=("$(since "$s")")
done
t_ours=$(median "${ours[@]}")
t_theirs=$(median "${theirs[@]}")
t_second=$(median "${second[@]}")
printf 'image: %d MiB in 4 gzip layers, %s\n' $((size >> 20)) "$ref"
# ext4 without a journal steps over every inode freed in the last minutes, one buffer lookup each, on every
# inode it allocates in a block group (fs/ext4/ialloc.c, recently_deleted()): there each side's time grows
# with the trees removed before it, whoever made them, and the figures say more about the churn than the tools.
fs=$(findmnt -n -o FSTYPE --target "$tmp" 2>/dev/null || stat -f -c %T "$tmp")
if [ "$fs" = ext4 ]; then
        dev=$(basename "$(findmnt -n -o SOURCE --target "$tmp")")
        compgen -G "/proc/fs/jbd2/$dev-*" >/dev/null || fs="$fs without a journal (inode allocation slows after removals)"
fi
printf 'machinespawn: gzip inflated by %s; cache on %s\n' \
        "$(grep -q libisal.so.2 "$build/cli/machinespawn" && ldconfig -p | grep -q libisal.so.2 && echo ISA-L ||
           echo zlib)" "$fs"
printf '%-44s %8.2f s  (median of %d)\n' "skopeo copy docker:// oci: + umoci unpack" "$t_theirs" "$runs"
printf '%-44s %8.2f s  (median of %d)\n' "machinespawn pull-oci, first machine" "$t_ours" "$runs"
printf '%-44s %8.2f s  (median of %d)\n' "machinespawn pull-oci, second machine" "$t_second" "$runs"
printf 'pull-oci / skopeo+umoci:   %.3f  (target: <= 0.5)\n' "$(echo "$t_ours / $t_theirs" | bc -l)"
printf 'second / first machine:    %.3f  (target: <= 0.05)\n' "$(echo "$t_second / $t_ours" | bc -l)"
printf 'pull-oci peak RSS:         %d KiB (largest of %d; target: <= 32768 KiB)\n' \
        "$(printf '%s\n' "${rss[@]}" | sort -n | tail -n1)" "$runs"
