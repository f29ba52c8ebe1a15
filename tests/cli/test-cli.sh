#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The machinespawn command on a machine without systemd as init (like CI): bootstrap debian-12 from the
# real Debian mirror, run, list (text and JSON), pull-tar from a loopback server, remove, clean-cache,
# and every error path's message and exit status. Needs root and the mirror; skips (77) otherwise. Bad
# names and arguments of every command are in test-cli-names.sh, which needs neither.
set -u
CLI=$1
. "$(dirname "$0")/../e2e/inside.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "SKIP: needs systemd-nspawn"; exit 77; }
timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null || { echo "SKIP: no Debian mirror"; exit 77; }

tmp=$(mktemp -d -p /var/tmp mspawn-cli-XXXXXX)
server=
trap '[ -n "$server" ] && kill $server; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc"
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n' "$tmp" >"$tmp/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state MACHINESPAWN_SYSCONFDIR=$tmp/etc \
        MACHINESPAWN_CONFIG_PATH=$tmp/etc MACHINESPAWN_NSPAWN_DIR=$tmp/nspawn \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../../conf.d/machinespawn.conf

# check_status DESCRIPTION EXPECTED-STATUS EXPECTED-STDERR-SUBSTRING COMMAND...
check_status() {
        local desc=$1 want=$2 text=$3 out rc
        shift 3
        out=$("$@" 2>&1)
        rc=$?
        if [ "$rc" = "$want" ] && [[ "$out" == *"$text"* ]]; then
                pass "$desc"
        else
                fail "$desc (status $rc, expected $want and '$text')"
                echo "$out" | sed 's/^/     | /' | tail -n 20
        fi
}

# --- errors: message and exit status (2 usage, 1 failure)
check_status "no command: usage, status 2" 2 "COMMAND" "$CLI"
check_status "unknown command" 2 "Unknown command 'frob'" "$CLI" frob
check_status "bootstrap with a malformed DISTRO-RELEASE" 2 "is not DISTRIBUTION-RELEASE" "$CLI" bootstrap debian x
check_status "bootstrap with a bad machine name" 2 "not a valid machine name" "$CLI" bootstrap debian-12 a..b
check_status "bootstrap of an unknown release lists the known ones" 1 "Release=potato7 is not a release of debian (known:" \
        "$CLI" bootstrap debian-potato7 x
check_status "bootstrap with an unknown architecture" 2 "'vax' is not a Debian architecture" \
        "$CLI" bootstrap debian-12 x vax
check_status "bootstrap with a bad --variant" 2 "--variant=huge is not one of minbase, buildd, default" \
        "$CLI" bootstrap debian-12 x --variant=huge
check_status "bootstrap with a bad --include" 2 "'Vim!' is not a valid Debian package name" \
        "$CLI" bootstrap debian-12 x --include=less,Vim!
check "failed bootstraps declared nothing" test ! -e "$tmp/etc/x.mspawn"
check_status "pull-tar with a bad URL" 1 "is not an http://, https:// or file:/// URL" "$CLI" pull-tar ftp://x/y z
check_status "pull-tar with a bad --verify" 2 "--verify=md5 is not one of" "$CLI" pull-tar --verify=md5 http://x/y z
check_status "remove of a machine that is not there" 1 "Machine ghost has no image" "$CLI" remove ghost
check_status "run of a machine that is not there" 1 "Machine ghost has no image" "$CLI" run ghost true
check_status "start without systemd says so in one line" 1 "needs systemd as the init system" "$CLI" start ghost
check_status "list with an unknown format" 2 "--output=xml is not text or json" "$CLI" list --output=xml
check_status "a command that changes the system, as a user" 1 "run it as root" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" bootstrap debian-12 x
check_status "--help per command" 0 "bootstrap DISTRO-RELEASE NAME" "$CLI" bootstrap --help
check_status "--version" 0 "machinespawn " "$CLI" --version
check_status "check finds the tools" 0 "debootstrap" "$CLI" check

# --- bootstrap from the real mirror, then a second from the cache
start=$(date +%s)
check_status "bootstrap debian-12 cli1" 0 "Machine cli1 ready" "$CLI" bootstrap debian-12 cli1
echo "     (in $(($(date +%s) - start)) s)"
check_output "it wrote the declaration" "Release=12" cat "$tmp/etc/cli1.mspawn"
check "... exactly as the writer makes it from the model" cmp "$tmp/etc/cli1.mspawn" <(printf '%s\n' \
        '# Written by "machinespawn bootstrap".' '[Machine]' 'Distribution=debian' 'Release=12')
check "the machine exists" test -d "$tmp/machines/cli1/etc"
check_status "bootstrap debian-bookworm cli2 --no-save comes from the cache" 0 "from the cache" \
        "$CLI" bootstrap debian-bookworm cli2 --no-save
check "--no-save wrote no declaration" test ! -e "$tmp/etc/cli2.mspawn"
check_status "bootstrap of an existing machine builds nothing" 0 "exists already" "$CLI" bootstrap debian-12 cli1

# --- run
check_output "run cli1 cat /etc/os-release" "bookworm" "$CLI" run cli1 cat /etc/os-release
check_status "run passes on the command's exit status" 7 "" "$CLI" run cli1 sh -c 'exit 7'
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=http://127.0.0.1:9/\n' "$tmp" >"$tmp/etc/machinespawn.conf"
check_output "run makes the proxy available to apt (\$http_proxy)" "http://127.0.0.1:9/" \
        "$CLI" run cli1 printenv http_proxy
check "... and leaves nothing of it in the machine" sh -c "! grep -rq '127.0.0.1:9' '$tmp/machines/cli1/etc/apt/'"
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n' "$tmp" >"$tmp/etc/machinespawn.conf"

# --- list
check_output "list shows cli1 declared, with its image and base" "cli1" "$CLI" list
check_output "list text has the base it came from" "base=debian-bookworm-amd64-minbase-" "$CLI" list
json=$("$CLI" list --output=json)
check "list --output=json is JSON with the fields" python3 -c '
import json, sys
rows = {r["name"]: r for r in json.loads(sys.argv[1])}
c1, c2 = rows["cli1"], rows["cli2"]
assert c1["declared"].endswith("/cli1.mspawn") and c1["image"] and not c1["running"], c1
assert c2["declared"] is None and c2["image"] and c2["size"] > 50 << 20, c2
assert c1["origin"].startswith("base=debian-bookworm-amd64-minbase-") and 0 <= c1["base_age"] < 3600, c1
' "$json"

# --- pull-tar from a loopback server
mkdir -p "$tmp/www"
tar -C "$tmp/machines/cli2" -cf - . | zstd -q -T0 -o "$tmp/www/rootfs.tar.zst"
(cd "$tmp/www" && sha256sum rootfs.tar.zst >SHA256SUMS)
. "$(dirname "$0")/../http-server.sh"
http_server_start "$tmp/www"
server=$http_pid port=$http_port
check_status "pull-tar from a loopback server" 0 "Machine cli3 ready" \
        "$CLI" pull-tar "http://127.0.0.1:$port/rootfs.tar.zst" cli3
check_output "the pulled machine works" "bookworm" "$CLI" run cli3 cat /etc/os-release
check_status "pull-tar onto an existing machine" 1 "exists already" \
        "$CLI" pull-tar "http://127.0.0.1:$port/rootfs.tar.zst" cli3

# --- cat, boot
check_output "cat shows the declaration with its file name" "# $tmp/etc/cli1.mspawn" "$CLI" cat cli1
check_output "cat shows what the generator makes of it" "Requires=machinespawn-bootstrap@cli1.service" "$CLI" cat cli1
check_status "cat of an undeclared machine" 1 "No cli2.mspawn" "$CLI" cat cli2
# boot: the machine's own init, which powers off as soon as it is up
cat >"$tmp/machines/cli2/etc/systemd/system/poweroff-now.service" <<'UNIT'
[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/systemctl poweroff --no-block
UNIT
ln -s ../poweroff-now.service "$tmp/machines/cli2/etc/systemd/system/multi-user.target.wants/poweroff-now.service"
check_status "boot runs the machine's init in the foreground" 0 "Reached target" timeout 120 "$CLI" boot cli2

# --- bash completion
check_output "bash completion offers the commands" "bootstrap" bash -c \
        ". '$(dirname "$0")/../../shell-completion/machinespawn'; COMP_WORDS=('$CLI' boo); COMP_CWORD=1;
         _machinespawn; echo \${COMPREPLY[@]}"
check_output "bash completion offers the machines" "cli1" bash -c \
        ". '$(dirname "$0")/../../shell-completion/machinespawn'; COMP_WORDS=('$CLI' run cl); COMP_CWORD=2;
         _machinespawn; echo \${COMPREPLY[@]}"

# --- remove
printf '[Machine]\nDistribution=debian\nRelease=12\n' >"$tmp/etc/cli2.mspawn"
check_status "remove cli1" 0 "Removed machine cli1" "$CLI" remove cli1
check "its tree is gone" test ! -e "$tmp/machines/cli1"
check "the declaration bootstrap wrote is gone" test ! -e "$tmp/etc/cli1.mspawn"
check_status "remove cli2" 0 "Removed machine cli2" "$CLI" remove cli2
check "a hand-written declaration stays" test -e "$tmp/etc/cli2.mspawn"
check_status "bootstrap debian-12 cli4 (from the cache)" 0 "Machine cli4 ready" "$CLI" bootstrap debian-12 cli4
check_status "remove cli4 --keep-config" 0 "Removed machine cli4" "$CLI" remove --keep-config cli4
check "... keeps the declaration bootstrap wrote" test -e "$tmp/etc/cli4.mspawn"

# --- clean-cache
check_status "list-cache shows the base, last used now" 0 "0h" "$CLI" list-cache
check_status "list-cache names it" 0 "debian-bookworm-amd64-minbase-" "$CLI" list-cache
check_status "clean-cache of an unknown key" 1 "No base nope" "$CLI" clean-cache nope
check_status "clean-cache removes every base" 0 "Removed base debian-bookworm-amd64-minbase-" "$CLI" clean-cache
check "the cache has no base left" sh -c "! ls '$tmp/cache' | grep -v '\.lock\$' | grep -q '^debian-'"

e2e_done
