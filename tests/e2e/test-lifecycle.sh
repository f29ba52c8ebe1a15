#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A machine that follows its .mspawn on a real systemd: Packages= extended and a Run= hook added, then a
# restart, and both are in the machine; Release= changed and the start stops with the message;
# "machinespawn rebuild" moves it to trixie (bootstrapped from the Debian mirror) with its Keep= data;
# "rollback" returns before the first start, and after it the previous tree is gone; a package taken out of
# Packages= is kept, then removed with RemoveUnlistedPackages=yes; a rebuild killed after its swap leaves a
# machine that starts.
. "$(dirname "$0")/lib.sh"
e2e_require

e2e_workdir
e2e_prepare_host "$work"
root=$work/root

mkdir -p "$root/etc/machinespawn"
printf '[Machine]\nDistribution=debian\nRelease=bookworm\nKeep=/srv/data\n' >"$root/etc/machinespawn/loaf.mspawn"
# The machine's tree exists already: a copy of the pristine machine tree, recorded by nothing yet.
cp -a --reflink=auto "$(e2e_machine_tree)" "$root/var/lib/machines/loaf"
mkdir -p "$root/var/lib/machines/loaf/srv/data"
echo "loaf's rows" >"$root/var/lib/machines/loaf/srv/data/table"

MACHINESPAWN_E2E_TIMEOUT=2400 e2e_boot "$work" "$(dirname "$0")/scenario-lifecycle.sh"
