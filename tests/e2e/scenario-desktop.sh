# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-desktop.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"
ms=/usr/bin/machinespawn
in_desk() { systemd-run -M desk --wait -q --pipe "$@"; }
export_dir=/var/lib/machinespawn/export/desk/share

groupadd -g 1234 alice
useradd -m -u 1234 -g 1234 -s /bin/bash alice
useradd -m -u 1240 -U -s /bin/bash bob

# GPU=yes with no GPU: device nodes in a made-up /dev (the numbers of /dev/null and /dev/zero, which the
# machine's device cgroup allows) and a stand-in ld cache that lists a driver library
# (a tmpfs of its own: /run is mounted nodev, where no device node opens)
mkdir -p /run/fakedev
mount -t tmpfs -o mode=0755 fakedev /run/fakedev
mkdir -p /run/fakedev/dri
mknod -m 666 /run/fakedev/dri/renderD128 c 1 3
mknod -m 666 /run/fakedev/nvidiactl c 1 5
echo "not a device" >/run/fakedev/dri/card9
echo "the host's driver" >/usr/lib/x86_64-linux-gnu/libnvidia-e2e.so.1
printf '#!/bin/sh\nprintf "\\tlibnvidia-e2e.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-e2e.so.1\\n"\n' \
        >/run/fake-ldconfig
chmod 755 /run/fake-ldconfig
systemctl set-environment MACHINESPAWN_DEV_DIR=/run/fakedev MACHINESPAWN_LDCONFIG=/run/fake-ldconfig

check "the machine starts" systemctl start systemd-nspawn@desk
wait_for 60 systemd-run -M desk --wait -q true

# ---- GPU=yes
check_output "GPU=yes: the drop-in lets the DRM devices through" "char-drm rw" \
        systemctl show -p DeviceAllow systemd-nspawn@desk.service
check "... a render node of the host is bound in" in_desk test -c /dev/dri/renderD128
check "... and usable" in_desk sh -c 'echo x >/dev/dri/renderD128'
check "... an NVIDIA node too" in_desk test -c /dev/nvidiactl
check "... not what is no device" in_desk test ! -e /dev/dri/card9
check_output "... the host driver's library, read-only" "the host's driver" \
        in_desk cat /usr/lib/x86_64-linux-gnu/libnvidia-e2e.so.1
check_output "... (read-only)" "Read-only file system" \
        in_desk sh -c 'echo y >/usr/lib/x86_64-linux-gnu/libnvidia-e2e.so.1'

# ---- ExportApps=
entry=$export_dir/applications/org.example.Hello.desktop
check_output "the app's desktop entry is on the host under its own ID, Exec= entering the machine" \
        "Exec=/usr/bin/machinespawn enter desk -- hello-app %U" cat "$entry"
check_not_output "... without TryExec= or X-KDE-SubstituteUID=" "TryExec" cat "$entry"
check_not_output "... (X-KDE-SubstituteUID)" "SubstituteUID" cat "$entry"
check "... its icon beside it" test -f "$export_dir/icons/hicolor/48x48/apps/org.example.Hello.png"
check_output "... a missing app is a warning" "ExportApps=missing.app" \
        journalctl -b -o cat -u systemd-nspawn@desk.service
check_output "alice's XDG_DATA_DIRS gets the machine's directory (environment.d)" \
        "XDG_DATA_DIRS=/usr/local/share:/usr/share:$export_dir" \
        runuser -u alice -- /usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator
check_equal() {
        local desc=$1 expect=$2 out rc
        shift 2
        out=$("$@" 2>&1)
        rc=$?
        if [ $rc = 0 ] && [ "$out" = "$expect" ]; then pass "$desc"; else
                fail "$desc (exit status $rc; expected exactly '$expect')"
                echo "$out" | sed 's/^/     | /' | tail -n 20
        fi
}
exec_line=$(sed -n 's/^Exec=//p' "$entry" | sed 's/ %U$//')
check_output "the entry's command, run as alice, runs the app in the machine as alice" "hello from inside desk as alice:" \
        runuser -u alice -- sh -c "$exec_line"

# ---- ExportBins=
check_output "a wrapper in alice's ~/.local/bin" "machinespawn-export machine=desk" cat /home/alice/.local/bin/hello-app
check_equal "... owned by alice" "alice 755" stat -c '%U %a' /home/alice/.local/bin/hello-app
check_output "... runs the program in the machine for alice, with its arguments as given" \
        "hello from inside desk as alice: a b \$(id) it's \$HOME" \
        runuser -u alice -- /home/alice/.local/bin/hello-app "a b" '$(id)' "it's" '$HOME'
nocr() {
        local o
        o=$("$@") || return
        printf '%s\n' "${o//$'\r'/}"
}
check_equal "... another wrapper: id in the machine" "alice" nocr runuser -u alice -- /home/alice/.local/bin/id -un

# ---- entering without sudo
check_equal "alice enters her machine without sudo" "alice" nocr runuser -u alice -- $ms enter desk -- id -un
check "... the polkit rule names her and the machine" grep -q '"alice"' /etc/polkit-1/rules.d/60-machinespawn-desk.rules
check_not_output "bob cannot enter alice's machine" "status 0" \
        sh -c "runuser -u bob -- $ms enter desk -- touch /tmp/bob-was-here </dev/null; echo status \$?"
check "... his command did not run" in_desk test ! -e /tmp/bob-was-here
check_not_output "bob cannot enter as alice either" "status 0" \
        sh -c "runuser -u bob -- machinectl shell alice@desk /bin/true </dev/null; echo status \$?"
check_not_output "alice cannot get a root shell in it" "status 0" \
        sh -c "runuser -u alice -- $ms enter desk --user=root -- touch /tmp/root-by-alice </dev/null; echo status \$?"
check "... nothing ran as root" in_desk test ! -e /tmp/root-by-alice
check_not_output "alice cannot stop it" "status 0" \
        sh -c "runuser -u alice -- systemctl stop systemd-nspawn@desk </dev/null; echo status \$?"
# a command as alice: pkexec runs machinespawn-enter, which runs it as the root's enter does
helper=/usr/libexec/machinespawn/machinespawn-enter
status_of() {
        "$@" </dev/null >/dev/null 2>&1
        echo "status $?"
}
check_equal "alice's enter -- false exits 1" "status 1" status_of runuser -u alice -- $ms enter desk -- false
check_equal "alice's enter -- sh -c 'exit 7' exits 7" "status 7" \
        status_of runuser -u alice -- $ms enter desk -- sh -c 'exit 7'
check_equal "... a pipe stays a pipe (no terminal's line ends), stderr apart" "alice" \
        sh -c "runuser -u alice -- $ms enter desk -- sh -c 'id -un; echo err >&2' 2>/dev/null"
check_equal "... alice's HOME in the machine" "/home/alice" \
        runuser -u alice -- $ms enter desk -- sh -c 'echo $HOME'
check_equal "... '\$' as it is" "\$HOME \${X} \$(id)" runuser -u alice -- $ms enter desk -- echo '$HOME' '${X}' '$(id)'
# in a terminal (script(1) gives one): systemd-run --pty, the status still the command's
in_terminal() {
        script -qec "$*" /dev/null </dev/null
        echo "status $?"
}
check_output "... in a terminal: a terminal inside, the status the command's" "status 5" \
        in_terminal "runuser -u alice -- $ms enter desk -- sh -c 'test -t 0 && test -t 1 && exit 5'"
check_output "... (root in a terminal)" "status 5" in_terminal "$ms enter desk -- sh -c 'test -t 0 && test -t 1 && exit 5'"
ctrl_c_in_terminal() {
        (sleep 4; printf '\003'; sleep 4) | script -qec "$*" /dev/null
        echo "status $?"
}
check_output "... ^C typed in her terminal reaches the command" "status 9" \
        ctrl_c_in_terminal "runuser -u alice -- $ms enter desk -- sh -c 'trap \"exit 9\" INT; sleep 30 & wait'"
check_equal "alice's enter -- true through pkexec" "status 0" status_of runuser -u alice -- $ms enter desk -- true
# a TERM sent to alice's enter reaches the command's systemd-run (its real UID is alice's)
rm -f /tmp/enter.pid
runuser -u alice -- sh -c 'echo $$ >/tmp/enter.pid; exec "$0" enter desk -- sleep 60' $ms </dev/null >/dev/null 2>&1 &
runuser_pid=$!
sleep_in_desk() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" = "sleep 60 " ] && return 0
        done
        return 1
}
wait_for 20 sleep_in_desk
enter_pid=$(cat /tmp/enter.pid)
runuser -u alice -- bash -c "kill -TERM $enter_pid"
ended=no
for _ in $(seq 50); do
        kill -0 $enter_pid 2>/dev/null || { ended=yes; break; }
        sleep 0.1
done
check_equal "... a TERM alice sends to her enter ends it" "yes" echo $ended
kill -KILL $runuser_pid 2>/dev/null
wait $runuser_pid 2>/dev/null
check_equal "bob cannot run the helper through pkexec (polkit says no)" "status 127" \
        status_of runuser -u bob -- pkexec $helper desk -- touch /tmp/bob-pkexec
check_equal "alice cannot run it for another machine (the rule names desk)" "status 127" \
        status_of runuser -u alice -- pkexec $helper desk2 -- true
check_equal "... nor with the name glued to more" "status 127" status_of runuser -u alice -- pkexec $helper desk2x -- true
check_equal "alice cannot run the helper without pkexec" "status 1" status_of runuser -u alice -- $helper desk -- true
# polkit told to let bob through: the helper still refuses anyone but the [User] user
cat >/etc/polkit-1/rules.d/10-e2e-bob.rules <<'RULE'
polkit.addRule(function(action, subject) {
        if (action.id === "org.machinespawn.enter" && subject.user === "bob")
                return polkit.Result.YES;
});
RULE
sleep 1
check_output "bob allowed by polkit: the helper refuses him" "Only alice" \
        runuser -u bob -- pkexec $helper desk -- touch /tmp/bob-pkexec
rm -f /etc/polkit-1/rules.d/10-e2e-bob.rules
check "... his command did not run" in_desk test ! -e /tmp/bob-pkexec
check_equal "root: enter -- sh -c 'exit 7' exits 7" "status 7" status_of $ms enter desk -- sh -c 'exit 7'
check_output "enter passes '\$' through as it is (root)" "\$HOME \${X} \$(id)" $ms enter desk -- echo '$HOME' '${X}' '$(id)'
check_output "enter -- false exits 1 (root)" "status 1" sh -c "$ms enter desk -- false; echo status \$?"

# ---- how long entering takes, side by side on this machine (median of 20, ms); bench/enter.sh prints these
median() {
        local t=() s
        for _ in $(seq 20); do
                s=$(date +%s%N)
                "$@" >/dev/null 2>&1 </dev/null
                t+=($((($(date +%s%N) - s) / 1000000)))
        done
        printf '%s\n' "${t[@]}" | sort -n | sed -n 10p
}
echo "     (bench: machinespawn enter desk -- true: median $(median $ms enter desk -- true) ms of 20)"
echo "     (bench: systemd-run -M desk --wait --pipe true: median $(median systemd-run -M desk --wait -q --pipe true) ms of 20)"
echo "     (bench: machinectl shell alice@desk /bin/true: median $(median machinectl shell -q alice@desk /bin/true) ms of 20)"
echo "     (bench: machinespawn enter desk -- true as alice: median $(median runuser -u alice -- $ms enter desk -- true) ms of 20)"
# distrobox beside it, bench/enter.sh only (podman and an image tree there): rootful podman, which distrobox
# reaches through sudo (--root), vfs storage; no keyring (systemd-nspawn's seccomp filter refuses keyctl) and no
# pids limit (this host's cgroups may have no controllers); the first enter starts the container and runs its
# init. The systemd cgroup manager, or cgroupfs where that does not start it.
if command -v distrobox >/dev/null && [ -d /e2e/box-tree ]; then
        mkdir -p /etc/containers
        printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
                >/etc/containers/storage.conf
        echo 'alice ALL=(root) NOPASSWD: /usr/bin/podman' >/etc/sudoers.d/e2e-podman
        grep -q e2e-host /etc/hosts || echo "127.0.1.1 e2e-host" >>/etc/hosts
        mount --make-rshared /
        dbx() { runuser -u alice -- "$@"; }
        check "distrobox: the image from a tree" sh -c 'tar -C /e2e/box-tree -c . | podman import -q - localhost/box:latest'
        for manager in systemd cgroupfs; do
                printf '[containers]\nkeyring = false\npids_limit = 0\n[engine]\ncgroup_manager = "%s"\nevents_logger = "file"\n' \
                        $manager >/etc/containers/containers.conf
                dbx distrobox create --root --yes --name box --image localhost/box:latest >/dev/null 2>&1
                timeout 300 runuser -u alice -- distrobox enter --root box -- true </dev/null >/tmp/dbx-first.log 2>&1 && break
                dbx distrobox rm --root --force box </dev/null >/dev/null 2>&1
        done
        echo "     (distrobox: cgroup manager $manager)"
        check_output "distrobox enter (starts it, runs its init)" "alice" dbx distrobox enter --root box -- id -un
        echo "     (bench: distrobox enter box -- true: median $(median dbx distrobox enter --root box -- true) ms of 20)"
        check_equal "distrobox enter -- true succeeds (what was measured)" "status 0" \
                status_of dbx distrobox enter --root box -- true
        echo "     (bench: machinespawn enter desk -- true: median $(median $ms enter desk -- true) ms of 20, again)"
        echo "     (bench: machinespawn enter desk -- true as alice: median $(median runuser -u alice -- $ms enter desk -- true) ms of 20, again)"
fi

# ---- alice starts her stopped machine by entering
systemctl stop systemd-nspawn@desk
check_equal "alice's enter starts her stopped machine" "alice" nocr runuser -u alice -- $ms enter desk -- id -un

# ---- a key removed: what it exported goes at the next start
sed -i '/^ExportBins=/d' /etc/machinespawn/desk.mspawn
systemctl daemon-reload
check "the machine restarts without ExportBins=" systemctl restart systemd-nspawn@desk
check "... the wrappers are gone" test ! -e /home/alice/.local/bin/hello-app -a ! -e /home/alice/.local/bin/id
check "... the app stays" test -f "$entry"

# ---- the machine removed: everything exported goes
systemctl stop systemd-nspawn@desk
check "machinespawn remove" $ms remove desk
check "... the export directory is gone" test ! -e /var/lib/machinespawn/export/desk
check "... and alice's environment.d file" test ! -e /home/alice/.config/environment.d/60-machinespawn-desk.conf
check "... and the polkit rule" test ! -e /etc/polkit-1/rules.d/60-machinespawn-desk.rules
check "... alice's own files stay" test -d /home/alice/.local/bin
e2e_done
