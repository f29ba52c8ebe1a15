#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# README's quick start, as written, on a fresh Debian root (bookworm: minbase and systemd, nothing else):
# the setup command from the source tree, then the main job booted with systemd as init (declare, start,
# machinectl lists the machine), then the main job for hosts without systemd as init (bootstrap, run) in
# the same root, not booted. apt goes to the Debian mirror through apt-cacher-ng.
. "$(dirname "$0")/common.sh"
package_require
e2e_workdir
trap 'e2e_acng_stop; rm -rf "$work"' EXIT

# README's shell blocks under "## Quick start": setup, main job with systemd, main job without.
mkdir -p "$work/readme"
awk -v dir="$work/readme" '
        /^## / { inside = ($0 ~ /^## Quick start/) }
        inside && /^```sh$/ { n++; block = 1; next }
        block && /^```$/ { block = 0; next }
        block { print > (dir "/" n ".sh") }
' "$SOURCE_ROOT/README.md"
for n in 1 2 3; do
        [ -s "$work/readme/$n.sh" ] || { echo "FAIL README's quick start has no shell block $n"; exit 1; }
done

e2e_acng_start "$work" 3143
tree=$(e2e_root_tree bookworm systemd systemd-sysv dbus) || exit $?
e2e_prepare_root "$work" "$tree"
src=$(package_copy_source "$work")
mv "$src" "$work/root/src"
cp "$work"/readme/*.sh "$work/root/e2e/"
cat >"$work/scenario.sh" <<'SCENARIO'
. /e2e/inside.sh
cd /src || exit 1
check "README: $(cat /e2e/1.sh)" bash -e /e2e/1.sh
check "README (systemd): $(head -n 1 /e2e/2.sh)..." bash -e /e2e/2.sh
check_output "machinectl lists bread" bread machinectl list --no-legend
check "machinespawn check" machinespawn check
check "setup built without cmocka; -Dtests=enabled fails for its lack" sh -c \
        '! meson setup /tmp/t -Dtests=enabled >/tmp/t.log 2>&1 && grep -q "cmocka.*not found" /tmp/t.log'
systemctl stop systemd-nspawn@bread
e2e_done
SCENARIO
e2e_boot "$work" "$work/scenario.sh"
rc=$?

# The same root, not booted: systemd is not PID 1 there. README's two jobs are alternatives that both
# name the machine bread: remove the first one's.
if out=$(e2e_run_in "$work/root" --capability=all --chdir=/src \
        sh -c 'machinespawn remove bread && rm /etc/machinespawn/bread.mspawn && bash -e /e2e/3.sh' 2>&1); then
        echo "ok   README (no systemd as init): $(cat "$work/readme/3.sh")"
        echo "$out" | tail -n 3 | sed 's/^/     | /'
else
        echo "FAIL README (no systemd as init): $(cat "$work/readme/3.sh")"
        echo "$out" | tail -n 30 | sed 's/^/     | /'
        rc=$((rc + 1))
fi
exit $rc
