#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every test: installs the Debian packages the suite needs, builds in a fresh directory with warnings
# as errors, runs the unit, generator (also under valgrind) and end-to-end suites, and prints one summary
# line. Run as root with network access; tests that need either are skipped (and say why) otherwise,
# except with --no-skip (CI), where a skipped test is a failure.
# Usage: tools/run-tests.sh [--no-skip] [meson test arguments, e.g. --suite unit]
set -uo pipefail
cd "$(dirname "$0")/.."

no_skip=0
if [ "${1:-}" = "--no-skip" ]; then
        no_skip=1
        shift
fi

packages() { grep -hv '^#' "$@" | xargs; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        # shellcheck disable=SC2046
        apt-get install -y -qq --no-install-recommends \
                $(packages tools/build-deps.txt tools/runtime-deps.txt tools/test-deps.txt) >/dev/null ||
                { echo "run-tests.sh: apt-get install failed" >&2; exit 1; }
fi

build=${MACHINESPAWN_TEST_BUILD_DIR:-build-test}
rm -rf "$build"
meson setup "$build" --prefix=/usr -Dwerror=true -Dtests=enabled >"$build.setup.log" 2>&1 ||
        { cat "$build.setup.log"; exit 1; }
rm -f "$build.setup.log"
meson compile -C "$build" || exit 1

meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
rc=$?

# One closing line from meson's own record, so that skips are visible and never count as passes.
python3 - "$build/meson-logs/testlog.json" "$no_skip" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in open(sys.argv[1]):
    r = json.loads(line)
    result = r["result"]
    if result in ("OK", "EXPECTEDFAIL"):
        counts["OK"] += 1
    elif result == "SKIP":
        counts["SKIP"] += 1
        print(f"skipped: {r['name']}")
    else:
        counts["FAIL"] += 1
failed = counts["FAIL"] + (counts["SKIP"] if sys.argv[2] == "1" else 0)
print(f"{counts['OK']} passed, {failed} failed, {counts['SKIP']} skipped")
sys.exit(1 if failed else 0)
PY
summary=$?
[ $rc -eq 0 ] && [ $summary -eq 0 ]
