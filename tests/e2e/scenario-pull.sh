# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-pull.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"

check "systemctl start downloads, verifies, unpacks and boots an Image= machine" systemctl start systemd-nspawn@img
wait_for 90 systemd-run -M img --wait -q true
check_output "machinectl lists it" "img" machinectl list --no-legend
check_output "it is the tree from the tarball" "bookworm" systemd-run -M img --wait -q --pipe cat /etc/os-release
check_output "it has its own host name" "img" systemd-run -M img --wait -q --pipe hostname
check_output "the download was verified against its SHA256SUMS" "(downloaded, matches its SHA256SUMS)" \
        journalctl -b -o cat -u machinespawn-bootstrap@img.service

check "a second machine from the same URL starts" systemctl start systemd-nspawn@img2
wait_for 90 systemd-run -M img2 --wait -q true
check_output "... unpacked from the cached download, verified again" \
        "(unchanged on the server, unpacked from the cached download, matches its SHA256SUMS)" \
        journalctl -b -o cat -u machinespawn-bootstrap@img2.service
systemctl stop systemd-nspawn@img systemd-nspawn@img2
e2e_done
