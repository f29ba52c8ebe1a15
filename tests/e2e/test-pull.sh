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
tar -C "$(e2e_machine_tree)" -cf - . | zstd -q -T0 -3 -o "$work/www/rootfs.tar.zst"
(cd "$work/www" && sha256sum rootfs.tar.zst >SHA256SUMS)
. "$(dirname "$0")/../http-server.sh"
http_server_start "$work/www" || exit 1
server=$http_pid port=$http_port

e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
for m in img img2; do
        printf '[Machine]\nImage=http://127.0.0.1:%s/rootfs.tar.zst\n' "$port" >"$work/root/etc/machinespawn/$m.mspawn"
done

e2e_boot "$work" "$(dirname "$0")/scenario-pull.sh"
rc=$?
# python's http.server logs each request with its status
if grep -q '"GET /rootfs.tar.zst HTTP/1.1" 304' "$work/www.log"; then
        echo "ok   the second machine's request was answered 304"
else
        echo "FAIL the second machine's request was answered 304"
        rc=$((rc + 1))
fi
exit $rc
