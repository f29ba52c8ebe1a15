# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-ports.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"
unit=systemd-nspawn@web.service
in_web() { systemd-run -M web --wait -q --pipe "$@"; }
host=$(ip -4 -o addr show dev e2e0 | sed -n 's|.* inet \([0-9.]*\)/.*|\1|p')
# answer DEST: the first line a connection to DEST (address/port) gets, within 5 s
answer() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$1" && head -n1 <&3' sh "$1"; }
rules() { nft list ruleset; }

check "the test host has its own network namespace with an address that is not loopback ($host)" \
        test -n "$host"
check_output "the test host runs on the unified cgroup hierarchy" "cgroup2fs" stat -f -c %T /sys/fs/cgroup

check "the machine starts" systemctl start $unit
wait_for 60 systemd-run -M web --wait -q true
check_output "the machine runs on the unified cgroup hierarchy too" "cgroup2fs" in_web stat -f -c %T /sys/fs/cgroup
# [Network] grants privileges: systemd-nspawn honours it only from /etc/systemd/nspawn and /run/systemd/nspawn,
# never from a .nspawn beside the tree
check_output "machinespawn-prepare wrote Port= where systemd-nspawn trusts [Network]" "Port=tcp:8080:80" \
        cat /run/systemd/nspawn/web.nspawn
check "VirtualEthernet=yes: the host end ve-web exists" ip link show ve-web

# Addresses by hand: systemd-networkd runs in neither (the DNAT target is the machine's first address)
ip addr add 10.210.0.1/24 dev ve-web
ip link set ve-web up
check "the machine's host0 gets an address and a route back" in_web /bin/sh -c \
        'ip addr add 10.210.0.2/24 dev host0 && ip link set host0 up && ip route add default via 10.210.0.1'
# a listener on port 80 inside: each connection gets one line
check "a listener runs in the machine" systemd-run -M web -q --unit=e2e-listener \
        systemd-socket-activate -l 80 -a --inetd /bin/echo hello-from-web
wait_for 20 in_web systemctl is-active -q e2e-listener.service
check_output "... it answers inside the machine" "hello-from-web" in_web bash -c \
        'exec 3<>/dev/tcp/127.0.0.1/80 && head -n1 <&3'

wait_for 20 sh -c 'nft list ruleset | grep -q "8080 :"'
# systemd 252 too: it tries nftables first and uses iptables (libiptc) only when that fails
check_output "the forwarding is in nftables: the io.systemd.nat table" "table ip io.systemd.nat" rules
# nft names the protocol by number (6) or by name (tcp), depending on its version
check "... maps tcp 8080 to the machine's port 80" sh -c \
        "nft list ruleset | grep -Eq '(6|tcp) \. 8080 : 10\.210\.0\.2 \. 80'"
check_not_output "... and iptables is not used" "nat" cat /proc/net/ip_tables_names
check_output "a connection to the test host's own address on 8080 reaches the machine" "hello-from-web" \
        answer "$host/8080"
# Local connections are forwarded by a DNAT in the output hook for every local destination but 127.0.0.0/8
# (the same rule on 252, 257 and 262); connections from elsewhere by one in the prerouting hook.
check_output "a local connection to 127.0.0.1:8080 is not forwarded" "refused" answer 127.0.0.1/8080
check_output "... the output hook's DNAT leaves loopback out" "ip daddr != 127.0.0.0/8" \
        nft list chain ip io.systemd.nat output

# machinectl shell runs a command and shows its output, but ends with 0 whatever the command's status on
# 252, 257 and 262 alike; machinespawn enter goes through systemd-run -M --wait, which passes the status on
# (test-cli.sh, test-user.sh).
check_output "machinectl shell shows a command's output" "shell-output" machinectl shell web /bin/echo shell-output
check_output "machinectl shell ends with 0 for a command that failed" "status 0" \
        sh -c "machinectl shell web /bin/sh -c 'exit 3' >/dev/null 2>&1; echo status \$?"

check "the machine stops" systemctl stop $unit
check_not_output "the forwarding is gone after the stop" "8080" rules
check_output "... and nothing answers on 8080" "refused" answer "$host/8080"
e2e_done
