# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-cli.sh. Two boots: the second after a reboot.
. /e2e/inside.sh
ms=/usr/bin/machinespawn
up() { wait_for 60 systemd-run -M cli-e --wait -q true; }

if [ ! -f /e2e/phase2 ]; then
        echo "     (test host: $(systemctl --version | head -n1))"
        check "machinespawn start" $ms start cli-e
        up
        check_output "... it runs" "cli-e" machinectl list --no-legend
        # what enter and these scenarios rely on: systemd-run --wait ends with the command's status
        check_output "systemd-run -M --wait passes the command's exit status" "status 3" \
                sh -c 'systemd-run -M cli-e --wait -q --pipe /bin/sh -c "exit 3"; echo status $?'
        check_output "list says running" "running" $ms list
        check "machinespawn stop" $ms stop cli-e
        check_not_output "... it is stopped" "cli-e" machinectl list --no-legend
        check "machinespawn enable" $ms enable cli-e
        check_output "... is-enabled" "enabled" systemctl is-enabled systemd-nspawn@cli-e.service
        echo "$E2E_PASSED $E2E_FAILED" >/e2e/phase2
        echo "     (rebooting the test host)"
        systemctl reboot
        sleep infinity # the reboot ends this; no result is written in between
fi

read -r E2E_PASSED E2E_FAILED </e2e/phase2
echo "     (booted again)"
up
check_output "the enabled machine runs after the reboot" "cli-e" machinectl list --no-legend
check "machinespawn disable" $ms disable cli-e
check_output "... is disabled" "disabled" systemctl is-enabled systemd-nspawn@cli-e.service
# refused means a failure status, the reason, and nothing touched
out=$($ms remove cli-e 2>&1)
rc=$?
if [ $rc != 0 ] && [[ "$out" == *"is running"* ]]; then
        pass "remove refuses a running machine"
else
        fail "remove refuses a running machine (exit status $rc, expected a failure saying 'is running')"
        echo "$out" | sed 's/^/     | /' | tail -n 30
fi
check "... its tree is still there" test -d /var/lib/machines/cli-e/usr/bin
check_output "... and it still runs" "cli-e" machinectl list --no-legend
check "remove --force stops and removes it" $ms remove --force cli-e
check "... its tree is gone" test ! -e /var/lib/machines/cli-e
check_not_output "... it no longer runs" "cli-e" machinectl list --no-legend

# removal from a unit: machinespawn-remove@.service runs the same removal
mkdir -p /var/lib/machines/cli-gone/etc
check "systemctl start machinespawn-remove@cli-gone" systemctl start machinespawn-remove@cli-gone.service
check "... its tree is gone" test ! -e /var/lib/machines/cli-gone

# the cache upkeep as its timer starts it: an old base no machine used goes, a used one stays
check_output "machinespawn-cache.timer is installed" "machinespawn-cache.timer" \
        systemctl list-unit-files machinespawn-cache.timer
now=$(date +%s)
for k in debian-bookworm-amd64-minbase-0000aaaa debian-bookworm-amd64-minbase-0000bbbb; do
        mkdir -p "/var/cache/machinespawn/$k/etc"
done
printf 'built=%s\nlast-used=%s\n' $((now - 90 * 86400)) $((now - 60 * 86400)) \
        >/var/cache/machinespawn/debian-bookworm-amd64-minbase-0000aaaa.info
printf 'built=%s\nlast-used=%s\n' $((now - 90 * 86400)) $((now - 86400)) \
        >/var/cache/machinespawn/debian-bookworm-amd64-minbase-0000bbbb.info
check "systemctl start machinespawn-cache.service" systemctl start machinespawn-cache.service
check "... the base unused for 60 days is pruned" test ! -e /var/cache/machinespawn/debian-bookworm-amd64-minbase-0000aaaa
check "... the base used yesterday is kept" test -d /var/cache/machinespawn/debian-bookworm-amd64-minbase-0000bbbb
check_output "... it runs at the lowest priority" "Nice=19" systemctl show -p Nice machinespawn-cache.service
check_output "... and said so in the journal" "Pruned unused base debian-bookworm-amd64-minbase-0000aaaa" \
        journalctl -b -u machinespawn-cache.service --no-pager
check_output "list-cache shows the kept one, last used a day ago" "24h" $ms list-cache
e2e_done
