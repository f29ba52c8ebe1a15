#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Hostile trees. Every host-side operation on a machine's tree runs once on a clean tree (it must work),
# then once for each path component it touches, with that component replaced by a symlink out of the tree
# (absolute, and relative through ".."), a FIFO, a symlink to /dev/zero, the /dev/zero device node itself,
# a 20 GiB sparse file, and a hard link to a host file. Each run must either work, confined, or refuse
# with a clear message; within a time limit (timeout) and a memory limit (ulimit -v). After each, the
# files outside the tree must be as before (type, mode, owner, size, content, link target), and no host
# content may have been copied into the tree. Runs on the bare host with the directory overrides (no
# systemd, no network); needs root for device nodes, owners, and the commands that change the system.
set -u
CLI=$1
PREPARE=$2
OPS=$3
. "$(dirname "$0")/../e2e/inside.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (device nodes, owners, commands that change the system)"; exit 77; }
getent passwd nobody >/dev/null || { echo "SKIP: needs the host user nobody for [User]"; exit 77; }

TIME_LIMIT=20        # seconds per operation
MEMORY_LIMIT=1048576 # KiB of address space per operation (ulimit -v)
NAME=hx
tmp=$(mktemp -d -p /var/tmp mspawn-hostile-XXXXXX)
made_runtime_dir=
cleanup() {
        [ -n "$made_runtime_dir" ] && rm -rf "$made_runtime_dir"
        rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/etc" "$tmp/machines" "$tmp/nspawn"
printf '[Cache]\nDirectory=%s/cache\n[Bootstrap]\nProxy=none\n' "$tmp" >"$tmp/etc/machinespawn.conf"
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state \
        MACHINESPAWN_SYSCONFDIR=$tmp/etc MACHINESPAWN_CONFIG_PATH=$tmp/etc MACHINESPAWN_NSPAWN_DIR=$tmp/nspawn \
        MACHINESPAWN_VENDOR_CONF=$(dirname "$0")/../../conf.d/machinespawn.conf
tree=$tmp/machines/$NAME
echo "# resolver: $([ "${MACHINESPAWN_CHASE_NO_OPENAT2:-0}" = 1 ] && echo walk || echo openat2)"

# A small root file system by hand: what the operations read, write and remove.
files="etc/passwd etc/group etc/shadow etc/gshadow etc/hostname etc/hosts etc/machine-id etc/locale.conf
etc/apt/sources.list etc/apt/apt.conf.d/99mmdebstrap etc/apt/apt.conf.d/01machinespawn-proxy etc/default/locale
etc/sudoers.d/README etc/sudoers.d/machinespawn-nobody etc/profile.d/machinespawn-session.sh
etc/machinespawn-session.env var/cache/apt/archives/a.deb var/lib/apt/lists/lock var/lib/apt/lists/x_Packages
var/lib/dbus/machine-id usr/bin/sh"
make_tree() { # DIR CONTENT-PREFIX
        local f
        for f in $files; do
                mkdir -p "$1/$(dirname "$f")"
                printf '%s%s\n' "$2" "$f" >"$1/$f"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
        printf 'root:x:0:\nsudo:x:27:\naudio:x:29:\n' >"$1/etc/group"
        printf 'root:*:19000:0:99999:7:::\n' >"$1/etc/shadow"
        printf 'root:*::\nsudo:*::\naudio:*::\n' >"$1/etc/gshadow"
        printf 'DISPLAY=:0\n' >"$1/etc/machinespawn-session.env"
}
make_tree "$tmp/template" ""
# The host side: the same paths, each file marked, and one more file to hard-link to.
make_tree "$tmp/host" "HOSTSECRET=1 "
for f in $files; do printf 'HOSTSECRET=1 %s\n' "$f" >"$tmp/host/$f"; done
printf 'HOSTSECRET=1\n' >"$tmp/host/victim"

victims() {
        (cd "$tmp/host" && find . -printf '%y %m %U %G %s %p %l\n' | sort && find . -type f -print0 | sort -z |
                xargs -0 sha256sum)
}
victims >"$tmp/victims.before"
cp -a "$tmp/host" "$tmp/host.pristine"
# After a failure the host side is put back, so the next case starts from the same files (an operation
# that writes the same thing twice would otherwise go unnoticed the second time).
restore_host() {
        rm -rf "$tmp/host"
        cp -a "$tmp/host.pristine" "$tmp/host"
}

# Display=/Audio=: a session socket for nobody, if nobody has no runtime directory already.
nobody_uid=$(id -u nobody)
if [ ! -e "/run/user/$nobody_uid" ] && command -v python3 >/dev/null; then
        made_runtime_dir=/run/user/$nobody_uid
        mkdir -p "$made_runtime_dir"
        python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$made_runtime_dir/pipewire-0"
fi

declare_machine() { # extra [User] lines
        printf '[Machine]\nDistribution=debian\nRelease=bookworm\n[User]\nName=nobody\nGroups=audio\n%s\n' "$1" \
                >"$tmp/etc/$NAME.mspawn"
}

op_cmd() {
        case $1 in
        prepare-sudo) declare_machine "Sudo=yes"; echo "$PREPARE $NAME" ;;
        prepare-nosudo) declare_machine "Sudo=no"; echo "$PREPARE $NAME" ;;
        prepare-session) declare_machine $'Display=yes\nAudio=yes'; echo "$PREPARE $NAME" ;;
        finish) echo "$OPS finish $tree" ;;
        finish-image) echo "$OPS finish-image $tree" ;;
        tidy) echo "$OPS tidy $tree" ;;
        enter-env) echo "$OPS session-env-read $tree" ;;
        remove) declare_machine ""; echo "$CLI remove $NAME" ;;
        list) declare_machine ""; echo "$CLI list --output=json" ;;
        cat) declare_machine ""; echo "$CLI cat $NAME" ;;
        esac
}

# The components each operation touches ("." is the tree's top).
op_paths() {
        case $1 in
        prepare-sudo) echo ". etc etc/passwd etc/group etc/shadow etc/gshadow etc/sudoers.d etc/sudoers.d/machinespawn-nobody" ;;
        prepare-nosudo) echo ". etc etc/sudoers.d etc/sudoers.d/machinespawn-nobody" ;;
        prepare-session) echo ". etc etc/machinespawn-session.env etc/profile.d etc/profile.d/machinespawn-session.sh" ;;
        finish) echo ". etc etc/hostname etc/hosts etc/machine-id etc/locale.conf etc/apt etc/apt/sources.list etc/default
                      etc/default/locale etc/apt/apt.conf.d etc/apt/apt.conf.d/01machinespawn-proxy" ;;
        finish-image) echo ". etc etc/hostname etc/machine-id" ;;
        tidy) echo ". etc etc/machine-id etc/apt etc/apt/apt.conf.d etc/apt/apt.conf.d/99mmdebstrap var var/cache
                    var/cache/apt var/cache/apt/archives var/lib var/lib/apt var/lib/apt/lists var/lib/dbus var/lib/dbus/machine-id" ;;
        enter-env) echo ". etc etc/machinespawn-session.env" ;;
        remove | list | cat) echo ". etc etc/passwd var var/lib/apt/lists usr/bin/sh" ;;
        esac
}

KINDS="symlink-abs symlink-rel fifo link-dev-zero dev-zero sparse-20g hardlink"

plant() { # KIND PATH
        local kind=$1 p=$2 target up n
        if [ "$p" = . ]; then
                target=$tree
                up=..
        else
                target=$tree/$p
                # from the link's directory up to the temporary directory: each "/" in p, the tree, "machines"
                n=$(($(tr -cd / <<<"$p" | wc -c) + 2))
                up=$(printf '../%.0s' $(seq $n))
                up=${up%/}
        fi
        rm -rf "$target"
        case $kind in
        symlink-abs) ln -s "$tmp/host/${p#.}" "$target" ;;
        symlink-rel) ln -s "$up/host/${p#.}" "$target" ;;
        fifo) mkfifo "$target" ;;
        link-dev-zero) ln -s /dev/zero "$target" ;;
        dev-zero) mknod "$target" c 1 5 ;;
        sparse-20g) truncate -s 20G "$target" ;;
        hardlink) ln "$tmp/host/victim" "$target" ;;
        esac
        # a link out must really lead to the host's file, as anything that follows it would see it
        if [[ $kind == symlink-* ]] && [ ! -e "$target" ]; then
                fail "planting $p as $kind: $(readlink "$target") does not lead to the host's copy"
        fi
}

CLEAR='refused|not a regular file|symbolic link|not a directory|Not a directory|No such file|Too many levels|hard link|larger than|is not a directory|has no image|not what machinespawn-prepare writes'

run_case() { # OP PATH KIND
        local op=$1 p=$2 kind=$3 cmd out rc start elapsed leaked
        rm -rf "$tree"
        cp -a "$tmp/template" "$tree"
        [ "$kind" != none ] && plant "$kind" "$p"
        cmd=$(op_cmd "$op")
        start=$(date +%s%N)
        out=$(ulimit -v $MEMORY_LIMIT; timeout -k 5 $TIME_LIMIT $cmd 2>&1)
        rc=$?
        elapsed=$((($(date +%s%N) - start) / 1000000))
        victims >"$tmp/victims.after"
        # (-size rounds up: -1024k is "under 1 MiB", where -1M would only be empty files)
        leaked=$(find "$tmp/machines" -type f -links 1 -size -1024k -print0 2>/dev/null |
                xargs -0 -r grep -l HOSTSECRET 2>/dev/null)
        local desc="$op with $p as $kind ($rc, ${elapsed} ms)"
        [ "$kind" = none ] && desc="$op on a clean tree ($rc, ${elapsed} ms)"
        if ! cmp -s "$tmp/victims.before" "$tmp/victims.after"; then
                fail "$desc: CHANGED FILES OUTSIDE THE TREE"
                diff "$tmp/victims.before" "$tmp/victims.after" | head -n 10 | sed 's/^/     | /'
                restore_host
        elif [ -n "$leaked" ] || [[ "$out" == *HOSTSECRET* ]]; then
                fail "$desc: host content copied into the machine or its environment: $leaked"
        elif [ $rc = 124 ] || [ $rc = 137 ]; then
                fail "$desc: did not finish in $TIME_LIMIT s"
        elif [ $rc = 0 ]; then
                pass "$desc: worked, confined"
        elif [ "$kind" = none ]; then
                fail "$desc: failed on a clean tree"
                echo "$out" | tail -n 5 | sed 's/^/     | /'
        elif [ $rc = 1 ] && [[ "$out" =~ $CLEAR ]]; then
                pass "$desc: refused: $(grep -E "$CLEAR" <<<"$out" | head -n 1 | cut -c1-160)"
        else
                fail "$desc: neither worked nor refused clearly"
                echo "$out" | tail -n 5 | sed 's/^/     | /'
        fi
}

for op in prepare-sudo prepare-nosudo prepare-session finish finish-image tidy enter-env remove list cat; do
        run_case "$op" . none
        for p in $(op_paths "$op"); do
                for kind in $KINDS; do
                        run_case "$op" "$p" "$kind"
                done
        done
done

# What a clean run must have done, inside: the session environment through a socket we made, the user.
rm -rf "$tree"
cp -a "$tmp/template" "$tree"
declare_machine $'Sudo=yes\nAudio=yes'
check "prepare writes the user into the machine" sh -c "$PREPARE $NAME && grep -q '^nobody:' '$tree/etc/passwd'"
[ -n "$made_runtime_dir" ] && check_output "prepare writes the session environment" "PIPEWIRE_REMOTE=" cat "$tree/etc/machinespawn-session.env"
[ -n "$made_runtime_dir" ] && check_output "enter's reader passes it on" "--setenv=" "$OPS" session-env-read "$tree"
ln "$tmp/host/victim" "$tree/etc/hostname.x" && rm -f "$tree/etc/hostname" && ln "$tmp/host/victim" "$tree/etc/hostname"
check "finishing replaces a hard-linked file, never writes through it" sh -c \
        "$OPS finish-image '$tree' && grep -qx hostile '$tree/etc/hostname' && grep -q HOSTSECRET '$tmp/host/victim'"

# Pulled images: the links are in the tarball, finishing must not follow them (machine_finish_image).
if command -v python3 >/dev/null; then
        for variant in abs rel; do
                python3 - "$tmp/evil-$variant.tar" "$variant" "$tmp/host/etc" <<'EOF'
import io, sys, tarfile
path, variant, host_etc = sys.argv[1:]
with tarfile.open(path, "w") as t:
    def add(name, kind, data=b"", target=""):
        i = tarfile.TarInfo(name); i.type = kind; i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        i.linkname = target; i.size = len(data) if kind == tarfile.REGTYPE else 0
        t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    add("./usr", tarfile.DIRTYPE)
    add("./usr/bin", tarfile.DIRTYPE)
    add("./usr/bin/sh", tarfile.REGTYPE, b"x")
    add("./etc", tarfile.SYMTYPE, target=host_etc if variant == "abs" else "../../../../../../../../" + host_etc.lstrip("/"))
EOF
                rm -rf "$tree"
                out=$(ulimit -v $MEMORY_LIMIT; timeout -k 5 $TIME_LIMIT "$CLI" pull-tar --verify=no "file://$tmp/evil-$variant.tar" "$NAME" 2>&1)
                rc=$?
                victims >"$tmp/victims.after"
                if cmp -s "$tmp/victims.before" "$tmp/victims.after" && { [ $rc = 0 ] || [[ "$out" =~ $CLEAR ]]; }; then
                        pass "pull-tar of an image whose etc links out ($variant): $rc, host unchanged"
                else
                        fail "pull-tar of an image whose etc links out ($variant): $rc"
                        restore_host
                        echo "$out" | tail -n 5 | sed 's/^/     | /'
                fi
        done
fi

# Removal at any depth with few descriptors, by the command.
rm -rf "$tree"
mkdir -p "$tree"
python3 - "$tree" 3000 "$tmp/host" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(int(sys.argv[2])):
    os.mkdir("d", dir_fd=fd)
    if i % 500 == 0:
        os.symlink(sys.argv[3], "out", dir_fd=fd)
        os.mkfifo("fifo", dir_fd=fd)
    n = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = n
EOF
out=$(ulimit -n 256 -v $MEMORY_LIMIT; timeout -k 5 120 "$CLI" list 2>&1)
check_output "list of a machine 3,000 levels deep with 256 descriptors" "$NAME" echo "$out"
out=$(ulimit -n 256 -v $MEMORY_LIMIT; timeout -k 5 120 "$CLI" remove "$NAME" 2>&1)
rc=$?
victims >"$tmp/victims.after"
if [ $rc = 0 ] && [ ! -e "$tree" ] && cmp -s "$tmp/victims.before" "$tmp/victims.after"; then
        pass "remove of a machine 3,000 levels deep with 256 descriptors"
else
        fail "remove of a machine 3,000 levels deep with 256 descriptors ($rc)"
        echo "$out" | tail -n 5 | sed 's/^/     | /'
fi

echo "$E2E_PASSED passed, $E2E_FAILED failed"
exit $((E2E_FAILED > 0))
