#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# machinespawn-cache, as machinespawn-cache.service runs it, on temporary directories: a stale base a
# declared machine uses is rebuilt (its record of last use kept), a fresh one and one no machine declares
# are left alone; "prune" removes a base unused for longer than PruneUnusedAfter= and keeps a used one;
# list-cache shows them. debootstrap is a stand-in that makes a small tree: no network, no systemd.
set -u
CLI=$1 BOOTSTRAP=$2 CACHE=$3
. "$(dirname "$0")/../e2e/inside.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (machines are built as root)"; exit 77; }

tmp=$(mktemp -d -p /var/tmp mspawn-cache-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
top=$tmp/top
mkdir -p "$top/machines" "$top/etc" "$top/cache" "$top/run" "$top/state" "$tmp/bin"
cat >"$tmp/bin/debootstrap" <<'EOS'
#!/bin/sh
# a stand-in: the target is the second to last argument
for a; do target=$prev; prev=$a; done
mkdir -p "$target/etc/apt/apt.conf.d" "$target/var/cache/apt/archives" "$target/var/lib/apt/lists" \
        "$target/usr/bin" "$target/var/lib/dbus"
date +%s%N >"$target/etc/stand-in"
echo "$@" >>"${STANDIN_LOG:-/dev/null}"
EOS
chmod +x "$tmp/bin/debootstrap"
export PATH=$tmp/bin:$PATH STANDIN_LOG=$tmp/standin.log
printf '[Cache]\nDirectory=%s/cache\nMaxAge=7d\nPruneUnusedAfter=30d\n[Bootstrap]\nBootstrapper=debootstrap\nProxy=none\n' \
        "$top" >"$top/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$top/machines MACHINESPAWN_RUN_DIR=$top/run MACHINESPAWN_STATE_DIR=$top/state \
        MACHINESPAWN_SYSCONFDIR=$top/etc MACHINESPAWN_CONFIG_PATH=$top/etc MACHINESPAWN_NSPAWN_DIR=$top/run \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../../conf.d/machinespawn.conf MACHINESPAWN_CACHE_FORMAT=tree \
        MACHINESPAWN_DISTRO_INFO_DIR=$(dirname "$0")/../data/distro-info

info_field() { sed -n "s/^$2=//p" "$top/cache/$1.info"; }
set_field() { # KEY FIELD VALUE
        grep -v "^$2=" "$top/cache/$1.info" >"$tmp/info" && echo "$2=$3" >>"$tmp/info" && cat "$tmp/info" >"$top/cache/$1.info"
}
now=$(date +%s)

# --- a base made the ordinary way: by building a declared machine
printf '[Machine]\nDistribution=debian\nRelease=bookworm\n' >"$top/etc/used.mspawn"
check "machinespawn-bootstrap builds the machine and its base" "$BOOTSTRAP" used
key=$(sed -n 's/^base=//p' "$top/state/used.origin")
[ -n "$key" ] && [ -d "$top/cache/$key" ] && pass "the base is $key" || fail "no base ($key)"
used_at=$(info_field "$key" last-used)
[ -n "$used_at" ] && [ "$used_at" -ge "$now" ] && pass "its .info records the use ($used_at)" ||
        fail "its .info records the use ('$used_at')"
check_output "list-cache shows it, last used now" "0h" "$CLI" list-cache
check_output "list-cache --output=json" "\"key\": \"$key\"" "$CLI" list-cache --output=json

# --- refresh
check "refresh: nothing is stale" "$CACHE" refresh
[ "$(wc -l <"$tmp/standin.log")" = 1 ] && pass "... nothing rebuilt" || fail "... nothing rebuilt"
set_field "$key" built $((now - 8 * 86400))
set_field "$key" last-used $((now - 86400))
mkdir -p "$top/cache/debian-sid-amd64-minbase-00000000" # no machine declares it
printf 'built=%s\n' $((now - 20 * 86400)) >"$top/cache/debian-sid-amd64-minbase-00000000.info"
check_output "refresh rebuilds the stale base of a declared machine" "Refreshed base $key" "$CACHE" refresh
[ "$(info_field "$key" built)" -ge "$now" ] && pass "... built now" || fail "... built now"
[ "$(info_field "$key" last-used)" = $((now - 86400)) ] && pass "... its last use kept" ||
        fail "... its last use kept ($(info_field "$key" last-used))"
[ "$(info_field debian-sid-amd64-minbase-00000000 built)" = $((now - 20 * 86400)) ] &&
        pass "... a base no declared machine uses is not rebuilt" || fail "... a base no declared machine uses is not rebuilt"

# --- prune: the undeclared base unused for 20 days stays (30d), then goes at 10d; a used one stays
check_output "prune with PruneUnusedAfter=30d" "" "$CACHE" prune
check "... keeps a base unused for 20 days" test -d "$top/cache/debian-sid-amd64-minbase-00000000"
set_field "$key" last-used $((now - 40 * 86400))
mkdir -p "$top/cache/debian-trixie-amd64-minbase-00000000"
printf 'built=%s\nlast-used=%s\n' $((now - 90 * 86400)) $((now - 2 * 86400)) \
        >"$top/cache/debian-trixie-amd64-minbase-00000000.info"
check_output "prune removes a base unused for 40 days" "Pruned unused base $key" "$CACHE" prune
check "... it is gone" test ! -e "$top/cache/$key" -a ! -e "$top/cache/$key.info"
check "... one used 2 days ago stays" test -d "$top/cache/debian-trixie-amd64-minbase-00000000"
printf '[Cache]\nPruneUnusedAfter=10d\n' >"$top/etc/machinespawn.conf.d.conf"
mkdir -p "$top/etc/machinespawn.conf.d" && mv "$top/etc/machinespawn.conf.d.conf" "$top/etc/machinespawn.conf.d/10d.conf"
check_output "maintain with PruneUnusedAfter=10d" "Pruned unused base debian-sid-amd64-minbase-00000000" "$CACHE" maintain
check "... the used one still stays" test -d "$top/cache/debian-trixie-amd64-minbase-00000000"
check "the machine itself is never touched" test -f "$top/machines/used/etc/stand-in"
check_output "a bad PruneUnusedAfter= names file, line and key" "bad.conf:2: [cache] pruneunusedafter=soon" \
        sh -c "printf '[Cache]\nPruneUnusedAfter=soon\n' >'$top/etc/machinespawn.conf.d/bad.conf'; '$CACHE' prune"

echo "scenario: $E2E_PASSED passed, $E2E_FAILED failed"
[ "$E2E_FAILED" = 0 ]
