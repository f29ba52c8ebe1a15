#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generator on a real systemd: systemctl cat/is-enabled, a broken .mspawn beside a good one,
# systemd-analyze verify, nspawn settings reaching a real nested container, daemon-reload after an edit.
. "$(dirname "$0")/lib.sh"
e2e_require

e2e_workdir
e2e_prepare_host "$work"
root=$work/root

mkdir -p "$root/etc/machinespawn/bread.mspawn.d"
cat >"$root/etc/machinespawn/bread.mspawn" <<'MSPAWN'
[Machine]
Distribution=debian
Release=bookworm

[Exec]
Environment=E2E_SETTING=from-mspawn

[Files]
BindReadOnly=/srv/marker-1:/marker

[Unit]
Description=Bread test machine

[Install]
WantedBy=machines.target
MSPAWN
cat >"$root/etc/machinespawn/bread.mspawn.d/10-memory.conf" <<'MSPAWN'
[Service]
MemoryMax=3G
MSPAWN
printf '[Machine]\nDistribution=debian\nRelease=woody2\n' >"$root/etc/machinespawn/broken.mspawn"
printf '[Machine]\nDistribution=debian\nRelease=trixie\n' >"$root/etc/machinespawn/plain.mspawn"
mkdir -p "$root/srv"
echo "marker one" >"$root/srv/marker-1"
echo "marker two" >"$root/srv/marker-2"

# The machine's tree exists already (bootstrap is another test): a copy of the pristine host tree.
cp -a --reflink=auto "$(e2e_host_tree)" "$root/var/lib/machines/bread"

e2e_boot "$work" "$(dirname "$0")/scenario-generator.sh"
