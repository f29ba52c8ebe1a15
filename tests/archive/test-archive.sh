#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Releases past their end of life come from an archive mirror. archive.debian.org is out of reach here, so
# the test serves a stand-in on 127.0.0.1: a repository made with apt-ftparchive from bookworm's minbase
# packages, published as "buster", "stretch" and "jessie", signed with a key made for the test, their
# Release files past their Valid-Until, stretch's and jessie's signed by a key that has expired since, as
# the real ones are. "machinespawn bootstrap debian-10" (mmdebstrap), "debian-9" and "debian-8"
# (Bootstrapper=auto, which must take debootstrap) must build from it, and the machines must carry the
# archive in their sources.list, no security or updates suite, and an apt told not to check Valid-Until.
# The same packages as Ubuntu 22.10 "kinetic" stand in for old-releases: "ubuntu-22.10" must build from
# there, its -updates and -security pockets pointing there too.
# Needs root, the tools and (for a cold package cache) the Debian mirror; skips (77) otherwise.
set -u
CLI=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/inside.sh"

skip() {
        echo "SKIP: $*"
        exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root"
for t in debootstrap mmdebstrap apt-ftparchive gpg python3 chroot; do
        command -v "$t" >/dev/null || skip "needs $t"
done

arch=$(dpkg --print-architecture)
cache=${MACHINESPAWN_E2E_CACHE:-/var/cache/machinespawn-e2e}/archive-debs/bookworm-$arch
tmp=$(mktemp -d -p /var/tmp mspawn-archive-XXXXXX)
server=
trap '[ -n "$server" ] && kill $server; [ -n "${MACHINESPAWN_TEST_KEEP:-}" ] || rm -rf "$tmp"' EXIT

# --- the packages: bookworm's minbase set, downloaded once and kept for the next run
if [ ! -e "$cache/complete" ]; then
        proxy=
        (exec 3<>/dev/tcp/127.0.0.1/3142) 2>/dev/null && proxy=http://127.0.0.1:3142
        timeout 10 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null || [ -n "$proxy" ] ||
                skip "no packages cached in $cache and no Debian mirror"
        mkdir -p "$(dirname "$cache")"
        dl=$(mktemp -d -p "$(dirname "$cache")" .dl-XXXXXX)
        if ! http_proxy=$proxy debootstrap --download-only --variant=minbase --arch="$arch" bookworm "$dl/root" \
                        http://deb.debian.org/debian >"$dl.log" 2>&1; then
                tail -n 20 "$dl.log"
                rm -rf "$dl" "$dl.log"
                fail "downloading bookworm's minbase packages"
                e2e_done
        fi
        mkdir "$dl/debs"
        mv "$dl"/root/var/cache/apt/archives/*.deb "$dl/debs/"
        touch "$dl/debs/complete"
        rm -rf "$cache" && mv "$dl/debs" "$cache"
        rm -rf "$dl" "$dl.log"
fi

# --- the stand-in archive
repo=$tmp/www/debian
mkdir -p "$repo/pool/main" "$tmp/gnupg"
chmod 700 "$tmp/gnupg"
export GNUPGHOME=$tmp/gnupg
for deb in "$cache"/*.deb; do
        # the pool's names carry no epoch (apt's cache writes it as "%3a", which a URL cannot)
        name=$(basename "$deb" | sed 's/_[0-9]*%3a/_/')
        case $name in
        usr-is-merged_*)
                # its preinst refuses a tree without merged /usr, which the old releases' names get: keep the
                # package, drop the check
                dpkg-deb -R "$deb" "$tmp/uim"
                rm -f "$tmp/uim/DEBIAN/preinst" "$tmp/uim/DEBIAN/postinst"
                dpkg-deb -b -Zgzip "$tmp/uim" "$repo/pool/main/$name" >/dev/null
                rm -rf "$tmp/uim" ;;
        *)
                ln "$deb" "$repo/pool/main/$name" 2>/dev/null || cp "$deb" "$repo/pool/main/$name" ;;
        esac
done
gpg --batch --quiet --passphrase '' --quick-gen-key 'machinespawn test archive' ed25519 sign never 2>/dev/null
# valid for a day in 2020, long expired now
gpg --batch --quiet --passphrase '' --faked-system-time 20200101T000000 \
        --quick-gen-key 'machinespawn test archive (expired)' ed25519 sign 1d 2>/dev/null
gpg --batch --export >"$tmp/archive-keyring.gpg"

# The archive's override file, not a package's own control file, sets its priority: apt says "important"
# of itself and is "required" in Debian. The set is debootstrap's minbase, so all of it is required here.
for deb in "$repo"/pool/main/*.deb; do
        echo "$(dpkg-deb -f "$deb" Package) required $(dpkg-deb -f "$deb" Section)"
done >"$tmp/override"

# publish SUITE ALIAS KEY [SIGNED-AT]: a Release file as the archive has it, dated long ago and valid for a
# week after, signed by KEY (at SIGNED-AT, for a key that has expired since). $components: its components.
components="main contrib non-free"
publish() {
        local suite=$1 dist=$repo/dists/$1 key=$3 at=() c
        [ -n "${4:-}" ] && at=(--faked-system-time "$4")
        for c in $components; do
                mkdir -p "$dist/$c/binary-$arch"
                if [ "$c" = main ]; then
                        (cd "$repo" && apt-ftparchive packages pool/main "$tmp/override") \
                                >"$dist/$c/binary-$arch/Packages"
                else
                        : >"$dist/$c/binary-$arch/Packages"
                fi
                gzip -9nk "$dist/$c/binary-$arch/Packages"
        done
        (cd "$dist" && apt-ftparchive -o APT::FTPArchive::Release::Origin=Debian \
                -o APT::FTPArchive::Release::Label=Debian -o APT::FTPArchive::Release::Suite="$2" \
                -o APT::FTPArchive::Release::Codename="$suite" -o APT::FTPArchive::Release::Architectures="$arch" \
                -o APT::FTPArchive::Release::Components="$components" release .) >"$tmp/Release"
        sed -e 's/^Date: .*/Date: Sat, 10 Sep 2022 10:00:00 UTC\nValid-Until: Sat, 17 Sep 2022 10:00:00 UTC/' \
                "$tmp/Release" >"$dist/Release"
        gpg --batch --yes "${at[@]}" -u "$key" --clearsign -o "$dist/InRelease" "$dist/Release" 2>/dev/null
        gpg --batch --yes "${at[@]}" -u "$key" -abs -o "$dist/Release.gpg" "$dist/Release" 2>/dev/null
}
publish buster oldoldstable '=machinespawn test archive'
publish stretch oldoldoldstable '=machinespawn test archive (expired)' 20200101T010000
publish jessie oldoldoldoldstable '=machinespawn test archive (expired)' 20200101T010000
check_output "the stand-in stretch is signed by an expired key" "EXPKEYSIG" \
        gpgv --status-fd 1 --keyring "$tmp/archive-keyring.gpg" "$repo/dists/stretch/Release.gpg" \
        "$repo/dists/stretch/Release"

. "$here/../http-server.sh"
http_server_start "$tmp/www"
server=$http_pid port=$http_port
mirror=http://127.0.0.1:$port/debian

mkdir -p "$tmp/etc"
cat >"$tmp/etc/machinespawn.conf" <<EOF
[Bootstrap]
Proxy=none
# bookworm's minbase and nothing more: all the stand-in archive has
Packages=
Bootstrapper=mmdebstrap
[Cache]
Directory=$tmp/cache
[debian]
ArchiveMirror=$mirror
ArchiveKeyring=$tmp/archive-keyring.gpg
EOF
export MACHINESPAWN_MACHINES_DIR=$tmp/machines MACHINESPAWN_RUN_DIR=$tmp/run MACHINESPAWN_STATE_DIR=$tmp/state \
        MACHINESPAWN_SYSCONFDIR=$tmp/etc MACHINESPAWN_CONFIG_PATH=$tmp/etc MACHINESPAWN_NSPAWN_DIR=$tmp/nspawn \
        MACHINESPAWN_VENDOR_CONF=$here/../../conf.d/machinespawn.conf \
        MACHINESPAWN_DISTRO_INFO_DIR=$here/../data/distro-info-full

# check_machine NAME CODENAME [APT]: what the finished machine says about where it comes from; with APT,
# also run apt in it (not for stretch: apt refuses its expired key)
check_machine() {
        local m=$tmp/machines/$1 code=$2 apt=${3:-}
        check_output "$1: sources.list names the archive mirror" "deb $mirror $code main contrib non-free" \
                cat "$m/etc/apt/sources.list"
        check "$1: ... and nothing else (no security, no updates suite)" \
                test "$(cat "$m/etc/apt/sources.list")" = "deb $mirror $code main contrib non-free"
        check_not_output "$1: no other sources in sources.list.d" "deb" \
                find "$m/etc/apt/sources.list.d" -type f -exec cat {} +
        check_output "$1: apt does not check Valid-Until" 'Acquire::Check-Valid-Until "false";' \
                cat "$m/etc/apt/apt.conf.d/01machinespawn-archive"
        check "$1: the build's apt options are not left behind" test ! -e "$m/etc/apt/apt.conf.d/99mmdebstrap"
        [ -n "$apt" ] || return 0
        # the stand-in key is the test's, not the release's: trust it for apt inside, then ask apt
        cp "$tmp/archive-keyring.gpg" "$m/etc/apt/trusted.gpg.d/machinespawn-test.gpg"
        check "$1: apt-get update in the machine succeeds against the archive" chroot "$m" apt-get -q update
        check_output "$1: ... which really is past its Valid-Until" "expired" \
                chroot "$m" apt-get -o Acquire::Check-Valid-Until=true update
        rm -f "$m/etc/apt/trusted.gpg.d/machinespawn-test.gpg"
}

start=$(date +%s)
check_output "bootstrap debian-10 (mmdebstrap) from the archive mirror" "Machine old10 ready" \
        "$CLI" bootstrap debian-10 old10
echo "     (in $(($(date +%s) - start)) s)"
check_machine old10 buster apt
check_output "the base came from the archive" "mirror=$mirror" sh -c "cat '$tmp'/cache/*buster*.info"

sed -i 's/^Bootstrapper=.*/Bootstrapper=auto/' "$tmp/etc/machinespawn.conf"
start=$(date +%s)
check_output "bootstrap debian-9 (Bootstrapper=auto) from the archive mirror" "Machine old9 ready" \
        "$CLI" bootstrap debian-9 old9
echo "     (in $(($(date +%s) - start)) s)"
check_machine old9 stretch
check_output "... with debootstrap, which accepts the expired key's signature" "tool=debootstrap" \
        sh -c "cat '$tmp'/cache/*stretch*.info"

start=$(date +%s)
check_output "bootstrap debian-8 (Bootstrapper=auto) from the archive mirror" "Machine old8 ready" \
        "$CLI" bootstrap debian-8 old8
echo "     (in $(($(date +%s) - start)) s)"
check_machine old8 jessie
check_output "... with debootstrap" "tool=debootstrap" sh -c "cat '$tmp'/cache/*jessie*.info"

# Ubuntu 22.10 "kinetic", past its end of life: old-releases, with its -updates and -security pockets
# there too. The stand-in holds Debian's packages under Ubuntu's name, enough for debootstrap.
ln -s debian "$tmp/www/ubuntu"
components="main restricted universe multiverse"
for s in kinetic kinetic-updates kinetic-security; do
        publish $s $s '=machinespawn test archive'
done
old=http://127.0.0.1:$port/ubuntu
cat >>"$tmp/etc/machinespawn.conf" <<EOF
[ubuntu]
ArchiveMirror=$old
ArchiveSecurityMirror=$old
ArchiveKeyring=$tmp/archive-keyring.gpg
EOF
start=$(date +%s)
check_output "bootstrap ubuntu-22.10 from the old-releases stand-in" "Machine oldk ready" \
        "$CLI" bootstrap ubuntu-22.10 oldk
echo "     (in $(($(date +%s) - start)) s)"
u=$tmp/machines/oldk
check_output "oldk: sources.list names old-releases for kinetic" \
        "deb $old kinetic main restricted universe multiverse" cat "$u/etc/apt/sources.list"
check_output "oldk: ... and its -updates pocket there" \
        "deb $old kinetic-updates main restricted universe multiverse" cat "$u/etc/apt/sources.list"
check_output "oldk: ... and its -security pocket there" \
        "deb $old kinetic-security main restricted universe multiverse" cat "$u/etc/apt/sources.list"
check_not_output "oldk: no other archive" "ubuntu.com" cat "$u/etc/apt/sources.list"
check_output "oldk: apt does not check Valid-Until" 'Acquire::Check-Valid-Until "false";' \
        cat "$u/etc/apt/apt.conf.d/01machinespawn-archive"
check_output "the base came from old-releases" "mirror=$old" sh -c "cat '$tmp'/cache/*kinetic*.info"

e2e_done
