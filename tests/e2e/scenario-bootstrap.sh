# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-bootstrap.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"

declare_machine() { # NAME RELEASE [EXTRA LINES]
        printf '[Machine]\nDistribution=debian\nRelease=%s\n%s\n' "$2" "${3:-}" >"/etc/machinespawn/$1.mspawn"
}

machine_up() { # NAME: waits until the machine answers
        wait_for 90 systemd-run -M "$1" --wait -q true
}

journal_of() { journalctl -b -o cat -u "machinespawn-bootstrap@$1.service"; }

for r in bullseye bookworm trixie sid; do
        declare_machine "$r" "$r"
done
systemctl daemon-reload

# Four releases, each bootstrapped on its first start, each running afterwards.
declare -A version=([bullseye]="11." [bookworm]="12." [trixie]="13." [sid]="/sid")
for r in bullseye bookworm trixie sid; do
        start=$(date +%s)
        check "$r: systemctl start bootstraps and boots it" systemctl start "systemd-nspawn@$r"
        machine_up "$r"
        echo "     ($r ready in $(($(date +%s) - start)) s)"
        check_output "$r: machinectl lists it" "$r" machinectl list --no-legend
        check_output "$r: it is $r" "${version[$r]}" systemd-run -M "$r" --wait -q --pipe cat /etc/debian_version
        check "$r: machinectl shell works" machinectl shell "$r" /bin/true
        check_output "$r: its sources.list is for $r" "deb http://deb.debian.org/debian $r main" \
                systemd-run -M "$r" --wait -q --pipe cat /etc/apt/sources.list
        check_output "$r: the bootstrap went through the detected proxy" \
                "Used package proxy http://127.0.0.1:3142 (apt-cacher-ng)" journal_of "$r"
        check_not_output "$r: the proxy is not left in the machine" "3142" \
                systemd-run -M "$r" --wait -q --pipe /bin/sh -c 'cat /etc/apt/apt.conf.d/*'
        systemctl stop "systemd-nspawn@$r"
done

# A second machine of a kind: a copy from the cache, no bootstrap.
declare_machine bookworm2 12
systemctl daemon-reload
start=$(date +%s%N)
check "bookworm2 starts" systemctl start systemd-nspawn@bookworm2
echo "     (bookworm2 bootstrap unit done in $(( ($(date +%s%N) - start) / 1000000 )) ms)"
machine_up bookworm2
check_output "bookworm2 came from the cache" "(cached)" journal_of bookworm2
check_not_output "bookworm2 ran no bootstrap tool" "Bootstrapping" journal_of bookworm2
systemctl start systemd-nspawn@bookworm
machine_up bookworm
id1=$(systemd-run -M bookworm --wait -q --pipe cat /etc/machine-id)
id2=$(systemd-run -M bookworm2 --wait -q --pipe cat /etc/machine-id)
check "each machine has its own machine-id ($id1, $id2)" test -n "$id1" -a -n "$id2" -a "$id1" != "$id2"
check_output "bookworm2 has its own host name" "bookworm2" systemd-run -M bookworm2 --wait -q --pipe hostname
systemctl stop systemd-nspawn@bookworm systemd-nspawn@bookworm2

# SIGKILL in the middle of a build, then a new start: it works, and nothing half-built is used.
for m in k0 k1 k2 k3; do
        declare_machine "$m" bookworm "Packages=less"
done
systemctl daemon-reload
bases_before=$(ls /var/cache/machinespawn/*.info | wc -l)
systemctl start --no-block systemd-nspawn@k0
wait_for 120 sh -c 'systemctl show -p StatusText machinespawn-bootstrap@k0.service | grep -q Bootstrapping'
check_output "systemctl status tells which phase the bootstrap is in" "StatusText=Bootstrapping debian bookworm" \
        systemctl show -p StatusText machinespawn-bootstrap@k0.service
sleep 5
check_output "the bootstrap of k0 is still running after 5 s" "ActiveState=activating" \
        systemctl show -p ActiveState machinespawn-bootstrap@k0.service
check "the bootstrap of k0 is killed mid-build" systemctl kill -s KILL machinespawn-bootstrap@k0.service
wait_for 30 sh -c '! systemctl is-active -q machinespawn-bootstrap@k0.service'
check "no machine k0 after the kill" test ! -e /var/lib/machines/k0
check "no new base after the kill" test "$(ls /var/cache/machinespawn/*.info | wc -l)" -eq "$bases_before"
check "every base in the cache is complete (has its .info)" sh -c \
        'for b in /var/cache/machinespawn/*/ /var/cache/machinespawn/*.tar.zst; do
                [ -e "$b" ] || continue; b=${b%/}; test -f "${b%.tar.zst}.info" || exit 1; done'
systemctl reset-failed

# Four machines of that kind at once (k0 again among them): one bootstrap, four copies.
for m in k0 k1 k2 k3; do
        systemctl start "systemd-nspawn@$m" &
done
wait
for m in k0 k1 k2 k3; do
        machine_up "$m"
        check_output "$m runs" "$m" machinectl list --no-legend
done
n=$(for m in k0 k1 k2 k3; do journal_of "$m"; done | grep -c "Bootstrapping debian bookworm")
# k0's killed attempt logged one too
check "four machines started at once ran one bootstrap (plus k0's killed one): $n" test "$n" -eq 2
check "the killed build's temporaries are gone" sh -c '! ls -a /var/cache/machinespawn/ | grep -q "^\.tmp-"'
check "no machine temporaries are left" sh -c '! ls -a /var/lib/machines/ | grep -q "^\.#k[0-9]\.......$"'

# Remove: a running machine with a bind mount of a host directory inside.
mkdir -p /var/lib/machines/k3/mnt/hostdata
mount --bind /srv/hostdata /var/lib/machines/k3/mnt/hostdata
ln -s /srv/hostdata /var/lib/machines/k3/link-to-host
check "machinespawn-remove stops and removes k3" /usr/libexec/machinespawn/machinespawn-remove k3
check "k3 is stopped" sh -c '! systemctl is-active -q systemd-nspawn@k3.service'
check "k3's tree is gone" test ! -e /var/lib/machines/k3
check "k3's generated settings are gone" test ! -e /run/systemd/nspawn/k3.nspawn
check_output "the host file behind the bind mount is intact" "host data" cat /srv/hostdata/precious
check "the host directory behind the symlink is intact" test -d /srv/hostdata

for m in k0 k1 k2; do
        systemctl stop "systemd-nspawn@$m"
done

# The cache by hand: list-cache shows the bases, clean-cache removes one that is not in use.
check_output "list-cache lists the bases" "debian-bullseye-amd64-minbase-" machinespawn list-cache
bullseye_key=$(ls /var/cache/machinespawn/ | sed -n 's/^\(debian-bullseye-amd64-minbase-[0-9a-f]*\)\(\.tar\.zst\)\{0,1\}$/\1/p')
check "clean-cache removes a base" machinespawn clean-cache "$bullseye_key"
check "... and it is gone" sh -c "! ls /var/cache/machinespawn/ | grep -q '^$bullseye_key\(\.tar\.zst\)\{0,1\}\$'"
check_not_output "... from the list too" "debian-bullseye" machinespawn list-cache
e2e_done
