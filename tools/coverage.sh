#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Line and branch coverage of lib/ by the fast suites (unit, generator, pull): builds with gcov
# instrumentation in its own build directory, runs those suites (not the valgrind run: same code, ten times
# slower), and prints one line per lib/ file and the lib/ total. Needs gcovr (apt-get install gcovr).
# Exits non-zero, naming what fell short, when a test failed or a target is missed: lib/ as a whole at least
# 90% of lines and 75% of branches, and no lib/ file under 80% of lines.
# Usage: tools/coverage.sh [build directory, default build-coverage]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build-coverage}
command -v gcovr >/dev/null || { echo "coverage.sh: gcovr is not installed (apt-get install gcovr)" >&2; exit 1; }

if [ -d "$build" ]; then
        meson setup --reconfigure "$build" --prefix=/usr -Db_coverage=true >/dev/null
else
        meson setup "$build" --prefix=/usr -Db_coverage=true >/dev/null
fi
meson compile -C "$build" >/dev/null
# counts from an earlier run would add up
find "$build" -name '*.gcda' -delete

rc=0 failed=
for suite in unit generator pull; do
        tests=$(meson test -C "$build" --list --suite "$suite" 2>/dev/null | sed -n 's/^[^ ]* \/ //p' | grep -v valgrind)
        # shellcheck disable=SC2086
        if ! meson test -C "$build" --no-rebuild --print-errorlogs $tests >"$build/coverage-$suite.log" 2>&1; then
                rc=1
                failed+=" $(python3 -c 'import json, sys
print(" ".join(r["name"].split(":", 1)[-1].replace(" / ", "/") for r in map(json.loads, open(sys.argv[1]))
               if r["result"] not in ("OK", "EXPECTEDFAIL")))' "$build/meson-logs/testlog.json")"
        fi
done
[ $rc -eq 0 ] || echo "coverage.sh: tests failed:$failed (see $build/coverage-SUITE.log); figures below are partial" >&2

gcovr --root . --object-directory "$build" --filter 'lib/' --json-summary "$build/coverage.json" >/dev/null
python3 - "$build/coverage.json" <<'PY' || rc=1
import json, sys

LINES, BRANCHES, FILE_LINES = 90.0, 75.0, 80.0
s = json.load(open(sys.argv[1]))

def pct(covered, total):
    return f"{100.0 * covered / total:5.1f}%" if total else "    -"

print(f"{'file':28} {'lines':>15} {'':>6} {'branches':>15} {'':>6}")
for f in sorted(s["files"], key=lambda f: f["filename"]):
    print(f"{f['filename']:28} {f['line_covered']:>7}/{f['line_total']:<7} {pct(f['line_covered'], f['line_total'])}"
          f" {f['branch_covered']:>7}/{f['branch_total']:<7} {pct(f['branch_covered'], f['branch_total'])}")
print(f"{'lib/ total':28} {s['line_covered']:>7}/{s['line_total']:<7} {pct(s['line_covered'], s['line_total'])}"
      f" {s['branch_covered']:>7}/{s['branch_total']:<7} {pct(s['branch_covered'], s['branch_total'])}")

def ratio(covered, total):
    return 100.0 * covered / total if total else 100.0

missed = []
if ratio(s["line_covered"], s["line_total"]) < LINES:
    missed.append(f"lib/ lines {ratio(s['line_covered'], s['line_total']):.1f}% < {LINES:.0f}%")
if ratio(s["branch_covered"], s["branch_total"]) < BRANCHES:
    missed.append(f"lib/ branches {ratio(s['branch_covered'], s['branch_total']):.1f}% < {BRANCHES:.0f}%")
for f in sorted(s["files"], key=lambda f: f["filename"]):
    if ratio(f["line_covered"], f["line_total"]) < FILE_LINES:
        missed.append(f"{f['filename']} lines {ratio(f['line_covered'], f['line_total']):.1f}% < {FILE_LINES:.0f}%")
for m in missed:
    print(f"coverage.sh: target missed: {m}", file=sys.stderr)
sys.exit(1 if missed else 0)
PY
exit $rc
