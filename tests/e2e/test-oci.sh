#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Image=docker:// machines on a real systemd. Outside, a registry's storage is filled with skopeo from two
# images this test writes as OCI layouts: the bookworm machine tree as one zstd layer (systemd as
# /sbin/init: it boots), and a tiny one without init (dash and its libraries) whose entrypoint writes a file
# and prints a line. The storage is bound into the test host, which runs docker-registry on loopback (named
# insecure in machinespawn.conf); "systemctl start systemd-nspawn@NAME" pulls, then boots or runs each.
# On the trixie host /var/lib/machines and the cache are one btrfs (a loop device made here, bound in): the
# image tree is cached as a subvolume, and a second machine of it is a snapshot that boots as well.
. "$(dirname "$0")/lib.sh"
e2e_require
for t in docker-registry skopeo zstd; do
        command -v $t >/dev/null || e2e_skip "needs $t (apt-get install $t)"
done
on_btrfs=
if [ "$E2E_RELEASE" = trixie ]; then
        command -v mkfs.btrfs >/dev/null || e2e_skip "needs mkfs.btrfs (apt-get install btrfs-progs)"
        on_btrfs=1
fi

e2e_workdir
registry=
cleanup() {
        [ -n "$registry" ] && kill "$registry" 2>/dev/null && wait "$registry" 2>/dev/null
        if mountpoint -q "$work/btrfs"; then umount "$work/btrfs" || umount -l "$work/btrfs"; fi
        rm -rf "$work"
}
trap cleanup EXIT

# oci_blob LAYOUT FILE MEDIA-TYPE: moves FILE into LAYOUT's blobs, prints its descriptor
oci_blob() {
        local d s
        d=$(sha256sum "$2" | cut -c1-64)
        s=$(stat -c %s "$2")
        mv "$2" "$1/blobs/sha256/$d"
        printf '{"mediaType":"%s","digest":"sha256:%s","size":%s}' "$3" "$d" "$s"
}

# oci_image LAYOUT TAG CONFIG TAR: one image of one zstd layer made of TAR, with CONFIG (the "config"
# object of the image configuration), tagged TAG in LAYOUT
oci_image() {
        local layout=$1 tag=$2 cfg=$3 tar=$4 diff layer config manifest
        mkdir -p "$layout/blobs/sha256"
        echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
        diff=$(sha256sum "$tar" | cut -c1-64)
        zstd -q -T0 -3 --rm "$tar" -o "$tar.zst"
        layer=$(oci_blob "$layout" "$tar.zst" application/vnd.oci.image.layer.v1.tar+zstd)
        printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
                "$(dpkg --print-architecture)" "$cfg" "$diff" >"$work/config.json"
        config=$(oci_blob "$layout" "$work/config.json" application/vnd.oci.image.config.v1+json)
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
                "$config" "$layer" >"$work/manifest.json"
        manifest=$(oci_blob "$layout" "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
        printf '{"schemaVersion":2,"manifests":[%s]}' \
                "${manifest%\}},\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\"}}" >"$layout/index.json"
}

tree=$(e2e_machine_tree) || exit $?
mkdir -p "$work/storage"
# (a) the bookworm machine tree: systemd as /sbin/init
tar -C "$tree" --numeric-owner --xattrs --xattrs-include='*' -cf "$work/os.tar" .
oci_image "$work/os" latest '{"Cmd":["/sbin/init"]}' "$work/os.tar"
# (b) dash and what it links, nothing else: no init; the entrypoint proves Env, WorkingDir and Cmd
files=(./usr/bin/dash)
for lib in $(chroot "$tree" ldd /usr/bin/dash | grep -o '/[^ ]*'); do
        # the name the binary asks for (often a link) in its real directory, and the file itself
        files+=(".$(chroot "$tree" readlink -f "$(dirname "$lib")")/$(basename "$lib")" ".$(chroot "$tree" readlink -f "$lib")")
done
dirs=()
for f in "${files[@]}"; do
        d=$(dirname "$f")
        while [ "$d" != . ]; do
                dirs+=("$d")
                d=$(dirname "$d")
        done
done
mkdir -p "$work/tiny-extra/srv"
tar -C "$tree" --numeric-owner --no-recursion -cf "$work/tiny.tar" ./bin ./lib ./lib64 \
        $(printf '%s\n' "${dirs[@]}" | sort -u) $(printf '%s\n' "${files[@]}" | sort -u)
tar -C "$work/tiny-extra" --numeric-owner -rf "$work/tiny.tar" ./srv
oci_image "$work/tiny" latest \
        '{"Env":["PATH=/usr/bin:/bin","E2E_OCI=from-the-image"],"WorkingDir":"/srv","Entrypoint":["/usr/bin/dash","-c"],"Cmd":["echo \"ran with $E2E_OCI in $PWD\" >ran; echo oci-entrypoint-line-$((6 * 7))"]}' \
        "$work/tiny.tar"

# push both into the storage with a registry outside, on a port free a moment ago
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '{"version":0.1,"log":{"level":"error"},"storage":{"filesystem":{"rootdirectory":"%s"}},"http":{"addr":"127.0.0.1:%s","secret":"e2e"}}' \
        "$work/storage" "$port" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        sleep 0.1
done
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$work/policy.json"
for img in os tiny; do
        skopeo --policy "$work/policy.json" copy --quiet --preserve-digests --dest-tls-verify=false \
                "oci:$work/$img:latest" "docker://127.0.0.1:$port/e2e/$img:latest" ||
                { echo "skopeo could not push the $img image" >&2; exit 1; }
        rm -rf "${work:?}/$img"
done
kill "$registry"
wait "$registry" 2>/dev/null
registry=

# the test host: the same storage, bound in, served on a port free now (the host shares this network)
e2e_prepare_host "$work"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "$port" >"$work/root/e2e/registry-port"
printf '{"version":0.1,"log":{"level":"info","accesslog":{"disabled":false}},"storage":{"filesystem":{"rootdirectory":"/srv/e2e-registry"}},"http":{"addr":"127.0.0.1:%s","secret":"e2e"}}' \
        "$port" >"$work/root/e2e/registry.yml"
cat >"$work/root/etc/systemd/system/e2e-registry.service" <<'UNIT'
[Unit]
Description=docker-registry for the scenario

[Service]
ExecStart=/usr/bin/docker-registry serve /e2e/registry.yml
UNIT
mkdir -p "$work/root/etc/machinespawn" "$work/root/srv/e2e-registry"
printf '[Registries]\nInsecure=127.0.0.1:%s\n' "$port" >"$work/root/etc/machinespawn/machinespawn.conf"
for img in os tiny; do
        printf '[Machine]\nImage=docker://127.0.0.1:%s/e2e/%s:latest\n' "$port" "$img" \
                >"$work/root/etc/machinespawn/oci$img.mspawn"
done

btrfs_binds=()
if [ -n "$on_btrfs" ]; then
        printf '[Machine]\nImage=docker://127.0.0.1:%s/e2e/os:latest\n' "$port" \
                >"$work/root/etc/machinespawn/ocisnap.mspawn"
        mkdir "$work/btrfs"
        truncate -s 8G "$work/btrfs.img"
        mkfs.btrfs -q "$work/btrfs.img" >/dev/null && mount -o loop "$work/btrfs.img" "$work/btrfs" ||
                { echo "cannot make and mount a btrfs on a loop device" >&2; exit 1; }
        mkdir -m 0700 "$work/btrfs/machines"
        mkdir "$work/btrfs/cache"
        btrfs_binds=(--bind="$work/btrfs/machines:/var/lib/machines" --bind="$work/btrfs/cache:/var/cache/machinespawn")
        touch "$work/root/e2e/btrfs"
fi

e2e_boot "$work" "$(dirname "$0")/scenario-oci.sh" --bind="$work/storage:/srv/e2e-registry" "${btrfs_binds[@]}"
