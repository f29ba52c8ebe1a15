#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [User]: a host user in the machine with the host's UID, GID, groups, shell and home; the home bound
# in so that what the user makes inside is theirs on the host; a UID changed on the host followed at the
# next start; "machinespawn enter" as that user, with the command's exit status. BindUser= passed through to
# systemd-nspawn, which honours it only from a trusted settings directory since systemd 260.
. "$(dirname "$0")/lib.sh"
e2e_require

e2e_workdir
e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
cat >"$work/root/etc/machinespawn/desk.mspawn" <<'MSPAWN'
[Machine]
Distribution=debian
Release=bookworm

[User]
Name=alice
Groups=audio mspawntest
Sudo=yes
Display=yes
Audio=yes

[Files]
BindUser=bob
MSPAWN
cp -a --reflink=auto "$(e2e_machine_tree)" "$work/root/var/lib/machines/desk"

e2e_boot "$work" "$(dirname "$0")/scenario-user.sh"
