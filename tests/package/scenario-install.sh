# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside a fresh Debian root booted with systemd, see test-install.sh: installs the package with apt,
# declares a machine and starts it as README says, then purges the package.
. /e2e/inside.sh
export DEBIAN_FRONTEND=noninteractive
m=bread

check "apt-get update" apt-get update -q
check "apt-get install the package (with its Recommends)" apt-get install -y -q /e2e/machinespawn.deb
check "the generator is where systemd runs it" test -x /usr/lib/systemd/system-generators/machinespawn-generator
check "tmpfiles.d made /etc/machinespawn" test -d /etc/machinespawn
check "... and /var/lib/machines" test -d /var/lib/machines
check "machinespawn check passes with the package's dependencies" machinespawn check
check_output "... and finds mmdebstrap (recommended)" "mmdebstrap                                       ok" \
        machinespawn check

printf '[Machine]\nDistribution=debian\nRelease=bookworm\n' >/etc/machinespawn/$m.mspawn
check "systemctl daemon-reload" systemctl daemon-reload
check_output "the generator made systemd-nspawn@$m a machinespawn machine" machinespawn-bootstrap@ \
        systemctl cat systemd-nspawn@$m.service
check "systemctl start systemd-nspawn@$m (bootstraps it)" systemctl start systemd-nspawn@$m
check_output "machinectl lists it" "$m" machinectl list --no-legend
check "systemd-run -M reaches its systemd" wait_for 60 systemd-run -M $m --wait -q true
check "systemctl stop systemd-nspawn@$m" systemctl stop systemd-nspawn@$m

dpkg --remove --force-depends zstd >/dev/null 2>&1
check_output "without zstd, check names the package" "apt-get install zstd" machinespawn check
check "apt-get install -f puts it back" apt-get install -f -y -q

check "the first start filled the cache of base trees" test -n "$(ls -A /var/cache/machinespawn)"
check "apt-get purge machinespawn" apt-get purge -y -q machinespawn
check "the machine's tree is intact" test -f /var/lib/machines/$m/etc/os-release
check "its declaration stays" test -f /etc/machinespawn/$m.mspawn
check "the package's programs are gone" test ! -e /usr/bin/machinespawn -a \
        ! -e /usr/lib/systemd/system-generators/machinespawn-generator -a ! -e /usr/libexec/machinespawn
check "the cache of base trees is gone" test ! -e /var/cache/machinespawn
check "dpkg knows nothing of it" sh -c '! dpkg -s machinespawn >/dev/null 2>&1'
check_not_output "systemd-nspawn@$m is plain again after the purge" machinespawn-bootstrap \
        systemctl cat systemd-nspawn@$m.service
e2e_done
