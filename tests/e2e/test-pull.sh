#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An Image= machine on a real systemd: the tarball (a real bootable tree, packed by this test) is served
# over HTTP on loopback with its SHA256SUMS; "systemctl start systemd-nspawn@img" downloads, verifies,
# unpacks and boots it; a second machine from the same URL downloads nothing (304).
. "$(dirname "$0")/lib.sh"
e2e_require
command -v zstd >/dev/null || e2e_skip "needs zstd (apt-get install zstd)"

e2e_workdir
server=
cleanup() {
        [ -n "$server" ] && kill "$server" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
tar -C "$(e2e_host_tree)" -cf - . | zstd -q -T0 -3 -o "$work/www/rootfs.tar.zst"
(cd "$work/www" && sha256sum rootfs.tar.zst >SHA256SUMS)
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/server.log" 2>&1 &
server=$!
port=
for _ in $(seq 50); do
        port=$(grep -o 'port [0-9]*' "$work/server.log" | grep -o '[0-9]*' || true)
        [ -n "$port" ] && break
        sleep 0.1
done
[ -n "$port" ] || { echo "the HTTP server did not start"; exit 1; }

e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
for m in img img2; do
        printf '[Machine]\nImage=http://127.0.0.1:%s/rootfs.tar.zst\n' "$port" >"$work/root/etc/machinespawn/$m.mspawn"
done

e2e_boot "$work" "$(dirname "$0")/scenario-pull.sh"
rc=$?
# python's http.server logs each request with its status
if grep -q '"GET /rootfs.tar.zst HTTP/1.1" 304' "$work/server.log"; then
        echo "ok   the second machine's request was answered 304"
else
        echo "FAIL the second machine's request was answered 304"
        rc=$((rc + 1))
fi
exit $rc
