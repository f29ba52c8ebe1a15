#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# [User] ExportApps=, ExportBins=, GPU= and entering without sudo: an app of the machine in the user's
# desktop (its entry and icon in a directory on XDG_DATA_DIRS, Exec= entering the machine), a wrapper in
# ~/.local/bin that runs the program in the machine, the [User] user entering (and starting) the machine
# through polkit while another user cannot, GPU device nodes and driver libraries of a made-up /dev and ld
# cache bound in (no GPU here), and what was exported removed with the keys and the machine. Also measures
# "enter -- true" against systemd-run and machinectl shell on the same machine (bench/enter.sh).
. "$(dirname "$0")/lib.sh"
e2e_require

# bench/enter.sh: a test host with podman and distrobox too, and a tree for distrobox's image (a minbase tree
# with what distrobox-init would otherwise install at the first enter), measured beside enter in the same boot.
boot_args=()
if [ -n "${MACHINESPAWN_E2E_DISTROBOX:-}" ]; then
        e2e_host_tree() {
                e2e_tree bench-host "$E2E_RELEASE" \
                        "$E2E_PACKAGES podman distrobox crun conmon golang-github-containers-common"
        }
        box=$(e2e_root_tree bookworm bash bc curl diffutils findutils less lsof passwd pinentry-curses procps sudo \
                time wget util-linux libnss-myhostname ncurses-base) || exit $?
        boot_args=(--bind-ro="$box:/e2e/box-tree")
fi

e2e_workdir
e2e_prepare_host "$work"
mkdir -p "$work/root/etc/machinespawn"
cat >"$work/root/etc/machinespawn/desk.mspawn" <<'MSPAWN'
[Machine]
Distribution=debian
Release=bookworm

[User]
Name=alice
ExportApps=org.example.Hello missing.app
ExportBins=/usr/local/bin/hello-app /usr/bin/id
GPU=yes
MSPAWN
tree="$work/root/var/lib/machines/desk"
cp -a --reflink=auto "$(e2e_machine_tree)" "$tree"
# an application in the machine: its program, desktop entry and icons
mkdir -p "$tree/usr/local/bin" "$tree/usr/share/applications" "$tree/usr/share/icons/hicolor/48x48/apps"
cat >"$tree/usr/local/bin/hello-app" <<'APP'
#!/bin/sh
echo "hello from $(cat /etc/e2e-machine) as $(id -un):" "$@"
APP
chmod 755 "$tree/usr/local/bin/hello-app"
echo "inside desk" >"$tree/etc/e2e-machine"
cat >"$tree/usr/share/applications/org.example.Hello.desktop" <<'ENTRY'
[Desktop Entry]
Type=Application
Name=Hello
Exec=hello-app %U
TryExec=hello-app
Icon=org.example.Hello
X-KDE-SubstituteUID=true
ENTRY
printf 'PNG' >"$tree/usr/share/icons/hicolor/48x48/apps/org.example.Hello.png"

e2e_boot "$work" "$(dirname "$0")/scenario-desktop.sh" "${boot_args[@]}"
