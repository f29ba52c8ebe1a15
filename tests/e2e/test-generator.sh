#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generator on a real systemd: systemctl cat/is-enabled, a broken .mspawn beside a good one,
# systemd-analyze verify, nspawn settings reaching a real nested container, daemon-reload after an edit;
# and a table of hostile bytes (bare CR, CR LF, BOM, UTF-8, backslashes; NUL, invalid UTF-8, control
# characters, trailing backslash, newline in a drop-in name, over the size cap) read back by systemd.
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
# Hostile but valid: each must mean for systemd what it says. Hostile and invalid: each must be refused.
m=$root/etc/machinespawn
mh='[Machine]\nDistribution=debian\nRelease=bookworm\n'
printf "$mh"'[Unit]\nDescription=one\r[Service]\rMemoryMax=1G\n' >"$m/h-cr.mspawn"
printf '\xef\xbb\xbf[Machine]\r\nDistribution=debian\r\nRelease=bookworm\r\n[Unit]\r\nDescription=crlf\r\n[Service]\r\nEnvironment=A=1\r\n' \
        >"$m/h-bom-crlf.mspawn"
printf "$mh"'[Unit]\nDescription=caf\xc3\xa9 \xe2\x82\xac\n' >"$m/h-utf8.mspawn"
printf "$mh"'[Unit]\nDescription=back\\\\  \n[Service]\nMemoryMax=2G\n' >"$m/h-backslash.mspawn"
mkdir -p "$m/h-dropin-name.mspawn.d"
printf "$mh" >"$m/h-dropin-name.mspawn"
printf '[Unit]\nDescription=odd name\n' >"$m/h-dropin-name.mspawn.d/10-ok@a+b:c.conf"
printf "$mh"'[Exec]\nBoot=yes\0PrivateUsers=no\n' >"$m/h-nul.mspawn"
printf "$mh"'[Unit]\nDescription=\xff\nAfter=network.target\n' >"$m/h-badutf8.mspawn"
printf "$mh"'[Exec]\nParameters=--foo \\ \nPrivateUsers=no\n' >"$m/h-tbs.mspawn"
printf "$mh"'[Exec]\nBoot=yes\v\n' >"$m/h-vt.mspawn"
mkdir -p "$m/h-dropin-nl.mspawn.d"
printf "$mh" >"$m/h-dropin-nl.mspawn"
printf '[Unit]\nDescription=x\n' >"$m/h-dropin-nl.mspawn.d/10-a"$'\n''[Service]'$'\n''ExecStartPre=evil'$'\n''#.conf'
{ printf "$mh"; head -c 1048576 /dev/zero | tr '\0' '#'; } >"$m/h-big.mspawn"
# bread's settings from a drop-in with a BOM, CR LF and a bare CR, checked inside the running machine
printf '\xef\xbb\xbf[Exec]\r\nEnvironment=E2E_CR_A=1\rEnvironment=E2E_CR_B=caf\xc3\xa9\r\n' \
        >"$root/etc/machinespawn/bread.mspawn.d/20-bytes.conf"

mkdir -p "$root/srv"
echo "marker one" >"$root/srv/marker-1"
echo "marker two" >"$root/srv/marker-2"

# The machine's tree exists already (bootstrap is another test): a copy of the pristine host tree.
cp -a --reflink=auto "$(e2e_host_tree)" "$root/var/lib/machines/bread"

e2e_boot "$work" "$(dirname "$0")/scenario-generator.sh"
