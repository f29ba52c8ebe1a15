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
e2e_done
