#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A machine following its .mspawn after the first build, without systemd as init: machinespawn-bootstrap
# (what machinespawn-bootstrap@NAME.service runs before every start) builds it with a Run= and a Copy=
# hook, installs a package added to Packages= (from the Debian mirror, in the machine's own apt), reports
# a removed one, re-runs a changed hook, stops at a Release= change naming "machinespawn rebuild";
# "rebuild" killed before and after its swap leaves a machine (old, then new) with the Keep= data;
# "rollback" returns and returns again until machinespawn-started (the ExecStartPost= of the machine's unit)
# drops the previous tree; a package taken out of Packages= is removed with RemoveUnlistedPackages=yes; a
# failing Run= on a first build leaves no machine. Needs root, systemd-nspawn and the mirror; skips (77)
# otherwise.
set -u
CLI=$1 BOOTSTRAP=$2 STARTED=$3
. "$(dirname "$0")/../e2e/inside.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v systemd-nspawn >/dev/null || { echo "SKIP: needs systemd-nspawn"; exit 77; }
command -v debootstrap >/dev/null || { echo "SKIP: needs debootstrap"; exit 77; }
timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null || { echo "SKIP: no Debian mirror"; exit 77; }

tmp=$(mktemp -d -p /var/tmp mspawn-life-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc"
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n' "$tmp" >"$tmp/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state \
        MACHINESPAWN_SYSCONFDIR=$tmp/etc MACHINESPAWN_CONFIG_PATH=$tmp/etc MACHINESPAWN_NSPAWN_DIR=$tmp/nspawn \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../../conf.d/machinespawn.conf
m=$tmp/machines/lc

# check_status DESCRIPTION EXPECTED-STATUS EXPECTED-OUTPUT-SUBSTRING COMMAND...
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

declare_lc() { # RELEASE [EXTRA LINES...]
        local release=$1
        shift
        {
                printf '[Machine]\nDistribution=debian\nRelease=%s\nKeep=/home /srv/data\n' "$release"
                printf 'Copy=%s/host-file:/etc/from-host\n' "$tmp"
                printf '%s\n' "$@"
        } >"$tmp/etc/lc.mspawn"
}

echo "from the host" >"$tmp/host-file"

# --- first build: hooks run once, before the first boot
declare_lc bookworm 'Run=echo first >/etc/hooked' 'Run=echo second >>/etc/hooked'
check_status "first start builds lc" 0 "ready" "$BOOTSTRAP" lc
check "Run= hooks ran in order" test "$(cat "$m/etc/hooked" 2>&1)" = $'first\nsecond'
check "Copy= put the host file in" test "$(cat "$m/etc/from-host" 2>&1)" = "from the host"
check "the origin record names the release" grep -qx "release=bookworm" "$tmp/state/lc.origin"
echo again >>"$m/etc/hooked"
check_status "a second start runs nothing again" 0 "" "$BOOTSTRAP" lc
check "hooks did not run twice" test "$(tail -n 1 "$m/etc/hooked")" = again

mkdir -p "$m/home/alice" "$m/srv/data"
echo "alice's notes" >"$m/home/alice/notes"
echo "rows" >"$m/srv/data/table"

# --- Packages= extended: installed before boot, in the machine's apt
declare_lc bookworm 'Run=echo first >/etc/hooked' 'Run=echo second >>/etc/hooked' 'Packages=hello'
check "hello is not there yet" test ! -e "$m/usr/bin/hello"
check_status "start installs the added package" 0 "" "$BOOTSTRAP" lc
check "hello is installed in lc" test -x "$m/usr/bin/hello"
check "and recorded" grep -qx "packages=hello" "$tmp/state/lc.origin"

# --- removed from the list: reported, kept
declare_lc bookworm 'Run=echo first >/etc/hooked' 'Run=echo second >>/etc/hooked'
check_status "a removed package is named in a warning" 0 "Packages= no longer lists hello" "$BOOTSTRAP" lc
check "and stays installed" test -x "$m/usr/bin/hello"

# --- a changed hook runs again, the unchanged one does not
declare_lc bookworm 'Run=echo first >/etc/hooked' 'Run=echo changed >>/etc/hooked'
check_status "start after a Run= edit" 0 "" "$BOOTSTRAP" lc
check "only the changed hook ran" test "$(cat "$m/etc/hooked")" = $'first\nsecond\nagain\nchanged'
declare_lc bookworm 'RunOnStart=false'
check_status "a failing RunOnStart= fails the start" 1 "RunOnStart=false failed in lc" "$BOOTSTRAP" lc

# --- Release= changed: the start stops and says what to run
declare_lc trixie 'Run=echo rebuilt >/etc/hooked'
check_status "a Release= change stops the start" 1 \
        'Release= changed from bookworm to trixie: machine lc cannot follow it in place; apply it with "machinespawn rebuild lc"' \
        "$BOOTSTRAP" lc
check "lc is still bookworm" grep -q '^12' "$m/etc/debian_version"

# --- rebuild killed before the swap: the old machine, whole
MACHINESPAWN_TEST_FAIL_AT=keep "$CLI" rebuild lc >"$tmp/log" 2>&1
check "the killed rebuild died (SIGKILL)" test $? = 137
check_status "lc runs a command after the killed rebuild" 0 "" "$CLI" run lc true
check "lc is still bookworm" grep -q '^12' "$m/etc/debian_version"
check_status "the next start tidies up, and still refuses" 1 "Release= changed" "$BOOTSTRAP" lc
check "no rebuild left beside it" test ! -e "$tmp/machines/.lc.new"
check "nor its record" test ! -e "$tmp/state/lc.origin.new"

# --- killed right after the exchange: the new machine, and the next start finishes the step
MACHINESPAWN_TEST_FAIL_AT=exchange "$CLI" rebuild lc >"$tmp/log" 2>&1
check "the second killed rebuild died" test $? = 137
check_status "the next start takes the new tree" 0 "" "$BOOTSTRAP" lc
check "lc is trixie" grep -q '^13' "$m/etc/debian_version"
check "Keep=/home carried over" test "$(cat "$m/home/alice/notes" 2>&1)" = "alice's notes"
check "Keep=/srv/data carried over" test "$(cat "$m/srv/data/table" 2>&1)" = "rows"
check "Run= ran in the new tree" test "$(cat "$m/etc/hooked" 2>&1)" = rebuilt
check "the previous tree is kept" grep -q '^12' "$tmp/machines/.lc.previous/etc/debian_version"
check_status "lc runs a command" 0 "" "$CLI" run lc true

# --- rollback, and back
check_status "rollback" 0 "back on its previous tree" "$CLI" rollback lc
check "lc is bookworm again" grep -q '^12' "$m/etc/debian_version"
check "with hello from before" test -x "$m/usr/bin/hello"
declare_lc bookworm 'Run=echo first >/etc/hooked' 'Run=echo changed >>/etc/hooked'
check_status "it starts with the file put back" 0 "" "$BOOTSTRAP" lc
check_status "rollback again returns to the rebuild" 0 "" "$CLI" rollback lc
check "lc is trixie again" grep -q '^13' "$m/etc/debian_version"

# --- "machinespawn boot" by hand, with a stand-in systemd-nspawn: a boot that fails keeps the previous
# tree, one that ends with status 0 has started the machine and drops it
mkdir -p "$tmp/fake-bin"
printf '#!/bin/sh\nexit "${FAKE_NSPAWN_STATUS:-0}"\n' >"$tmp/fake-bin/systemd-nspawn"
chmod +x "$tmp/fake-bin/systemd-nspawn"
check_status "a boot that fails" 1 "" env FAKE_NSPAWN_STATUS=1 PATH="$tmp/fake-bin:$PATH" "$CLI" boot lc
check "keeps the previous tree" grep -q '^12' "$tmp/machines/.lc.previous/etc/debian_version"
check_status "a boot that ends well drops it" 0 "removed the one it replaced" \
        env PATH="$tmp/fake-bin:$PATH" "$CLI" boot lc
check "the previous tree is gone after the boot" test ! -e "$tmp/machines/.lc.previous"
check "lc is still trixie" grep -q '^13' "$m/etc/debian_version"

# --- RebuildOnChange=yes: the start rebuilds instead of stopping
declare_lc bookworm 'RebuildOnChange=yes' 'Run=echo opted-in >/etc/hooked'
check_status "with RebuildOnChange=yes a Release= change rebuilds at the start" 0 "Rebuilding lc: Release=" \
        "$BOOTSTRAP" lc
check "lc is bookworm" grep -q '^12' "$m/etc/debian_version"
check "Keep=/home carried over again" test "$(cat "$m/home/alice/notes" 2>&1)" = "alice's notes"
check "the hook ran in the rebuilt tree" test "$(cat "$m/etc/hooked" 2>&1)" = opted-in

# --- the machine ready: its unit's ExecStartPost= drops the previous tree, and rollback has nothing
check "the rebuild at the start kept the previous tree" grep -q '^13' "$tmp/machines/.lc.previous/etc/debian_version"
check_status "machinespawn-started drops it" 0 "removed the one it replaced" "$STARTED" lc
check "the previous tree is gone" test ! -e "$tmp/machines/.lc.previous"
check "and its record" test ! -e "$tmp/state/lc.origin.previous"
check_status "rollback says there is nothing to return to" 1 "has no previous tree to return to" "$CLI" rollback lc
check "lc is still bookworm" grep -q '^12' "$m/etc/debian_version"
check_status "a second start of the same tree has nothing to drop" 0 "" "$STARTED" lc

# --- RemoveUnlistedPackages=yes: a package taken out goes, by the machine's apt
declare_lc bookworm 'RebuildOnChange=yes' 'Run=echo opted-in >/etc/hooked' 'Packages=hello'
check_status "hello installed again" 0 "" "$BOOTSTRAP" lc
check "hello is there" test -x "$m/usr/bin/hello"
declare_lc bookworm 'RebuildOnChange=yes' 'Run=echo opted-in >/etc/hooked' 'RemoveUnlistedPackages=yes'
check_status "the start removes it" 0 "Removing hello from lc" "$BOOTSTRAP" lc
check "hello is gone" test ! -e "$m/usr/bin/hello"
check "the base stays" test -x "$m/bin/systemctl"
check "the record forgets it" bash -c '! grep -q "^unlisted=" "$1"' _ "$tmp/state/lc.origin"

# --- refused: no machine, bad names (in test-cli-names.sh too), a running machine is checked by the lock file
check_status "rebuild of an undeclared machine" 1 "'nothere'" "$CLI" rebuild nothere
check_status "rollback without a previous tree" 1 "does not exist" "$CLI" rollback nothere

# --- a failing Run= on a first build leaves no machine
printf '[Machine]\nDistribution=debian\nRelease=bookworm\nRun=echo out-of-hook; exit 3\n' >"$tmp/etc/bad.mspawn"
check_status "a failing Run= fails the build with its output" 1 "out-of-hook" "$BOOTSTRAP" bad
check_status "... and names the command and status" 1 "failed in bad with exit status 3" "$BOOTSTRAP" bad
check "no machine bad is left" test ! -e "$tmp/machines/bad"
check "no record of bad is left" test ! -e "$tmp/state/bad.origin"

e2e_done
