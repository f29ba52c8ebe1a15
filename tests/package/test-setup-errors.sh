#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/setup.sh on a tree that cannot be configured: it fails with the failing step's own output on
# stderr and a non-zero exit status. apt-get is a stub here (nothing is installed), and the build never
# gets as far as installing.
. "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || e2e_skip "setup.sh runs as root only"
e2e_workdir
src=$(package_copy_source "$work")
mkdir "$work/bin"
printf '#!/bin/sh\nexit 0\n' >"$work/bin/apt-get"
chmod +x "$work/bin/apt-get"
echo "option('broken'" >>"$src/meson_options.txt"

PATH=$work/bin:$PATH "$src/tools/setup.sh" >"$work/out" 2>"$work/err"
rc=$?
failed=0
if [ $rc != 0 ] && grep -q "meson_options.txt:.*ERROR" "$work/err" &&
        grep -q "setup.sh: configuring the build failed" "$work/err"; then
        echo "ok   setup.sh fails (status $rc) and shows meson's error"
else
        echo "FAIL setup.sh fails (status $rc) and shows meson's error; stderr:"
        sed 's/^/     | /' "$work/err"
        failed=1
fi
exit $failed
