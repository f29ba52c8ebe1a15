#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# "machinespawn check" lists exactly the relations debian/control's Depends, Recommends and Suggests make
# (each under its field), and a missing dependency fails it with the package that provides it named.
# Usage: test-check.sh MACHINESPAWN
set -u
cli=$1
control=$(dirname "$0")/../../debian/control
failed=0
result() {
        if [ "$1" = 0 ]; then echo "ok   $2"; else echo "FAIL $2"; failed=$((failed + 1)); fi
}

out=$("$cli" check 2>&1)
echo "$out" | sed 's/^/     | /'

# The binary package's relations, one "Field: relation" a line, substitution variables left out.
promised=$(python3 - "$control" <<'PY'
import re, sys
stanzas = open(sys.argv[1]).read().split("\n\n")
binary = next(s for s in stanzas if s.startswith("Package:"))
fields = {}
for m in re.finditer(r"^(\S+):(.*(?:\n .*)*)", binary, re.M):
    fields[m.group(1)] = m.group(2)
for field in ("Depends", "Recommends", "Suggests"):
    for rel in fields.get(field, "").replace("\n", " ").split(","):
        rel = " ".join(rel.split())
        if rel and not rel.startswith("${"):
            print(f"{field}: {rel}")
PY
)
listed=$(echo "$out" | grep -oE '(Depends|Recommends|Suggests): .*$' | sort -u)
diff <(echo "$promised" | sort -u) <(echo "$listed")
result $? "check lists exactly debian/control's Depends, Recommends and Suggests"
echo "$out" | grep -qE '^tar +ok +Essential: tar$' && echo "$out" | grep -qE '^cp +ok +Essential: coreutils$'
result $? "... and tar and cp as Essential"

# A PATH where everything is but zstd.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for p in systemd-nspawn machinectl debootstrap mmdebstrap tar cp; do
        command -v "$p" >/dev/null && ln -s "$(command -v "$p")" "$bin/$p"
done
out=$(PATH=$bin "$cli" check 2>&1)
rc=$?
[ $rc != 0 ] && echo "$out" | grep -qE '^zstd +MISSING +Depends: zstd$' &&
        echo "$out" | grep -qx '    apt-get install zstd'
result $? "without zstd: check fails, says MISSING and names the package (status $rc)"
[ $rc != 0 ] || echo "$out" | sed 's/^/     | /'
exit $failed
