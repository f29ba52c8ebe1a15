# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-lifecycle.sh.
. /e2e/inside.sh
unit=systemd-nspawn@loaf.service
conf=/etc/machinespawn/loaf.mspawn

machine_up() { wait_for 90 systemd-run -M loaf --wait -q true; }
in_loaf() { systemd-run -M loaf --wait -q --pipe "$@"; }
journal_of() { journalctl -b -o cat -u machinespawn-bootstrap@loaf.service; }
declare_loaf() { # RELEASE [LINES...]
        local release=$1
        shift
        printf '[Machine]\nDistribution=debian\nRelease=%s\nKeep=/srv/data\n' "$release" >$conf
        printf '%s\n' "$@" >>$conf
        systemctl daemon-reload
}

check "loaf starts (its first record is taken from the .mspawn)" systemctl start $unit
machine_up
check "loaf runs" in_loaf true
check "its first start went through the bootstrap, which recorded it" test -s /var/lib/machinespawn/loaf.origin
check "it has no hello yet" test ! -e /var/lib/machines/loaf/usr/bin/hello
systemctl stop $unit

# Packages= extended, a Run= hook added: both in place at the next start, before the boot
declare_loaf bookworm 'Packages=hello' 'Run=echo hooked >/etc/hooked'
check "restart after the edit" systemctl start $unit
machine_up
check_output "hello is installed in loaf" "Hello, world!" in_loaf hello
check_output "the Run= hook's effect is in loaf" "hooked" in_loaf cat /etc/hooked
check_output "the install was announced" "Installing hello in loaf" journal_of
systemctl stop $unit

# Release= changed: the start stops and names the change and the command
declare_loaf trixie 'Packages=hello' 'Run=echo hooked >/etc/hooked'
check_status() { ! systemctl start $unit; }
check "a Release= change stops the start" check_status
check_output "the journal says what changed and what to run" \
        'Release= changed from bookworm to trixie: machine loaf cannot follow it in place; apply it with "machinespawn rebuild loaf"' \
        journal_of
check "loaf is not running" bash -c '! machinectl status loaf >/dev/null 2>&1'

# rebuild: a trixie tree with the Keep= data, swapped in
check "machinespawn rebuild loaf" machinespawn rebuild loaf
check "loaf starts on trixie" systemctl start $unit
machine_up
check_output "loaf is trixie" "13." in_loaf cat /etc/debian_version
check_output "Keep=/srv/data came along" "loaf's rows" in_loaf cat /srv/data/table
check_output "the Run= hook ran in the new tree" "hooked" in_loaf cat /etc/hooked
check_output "hello is in the new tree" "Hello, world!" in_loaf hello
check "a running machine is not rebuilt" bash -c '! machinespawn rebuild loaf'
systemctl stop $unit

# rollback: bookworm again, the file put back
check "machinespawn rollback loaf" machinespawn rollback loaf
declare_loaf bookworm 'Packages=hello' 'Run=echo hooked >/etc/hooked'
check "loaf starts after the rollback" systemctl start $unit
machine_up
check_output "loaf is bookworm" "12." in_loaf cat /etc/debian_version
systemctl stop $unit

# a rebuild killed right after its swap: the machine starts, as the new one
declare_loaf trixie 'Packages=hello' 'Run=echo hooked >/etc/hooked'
MACHINESPAWN_TEST_FAIL_AT=exchange machinespawn rebuild loaf
check "the rebuild was killed (status 137)" test $? = 137
check "loaf starts after the killed rebuild" systemctl start $unit
machine_up
check_output "loaf is the rebuilt one" "13." in_loaf cat /etc/debian_version
check_output "with its Keep= data" "loaf's rows" in_loaf cat /srv/data/table
systemctl stop $unit

e2e_done
