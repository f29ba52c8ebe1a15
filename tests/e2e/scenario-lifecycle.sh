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

# rebuild: a trixie tree with the Keep= data, swapped in; the bookworm one kept beside it
check "machinespawn rebuild loaf" machinespawn rebuild loaf
check "the bookworm tree is kept" grep -q '^12' /var/lib/machines/.loaf.previous/etc/debian_version

# before the first start on the new tree: rollback returns, and a second rollback comes back
check "rollback before the first start" machinespawn rollback loaf
check "loaf is bookworm again" grep -q '^12' /var/lib/machines/loaf/etc/debian_version
check "rollback again returns to the rebuild" machinespawn rollback loaf
check "loaf is trixie again" grep -q '^13' /var/lib/machines/loaf/etc/debian_version
check "the bookworm tree is still kept" test -d /var/lib/machines/.loaf.previous

check "loaf starts on trixie" systemctl start $unit
machine_up
check_output "loaf is trixie" "13." in_loaf cat /etc/debian_version
check_output "Keep=/srv/data came along" "loaf's rows" in_loaf cat /srv/data/table
check_output "the Run= hook ran in the new tree" "hooked" in_loaf cat /etc/hooked
check_output "hello is in the new tree" "Hello, world!" in_loaf hello
# started once: the ExecStartPost= of the machine's unit dropped the bookworm tree and its record
check "the previous tree is gone once loaf has started" test ! -e /var/lib/machines/.loaf.previous
check "and its record" test ! -e /var/lib/machinespawn/loaf.origin.previous
check_output "the machine's unit said so" "removed the one it replaced" journalctl -b -o cat -u $unit
check "a running machine is not rebuilt" bash -c '! machinespawn rebuild loaf'
systemctl stop $unit
check_output "rollback now says there is nothing to return to" "has no previous tree to return to" \
        bash -c 'machinespawn rollback loaf 2>&1; true'
check "and fails" bash -c '! machinespawn rollback loaf'
check_output "loaf is still trixie" "13." cat /var/lib/machines/loaf/etc/debian_version

# Packages= without hello: reported and kept; with RemoveUnlistedPackages=yes, removed at the next start
declare_loaf trixie 'Run=echo hooked >/etc/hooked'
check "loaf starts with hello taken out of Packages=" systemctl start $unit
machine_up
check_output "the start named it, and the key" "Packages= no longer lists hello; loaf keeps them installed" journal_of
check_output "hello is kept" "Hello, world!" in_loaf hello
systemctl stop $unit
declare_loaf trixie 'Run=echo hooked >/etc/hooked' 'RemoveUnlistedPackages=yes'
check "loaf starts with RemoveUnlistedPackages=yes" systemctl start $unit
machine_up
check "hello is gone from loaf" in_loaf sh -c '! test -e /usr/bin/hello'
check_output "the removal was announced" "Removing hello from loaf (RemoveUnlistedPackages=yes)" journal_of
check "the machine's apt removed it" in_loaf sh -c "! dpkg-query -W -f='\${Status}' hello 2>/dev/null | grep -q ' installed'"
check "the record forgets it" bash -c '! grep -q "^unlisted=" /var/lib/machinespawn/loaf.origin'
systemctl stop $unit

# a rebuild killed right after its swap: the machine starts, as the new one, and that start drops the old
declare_loaf bookworm 'Packages=hello' 'Run=echo hooked >/etc/hooked'
MACHINESPAWN_TEST_FAIL_AT=exchange machinespawn rebuild loaf
check "the rebuild was killed (status 137)" test $? = 137
check "loaf starts after the killed rebuild" systemctl start $unit
machine_up
check_output "loaf is the rebuilt one" "12." in_loaf cat /etc/debian_version
check_output "with its Keep= data" "loaf's rows" in_loaf cat /srv/data/table
check "the trixie tree went at this start" test ! -e /var/lib/machines/.loaf.previous
systemctl stop $unit

e2e_done
