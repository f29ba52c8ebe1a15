#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Mutation check: applies each change of tools/mutations.txt (a protection or behaviour taken away) to a
# scratch copy of the source tree, rebuilds, and runs the tests the entry names; some test must fail.
# Prints one line per mutation and "N of M mutations caught"; exits 1 if any mutation survived, does not
# build, or no longer applies (its old text is not in the file: the list needs updating).
# Not part of meson test: it rebuilds and runs suites once per mutation (minutes; the cli suite bootstraps
# from the mirror).
#
# Usage: tools/mutate.sh [--list] [--check] [--no-baseline] [--keep] [NAME...]
#   NAME...        only these mutations (default: all)
#   --list         print the mutations (name, files, tests) and exit
#   --check        only check that every mutation still applies (no build)
#   --no-baseline  do not run the unmutated tree through a test selection before its first mutation
#   --keep         keep the scratch directory (default: removed at the end)
# Environment: MUTATE_DIR (scratch directory, default $TMPDIR/machinespawn-mutate), MUTATE_LOCK (the cli,
# e2e, hostile and archive suites run under flock on it, default /tmp/machinespawn-e2e.lock; MUTATE_LOCK_WAIT seconds at
# most, default 3600), MUTATIONS (the list).
# The scratch copy is the working tree's tracked files as they are now (committed or not).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
list=${MUTATIONS:-$root/tools/mutations.txt}
dir=${MUTATE_DIR:-${TMPDIR:-/tmp}/machinespawn-mutate}
lock=${MUTATE_LOCK:-/tmp/machinespawn-e2e.lock}
lock_wait=${MUTATE_LOCK_WAIT:-3600}

mode=run baseline=1 keep=0 names=()
for a in "$@"; do
        case "$a" in
        --list) mode=list ;;
        --check) mode=check ;;
        --no-baseline) baseline=0 ;;
        --keep) keep=1 ;;
        -h | --help) sed -n '3,/^set /{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        -*) echo "mutate.sh: unknown option $a" >&2; exit 2 ;;
        *) names+=("$a") ;;
        esac
done

# The list's parser and the one edit step, in one place: "mut list", "mut apply NAME SRCDIR".
mut() {
        python3 - "$list" "$@" <<'PY'
import re, sys

def unescape(s, where):
    def one(m):
        c = m.group(1)
        if c in ("n", "t", "\\"):
            return {"n": "\n", "t": "\t", "\\": "\\"}[c]
        sys.exit(f"{where}: unknown escape \\{c} (use \\n, \\t, \\\\)")
    return re.sub(r"\\(.)", one, s)

def parse(path):
    muts, cur = [], None
    for no, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        where = f"{path}:{no}"
        if line.startswith("#"):
            continue
        if not line.strip():
            cur = None
            continue
        key, _, value = line.partition(" ")
        value = value.lstrip(" ")
        if cur is None:
            if key != "name":
                sys.exit(f"{where}: a stanza starts with 'name'")
            cur = {"name": value, "tests": [], "edits": [], "file": None, "where": where}
            if not re.fullmatch(r"[A-Za-z0-9-]+", value) or any(m["name"] == value for m in muts):
                sys.exit(f"{where}: bad or repeated name '{value}'")
            muts.append(cur)
        elif key == "file":
            cur["file"] = value
        elif key == "tests":
            cur["tests"] = value.split()
        elif key == "old":
            if not cur["file"]:
                sys.exit(f"{where}: 'old' before 'file'")
            cur["edits"].append([cur["file"], unescape(value, where), None])
        elif key == "new":
            if not cur["edits"] or cur["edits"][-1][2] is not None:
                sys.exit(f"{where}: 'new' without its 'old'")
            cur["edits"][-1][2] = unescape(value, where)
        else:
            sys.exit(f"{where}: unknown key '{key}'")
    for m in muts:
        if not m["edits"] or m["edits"][-1][2] is None or not m["tests"]:
            sys.exit(f"{m['where']}: {m['name']} needs file, tests and old/new pairs")
    return muts

muts = parse(sys.argv[1])
cmd = sys.argv[2]
if cmd == "list":
    for m in muts:
        files = sorted({e[0] for e in m["edits"]})
        print(m["name"], ",".join(files), ",".join(m["tests"]), sep="\t")
    sys.exit(0)

# apply NAME SRCDIR [--dry-run]: every old text must be there exactly once (in the file as changed so far)
m = next((m for m in muts if m["name"] == sys.argv[3]), None)
if not m:
    sys.exit(f"no mutation named {sys.argv[3]}")
src, dry = sys.argv[4], "--dry-run" in sys.argv[5:]
texts = {}
for f, old, new in m["edits"]:
    if f not in texts:
        try:
            texts[f] = open(f"{src}/{f}").read()
        except FileNotFoundError:
            print(f"{f} does not exist")
            sys.exit(3)
    n = texts[f].count(old)
    if n != 1:
        print(f"{'old text not found' if n == 0 else f'old text found {n} times'} in {f}: {old!r}")
        sys.exit(3)
    texts[f] = texts[f].replace(old, new)
if not dry:
    for f, t in texts.items():
        open(f"{src}/{f}", "w").write(t)
PY
}

mapfile -t entries < <(mut list)
[ ${#entries[@]} -gt 0 ] || exit 2
if [ ${#names[@]} -gt 0 ]; then
        selected=()
        for n in "${names[@]}"; do
                e=$(printf '%s\n' "${entries[@]}" | awk -F'\t' -v n="$n" '$1 == n')
                [ -n "$e" ] || { echo "mutate.sh: no mutation named $n (see --list)" >&2; exit 2; }
                selected+=("$e")
        done
        entries=("${selected[@]}")
fi

if [ $mode = list ]; then
        printf '%s\n' "${entries[@]}" | column -t -s $'\t'
        exit 0
fi
if [ $mode = check ]; then
        rc=0
        for e in "${entries[@]}"; do
                IFS=$'\t' read -r name _ _ <<<"$e"
                out=$(mut apply "$name" "$root" --dry-run) || { echo "$name: NO LONGER APPLIES: $out"; rc=1; }
        done
        [ $rc -eq 0 ] && echo "all ${#entries[@]} mutations apply"
        exit $rc
fi

# ---- the scratch copy: tracked files as they are in the working tree, built without -Werror (a mutation may
# leave a function unused)
src=$dir/src build=$dir/build logs=$dir/logs
rm -rf "$src" "$logs"
mkdir -p "$src" "$logs"
[ $keep -eq 1 ] || trap 'rm -rf "$dir"' EXIT
snapshot=$(git stash create 2>/dev/null || true)
git archive "${snapshot:-HEAD}" | tar -x -C "$src"
if [ -d "$build" ]; then
        (cd "$src" && meson setup --wipe "$build" --prefix=/usr >"$logs/setup.log" 2>&1)
else
        (cd "$src" && meson setup "$build" --prefix=/usr >"$logs/setup.log" 2>&1)
fi
if ! meson compile -C "$build" >"$logs/build.log" 2>&1; then
        echo "mutate.sh: the unmutated tree does not build (see $logs/build.log)" >&2
        exit 2
fi

netns=0
if [ "$(id -u)" = 0 ] && unshare --net sh -c 'ip link set lo up' 2>/dev/null; then
        netns=1
fi

# run_tests LOG SPEC: runs one SUITE or SUITE/TEST; prints the tests that failed ("suite/test ...")
run_tests() {
        local log=$1 spec=$2 suite test args
        suite=${spec%%/*}
        test=${spec#"$suite"}
        test=${test#/}
        args=(meson test -C "$build" --no-rebuild --suite "$suite")
        [ -z "$test" ] || args+=("$test")
        rm -f "$build/meson-logs/testlog.json"
        case "$suite" in
        cli | e2e* | hostile | archive)
                # under the lock the main loop took (see take_lock)
                "${args[@]}" >>"$log" 2>&1 || true ;;
        *)
                # the others in a network namespace of their own where possible: their loopback servers and
                # probes meet no other run's
                if [ "$netns" = 1 ]; then
                        unshare --net sh -c 'ip link set lo up && exec "$@"' sh "${args[@]}" >>"$log" 2>&1 || true
                else
                        "${args[@]}" >>"$log" 2>&1 || true
                fi ;;
        esac
        [ -e "$build/meson-logs/testlog.json" ] || { echo "!meson test did not run (see $log)"; return; }
        python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
failed = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "INTERRUPT"):
        name = t["name"].split(":", 1)[-1].replace(" / ", "/")  # "project:suite / test"
        failed.append(name + ("" if t["result"] == "FAIL" else f" ({t['result'].lower()})"))
print(" ".join(failed))
PY
}

# A test selection must pass on the unmutated tree before a failure under a mutation means anything: each
# runs unmutated before its first mutation (so the slow cli suite, last, does not hold up the rest).
declare -A passed=()
# sets $why if SPEC does not pass unmutated
baseline() {
        local s=$1 failed
        [ $baseline -eq 1 ] || return 0
        if [ -z "${passed[$s]:-}" ]; then
                # the files of the last mutation are back, but not yet built
                meson compile -C "$build" >>"$logs/baseline.log" 2>&1 || { echo "mutate.sh: cannot rebuild" >&2; exit 2; }
                failed=$(run_tests "$logs/baseline.log" "$s")
                passed[$s]=${failed:-ok}
                [ -z "$failed" ] || echo "mutate.sh: unmutated, $s fails already: ${failed#!} (see $logs/baseline.log)" >&2
        fi
        [ "${passed[$s]}" = ok ] || why="unmutated, $s fails already"
}

# The cli, e2e, hostile and archive suites share ports and caches with other such runs on this host: they come last, and the
# lock is taken once for all of them (baseline and mutations), not once per run. Sets $why on failure.
locked=0
take_lock() {
        [ $locked -eq 0 ] || return 0
        exec 9>>"$lock"
        if flock -w "$lock_wait" 9; then
                locked=1
        else
                why="lock $lock busy for $lock_wait s"
                exec 9>&-
        fi
}

# the mutations that run those suites last
mapfile -t entries < <(printf '%s\n' "${entries[@]}" | awk -F'\t' '$3 !~ /(^|,)(cli|e2e|hostile|archive)/' ;
                       printf '%s\n' "${entries[@]}" | awk -F'\t' '$3 ~ /(^|,)(cli|e2e|hostile|archive)/')

start=$(date +%s)

caught=0 total=0 rc=0
for e in "${entries[@]}"; do
        IFS=$'\t' read -r name files tests <<<"$e"
        total=$((total + 1))
        log=$logs/$name.log
        why=
        case ",$tests" in
        *,cli* | *,e2e* | *,hostile* | *,archive*) take_lock ;;
        esac
        for s in ${tests//,/ }; do
                [ -z "$why" ] || break
                baseline "$s"
                [ -z "$why" ] || break
        done
        if [ -n "$why" ]; then
                printf '%-48s NOT RUN: %s\n' "$name" "$why"
                rc=1
                continue
        fi
        t0=$(date +%s)
        if ! out=$(mut apply "$name" "$src"); then
                printf '%-48s NO LONGER APPLIES: %s\n' "$name" "$out"
                rc=1
                continue
        fi
        result=
        if ! meson compile -C "$build" >"$log" 2>&1; then
                result="DOES NOT BUILD (see $log)"
                rc=1
        else
                for s in ${tests//,/ }; do
                        failed=$(run_tests "$log" "$s")
                        if [ "${failed:0:1}" = "!" ]; then
                                result="NOT RUN: ${failed#!}"
                                rc=1
                                break
                        elif [ -n "$failed" ]; then
                                result="caught by $failed"
                                caught=$((caught + 1))
                                break
                        fi
                done
                if [ -z "$result" ]; then
                        result="SURVIVED (ran ${tests//,/ })"
                        rc=1
                fi
        fi
        # back to the original; a fresh mtime, so that ninja rebuilds what the mutation changed
        for f in ${files//,/ }; do
                git -C "$root" show "${snapshot:-HEAD}:$f" >"$src/$f"
        done
        printf '%-48s %s (%d s)\n' "$name" "$result" $(($(date +%s) - t0))
done
echo "$caught of $total mutations caught ($(($(date +%s) - start)) s)"
exit $rc
