#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [Network] Port= on a real systemd: a machine with VirtualEthernet=yes and Port=tcp:8080:80, a listener
# inside it, a connection from the test host to its own address on 8080 answered by the machine; the
# forwarding rule where systemd-nspawn puts it (nftables) while the machine runs, and gone after it stops.
# The test host boots in a network namespace of its own: the rules never reach this host's tables.
. "$(dirname "$0")/lib.sh"
e2e_require

e2e_workdir
cleanup() {
        e2e_netns_stop
        rm -rf "$work"
}
trap cleanup EXIT

e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
cat >"$work/root/etc/machinespawn/web.mspawn" <<'MSPAWN'
[Machine]
Distribution=debian
Release=bookworm

[Network]
VirtualEthernet=yes
Port=tcp:8080:80
MSPAWN
# the machine's tree exists already (bootstrapping is tested elsewhere)
cp -a --reflink=auto "$(e2e_machine_tree)" "$work/root/var/lib/machines/web"

e2e_netns_start
e2e_boot "$work" "$(dirname "$0")/scenario-ports.sh" "${E2E_NETNS_ARGS[@]}"
