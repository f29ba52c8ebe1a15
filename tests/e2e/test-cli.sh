#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The machinespawn command on a real systemd: start, stop, enable (the machine runs again after the test
# host reboots), disable, list, remove --force.
. "$(dirname "$0")/lib.sh"
e2e_require

e2e_workdir
e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
printf '[Machine]\nDistribution=debian\nRelease=bookworm\n' >"$work/root/etc/machinespawn/cli-e.mspawn"
# the machine's tree exists already (bootstrapping is tested elsewhere)
cp -a --reflink=auto "$(e2e_machine_tree)" "$work/root/var/lib/machines/cli-e"

e2e_boot "$work" "$(dirname "$0")/scenario-cli.sh"
