#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every command and helper that takes a machine NAME refuses a bad one before it touches anything: status
# 2 (usage), a message that says why, and not a byte changed on the file system (a listing of the whole
# test directory, with sizes, modes and times, is the same before and after). bootstrap's DISTRO-RELEASE,
# ARCH, --variant and --include, and cache keys, the same. Needs root (the commands run as root in
# earnest); no network, no systemd.
set -u
CLI=$1 BOOTSTRAP=$2 REMOVE=$3 PREPARE=$4 CACHE=$5 STARTED=$6
. "$(dirname "$0")/../e2e/inside.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

tmp=$(mktemp -d -p /var/tmp mspawn-names-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
top=$tmp/top
mkdir -p "$top/machines/good/etc" "$top/etc" "$top/cache" "$top/nspawn" "$top/run" "$top/state"
# a mirror that is not there: whatever slips through fails fast instead of bootstrapping
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n[debian]\nMirror=http://127.0.0.1:9/debian\n' "$top" \
        >"$top/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$top/machines MACHINESPAWN_RUN_DIR=$top/run MACHINESPAWN_STATE_DIR=$top/state \
        MACHINESPAWN_SYSCONFDIR=$top/etc MACHINESPAWN_CONFIG_PATH=$top/etc MACHINESPAWN_NSPAWN_DIR=$top/nspawn \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../../conf.d/machinespawn.conf
# Victims where "../x" and friends would lead: a tree beside the machines directory, a declaration beside
# the configuration directory, a base beside the cache, a settings file beside the nspawn directory.
mkdir -p "$top/x/etc" "$tmp/x/etc"
echo victim >"$top/x/etc/hostname"
echo victim >"$tmp/x/etc/hostname"
printf '[Machine]\nDistribution=debian\nRelease=12\n' >"$top/x.mspawn"
printf '[Exec]\nBoot=yes\n' >"$top/x.nspawn"
mkdir -p "$top/cache/../etc-base" && echo base >"$top/etc-base/file"
echo good >"$top/machines/good/etc/hostname"

snapshot() {
        find "$tmp" -printf '%p %y %s %m %T@\n' | LC_ALL=C sort
}
before=$(snapshot)

# refused DESCRIPTION EXPECTED-STATUS EXPECTED-STDERR-SUBSTRING COMMAND...: the status, the message, and
# the file system as it was.
refused() {
        local desc=$1 want=$2 text=$3 out rc after ok=1
        shift 3
        out=$(timeout 30 "$@" 2>&1 </dev/null)
        rc=$?
        after=$(snapshot)
        if [ "$rc" != "$want" ] || [[ "$out" != *"$text"* ]]; then
                fail "$desc (status $rc, expected $want and '$text')"
                echo "$out" | sed 's/^/     | /' | tail -n 10
                ok=0
        fi
        if [ "$after" != "$before" ]; then
                fail "$desc: the file system changed"
                diff <(echo "$before") <(echo "$after") | sed 's/^/     | /' | head -n 10
                before=$after # one change is reported once, by the command that made it
                ok=0
        fi
        [ $ok = 0 ] || pass "$desc"
}

long=$(printf 'a%.0s' {1..65})
names=("../x" "../../x" ".." "." "/etc" "a/b" "x/" ".x" "x." "a..b" $'a\nb' $'x\n[Service]\nExecStartPre=/bin/false'
       "" "a b" "$long" $'caf\xc3\xa9' 'a\b' 'a*' "%i")
why="is not a valid machine name"

for n in "${names[@]}"; do
        shown=$(printf '%q' "$n")
        refused "run $shown" 2 "$why" "$CLI" run "$n" true
        refused "boot $shown" 2 "$why" "$CLI" boot "$n"
        refused "remove $shown" 2 "$why" "$CLI" remove "$n"
        refused "remove --force $shown" 2 "$why" "$CLI" remove --force "$n"
        refused "cat $shown" 2 "$why" "$CLI" cat "$n"
        refused "enter $shown" 2 "$why" "$CLI" enter "$n"
        for v in start stop enable disable rebuild rollback; do
                refused "$v $shown" 2 "$why" "$CLI" "$v" "$n"
        done
        refused "bootstrap debian-12 $shown" 2 "$why" "$CLI" bootstrap debian-12 "$n"
        refused "bootstrap debian-12 $shown --no-save" 2 "$why" "$CLI" bootstrap debian-12 "$n" --no-save
        refused "pull-tar URL $shown" 2 "$why" "$CLI" pull-tar http://127.0.0.1:9/rootfs.tar "$n"
        refused "pull-oci REF $shown" 2 "$why" "$CLI" pull-oci docker://127.0.0.1:9/x "$n"
        refused "machinespawn-bootstrap $shown" 2 "Not a valid machine name" "$BOOTSTRAP" "$n"
        refused "machinespawn-remove $shown" 2 "Not a valid machine name" "$REMOVE" "$n"
        refused "machinespawn-prepare $shown" 2 "Not a valid machine name" "$PREPARE" "$n"
        refused "machinespawn-started $shown" 2 "Not a valid machine name" "$STARTED" "$n"
done
# names that look like options: refused as usage errors too, whatever says so
refused "run -x" 2 "invalid option" "$CLI" run -x
refused "remove -- -x" 2 "$why" "$CLI" remove -- -x
refused "machinespawn-remove -x" 2 "Usage" "$REMOVE" -x

# --- bootstrap's other arguments: each one checked before anything is written
refused "bootstrap with newlines and a section in ARCH (nothing saved)" 2 "is not a Debian architecture" \
        "$CLI" bootstrap debian-12 evil $'amd64\n[Service]\nExecStartPre=/bin/evil'
refused "pull-oci with a hostile REF" 2 "is not a registry reference" \
        "$CLI" pull-oci $'docker://x\n[Service]\nExecStartPre=/bin/evil' evil
refused "pull-oci with an unknown --arch" 2 "--arch=vax is not an architecture" "$CLI" pull-oci --arch=vax x evil
refused "bootstrap with an unknown ARCH" 2 "'vax' is not a Debian architecture" "$CLI" bootstrap debian-12 evil vax
refused "bootstrap with ARCH x86_64 (the kernel's name, not Debian's)" 2 "is not a Debian architecture" \
        "$CLI" bootstrap debian-12 evil x86_64
refused "bootstrap with a newline in DISTRO-RELEASE" 2 "is not DISTRIBUTION-RELEASE" \
        "$CLI" bootstrap $'debian-12\n[Service]\nExecStartPre=/bin/evil' evil
refused "bootstrap with a path in the release" 2 "is not DISTRIBUTION-RELEASE" "$CLI" bootstrap debian-../../x evil
refused "bootstrap with a path in the distribution" 2 "is not DISTRIBUTION-RELEASE" "$CLI" bootstrap ../x-12 evil
refused "bootstrap with an upper-case distribution" 2 "is not DISTRIBUTION-RELEASE" "$CLI" bootstrap Debian-12 evil
refused "bootstrap without a release" 2 "is not DISTRIBUTION-RELEASE" "$CLI" bootstrap debian- evil
refused "bootstrap with a newline in --variant" 2 "is not one of minbase, buildd, default" \
        "$CLI" bootstrap debian-12 evil $'--variant=minbase\n[Service]\nExecStartPre=/bin/evil'
refused "bootstrap with an unknown --variant" 2 "--variant=huge is not one of" \
        "$CLI" bootstrap debian-12 evil --variant=huge
refused "bootstrap with a newline in --include" 2 "is not a valid Debian package name" \
        "$CLI" bootstrap debian-12 evil $'--include=vim\nExecStartPre=/bin/evil'
refused "bootstrap with a blank in --include" 2 "'vim less' is not a valid Debian package name" \
        "$CLI" bootstrap debian-12 evil '--include=vim less'
refused "bootstrap with an upper-case --include" 2 "'Vim!' is not a valid Debian package name" \
        "$CLI" bootstrap debian-12 evil --include=less,Vim!
refused "bootstrap of an unknown release (status 1: not a usage error), nothing saved" 1 \
        "Release=potato7 is not a release of debian" "$CLI" bootstrap debian-potato7 evil
check "no declaration was written for any of them" test ! -e "$top/etc/evil.mspawn"

# --- cache keys
refused "clean-cache ../etc-base" 2 "is not a cache key" "$CLI" clean-cache ../etc-base
refused "clean-cache /etc" 2 "is not a cache key" "$CLI" clean-cache /etc
refused "clean-cache a good key and a path" 2 "is not a cache key" "$CLI" clean-cache debian-x-amd64-minbase-1 ../x
refused "machinespawn-cache with a path for an operation" 2 "Unknown operation" "$CACHE" ../etc-base
refused "machinespawn-cache with two arguments" 2 "Usage" "$CACHE" prune ..

# --- the same commands with a good name do act: the listing above would have seen it
out=$("$CLI" remove good 2>&1)
check "remove good (a valid name) removes its tree, so the checks above could see a change" \
        test ! -e "$top/machines/good"
[ "$(snapshot)" != "$before" ] && pass "... and the listing changed" || fail "... and the listing changed ($out)"
check "the victims outside are all still there" \
        test -s "$top/x/etc/hostname" -a -s "$tmp/x/etc/hostname" -a -s "$top/x.mspawn" -a -s "$top/x.nspawn" \
        -a -s "$top/etc-base/file"

# not e2e_done: its exit status is the number of failures, which wraps at 256
echo "scenario: $E2E_PASSED passed, $E2E_FAILED failed"
[ "$E2E_FAILED" = 0 ]
