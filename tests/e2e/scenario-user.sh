# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test host, see test-user.sh.
. /e2e/inside.sh
echo "     (test host: $(systemctl --version | head -n1))"
ms=/usr/bin/machinespawn
in_desk() { systemd-run -M desk --wait -q --pipe "$@"; }

# check_equal DESCRIPTION EXPECTED COMMAND...: the command succeeds and prints exactly EXPECTED.
check_equal() {
        local desc=$1 expect=$2 out rc err
        shift 2
        err=$(mktemp)
        out=$("$@" 2>"$err")
        rc=$?
        if [ $rc = 0 ] && [ "$out" = "$expect" ]; then
                pass "$desc"
        else
                fail "$desc (exit status $rc; expected exactly '$expect')"
                { echo "$out"; cat "$err"; } | sed 's/^/     | /' | tail -n 30
        fi
        rm -f "$err"
}

# The user namespace of the running machine, as the host sees its init: where UID 0 inside is on the host.
# With no user namespace (or an identity map) that is 0, and an idmapped home would prove nothing.
desk_root_on_host() {
        local leader inside outside count
        leader=$(machinectl show desk -p Leader --value) || return 1
        [ -n "$leader" ] || return 1
        read -r inside outside count <"/proc/$leader/uid_map" || return 1
        [ "$inside" = 0 ] || return 1
        echo "$outside"
}

groupadd -g 1234 alice
useradd -m -u 1234 -g 1234 -s /bin/bash -c "Alice Example" alice
useradd -m -u 1240 -U -s /bin/bash bob

check "the machine starts without alice's display and sound servers" systemctl start systemd-nspawn@desk
wait_for 60 systemd-run -M desk --wait -q true
check_output "... with a warning about the display" "Display=yes: no X11 socket" \
        journalctl -b -o cat -u systemd-nspawn@desk.service
check_output "... and one about the sound" "Audio=yes: no PulseAudio or PipeWire socket" \
        journalctl -b -o cat -u systemd-nspawn@desk.service
check_output "alice has the host's UID, GID and name in the machine" "uid=1234(alice) gid=1234(alice)" in_desk id alice
check_output "... her supplementary groups, an existing one and a created one" "audio" in_desk id -nG alice
check_output "... the created one too" "mspawntest" in_desk id -nG alice
check_output "... her shell, home path and name" "alice:x:1234:1234:Alice Example:/home/alice:/bin/bash" \
        in_desk getent passwd alice
check_output "Sudo=yes: passwordless sudo for alice" "alice ALL=(ALL:ALL) NOPASSWD: ALL" \
        in_desk cat /etc/sudoers.d/machinespawn-alice
check_equal "... and sudo works for her without a password" "0" $ms enter desk -- sudo -n id -u
check "machinespawn enter runs a command as alice" $ms enter desk -- touch /home/alice/made-inside
check_equal "a file alice makes inside is alice's on the host" "1234:1234" stat -c %u:%g /home/alice/made-inside
check "... through an idmapped bind of her home in the machine's settings" \
        grep -qx "Bind=/home/alice:/home/alice:idmap" /run/systemd/nspawn/desk.nspawn
root_on_host=$(desk_root_on_host)
if [ -n "$root_on_host" ] && [ "$root_on_host" != 0 ]; then
        pass "... while the machine has its own user namespace (root inside is UID $root_on_host on the host)"
else
        fail "... while the machine has its own user namespace (uid_map of its init: '$root_on_host' for root)"
fi
check_equal "enter --user=root" "0" $ms enter desk --user=root -- id -u
# machinectl shell drops a command's exit status on systemd 252; enter must not
check_output "enter exits with the command's status" "status 3" sh -c "$ms enter desk -- sh -c 'exit 3'; echo status \$?"
check_output "... and with a failure's" "status 1" sh -c "$ms enter desk -- false; echo status \$?"
check_output "... and 0 for success" "status 0" sh -c "$ms enter desk -- true; echo status \$?"

# The settings go where systemd-nspawn trusts them: since systemd 260, BindUser= (like Bind=) is ignored in a
# settings file beside the machine's tree.
check_output "the machine's settings are in /run/systemd/nspawn" "BindUser=bob" cat /run/systemd/nspawn/desk.nspawn
check "BindUser=bob reached systemd-nspawn: bob's user record is in the machine" in_desk test -s /run/host/userdb/bob.user
check_output "... and his home" "bob" in_desk ls /run/host/home

# how long "enter -- true" takes on a running machine (reported, not asserted: the machine is noisy)
times=()
for _ in $(seq 20); do
        s=$(date +%s%N)
        $ms enter desk -- true
        times+=($((($(date +%s%N) - s) / 1000000)))
done
echo "     (machinespawn enter desk -- true: median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 10p) ms of 20)"

# the host changes alice's UID: the next start follows it
systemctl stop systemd-nspawn@desk
usermod -u 1300 alice
chown -R alice /home/alice
check "the machine starts again" systemctl start systemd-nspawn@desk
wait_for 60 systemd-run -M desk --wait -q true
check_output "alice's new UID is followed" "uid=1300(alice)" in_desk id alice
check "enter after the change" $ms enter desk -- touch /home/alice/made-after
check_equal "... and the file is hers with the new UID" "1300" stat -c %u /home/alice/made-after

# enter on a stopped machine starts it
systemctl stop systemd-nspawn@desk
check_output "enter starts a stopped machine first" "alice" $ms enter desk -- id -un

# alice's session: an X server with a cookie, a PulseAudio server, in her runtime directory
uid=$(id -u alice)
install -d -o alice -g alice -m 0700 "/run/user/$uid"
runuser -u alice -- sh -c 'xauth -q -f ~/.Xauthority add :7 . "$(mcookie)" &&
        xauth -f ~/.Xauthority nlist :7 | sed "s/^..../ffff/" | xauth -q -f ~/.Xauthority nmerge -'
runuser -u alice -- sh -c 'Xvfb :7 -nolisten tcp -auth ~/.Xauthority >/tmp/xvfb.log 2>&1 &'
runuser -u alice -- env XDG_RUNTIME_DIR="/run/user/$uid" HOME=/home/alice pulseaudio --daemonize=yes -n \
        --exit-idle-time=-1 --load="module-native-protocol-unix auth-anonymous=1" --load=module-null-sink
wait_for 20 test -S /tmp/.X11-unix/X7
wait_for 20 test -S "/run/user/$uid/pulse/native"
check "X and PulseAudio run for alice on the test host" test -S /tmp/.X11-unix/X7 -a -S "/run/user/$uid/pulse/native"
systemctl restart systemd-nspawn@desk
wait_for 60 systemd-run -M desk --wait -q true
check_output "an X client as alice inside talks to the host's X server" "name of display:    :7" \
        $ms enter desk -- xdpyinfo
check_output "pactl as alice inside reaches the host's PulseAudio" "Server Name: pulseaudio" $ms enter desk -- pactl info
check_output "a login shell gets DISPLAY too" "DISPLAY=:7" $ms enter desk -- sh -lc 'env'
e2e_done
