# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-oci.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"
port=$(cat /e2e/registry-port)

check "the registry serves the bound storage" systemctl start e2e-registry.service
wait_for 30 curl -sf "http://127.0.0.1:$port/v2/"
check_output "... on loopback" "e2e/os" curl -sf "http://127.0.0.1:$port/v2/_catalog"

# an image with systemd: pulled at the first start and booted
check "systemctl start pulls an Image=docker:// machine and boots it" systemctl start systemd-nspawn@ocios ||
        journalctl -b -o cat -u machinespawn-bootstrap@ocios.service | tail -n 15 | sed 's/^/     | /'
wait_for 120 systemd-run -M ocios --wait -q true
check_output "machinectl lists it" "ocios" machinectl list --no-legend
check_output "its PID 1 is systemd" "systemd" systemd-run -M ocios --wait -q --pipe cat /proc/1/comm
check_output "it is the tree from the image" "bookworm" systemd-run -M ocios --wait -q --pipe cat /etc/os-release
check_output "it has its own host name" "ocios" systemd-run -M ocios --wait -q --pipe hostname
check_output "its layer was fetched from the registry" "/v2/e2e/os/blobs/sha256:" \
        journalctl -b -o cat -u e2e-registry.service
if [ -f /e2e/btrfs ]; then
        # /var/lib/machines and the cache on one btrfs: the image tree a subvolume, each machine a snapshot
        # (a subvolume's top directory is inode 256)
        blobs=$(journalctl -b -o cat -u e2e-registry.service | grep -c '/v2/e2e/os/blobs/')
        check_output "btrfs: the first machine is a snapshot of the cached image tree" "256" \
                stat -c %i /var/lib/machines/ocios
        check "btrfs: a second machine of the image starts" systemctl start systemd-nspawn@ocisnap
        wait_for 120 systemd-run -M ocisnap --wait -q true
        check_output "btrfs: ... booted, with its own host name" "ocisnap" \
                systemd-run -M ocisnap --wait -q --pipe hostname
        check_output "btrfs: ... a snapshot too" "256" stat -c %i /var/lib/machines/ocisnap
        check "btrfs: ... with no blob fetched again" \
                sh -c "[ \$(journalctl -b -o cat -u e2e-registry.service | grep -c '/v2/e2e/os/blobs/') = $blobs ]"
        systemd-run -M ocisnap --wait -q sh -c 'echo only-here >/etc/e2e-mark'
        check_output "btrfs: a machine writes into its snapshot" "only-here" \
                systemd-run -M ocisnap --wait -q --pipe cat /etc/e2e-mark
        check_not_output "btrfs: what one machine writes, the other does not see" "only-here" \
                systemd-run -M ocios --wait -q --pipe sh -c 'cat /etc/e2e-mark 2>/dev/null; true'
        systemctl stop systemd-nspawn@ocisnap
        check "btrfs: the snapshot machine is removed" machinespawn remove ocisnap
        check_not_output "btrfs: ... and gone" "ocisnap" ls /var/lib/machines
        check_output "btrfs: ... the first machine still has its tree" "bookworm" cat /var/lib/machines/ocios/etc/os-release
fi
systemctl stop systemd-nspawn@ocios

# an image without init: its entrypoint runs as the container's process, to completion
check "systemctl start pulls an image without init and runs its entrypoint" systemctl start systemd-nspawn@ocitiny
wait_for 60 sh -c 'case $(systemctl is-active systemd-nspawn@ocitiny) in active|activating|reloading) exit 1;; esac'
check_output "the entrypoint ran to completion, with the image's Env and WorkingDir" \
        "ran with from-the-image in /srv" cat /var/lib/machines/ocitiny/srv/ran
check_output "its output is in the unit's journal" "oci-entrypoint-line-42" \
        journalctl -b -o cat -u systemd-nspawn@ocitiny.service
# systemd says so when the main process exits 0 (a unit that never ran, or failed, does not); the line
# reaches the journal a moment after the unit is inactive
wait_for 15 sh -c 'journalctl -b -o cat -u systemd-nspawn@ocitiny.service | grep -q "Deactivated successfully"'
check_output "the unit ended as the entrypoint did: successfully" "Deactivated successfully" \
        journalctl -b -o cat -u systemd-nspawn@ocitiny.service
systemctl stop e2e-registry.service
e2e_done
