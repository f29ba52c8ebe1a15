#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The verb table in cli/machinespawn.c is the one source of the command's verbs: --help lists each of
# them, and each refuses too few and too many arguments with status 2 and its usage line, before it looks
# at anything (no root, no network, nothing written).
set -u
CLI=$1 SOURCE=$2
. "$(dirname "$0")/../e2e/inside.sh"

# { "NAME", MIN, MAX, ...: one table line per verb
mapfile -t table < <(sed -nE 's/^ *\{ "([a-z-]+)", +([0-9]+), +([0-9]+|VERB_ANY), .*/\1 \2 \3/p' "$SOURCE")
[ "${#table[@]}" -ge 10 ] && pass "the table has ${#table[@]} verbs" || fail "the table has ${#table[@]} verbs"

help=$("$CLI" --help 2>&1)
check "--help succeeds" "$CLI" --help
for row in "${table[@]}"; do
        read -r verb min max <<<"$row"
        if grep -qE "^  $verb( |$)" <<<"$help"; then
                pass "--help lists $verb"
        else
                fail "--help lists $verb"
        fi
        check_output "$verb --help shows its usage" "Usage: machinespawn $verb" "$CLI" "$verb" --help

        # arguments that are valid names, so the count is all that is wrong
        args=()
        if [ "$min" -gt 0 ]; then
                for ((i = 1; i < min; i++)); do args+=("m$i"); done
                out=$("$CLI" "$verb" "${args[@]}" 2>&1)
                rc=$?
                if [ $rc = 2 ] && [[ "$out" == *"usage: machinespawn $verb"* ]]; then
                        pass "$verb with $((min - 1)) arguments: status 2 and its usage"
                else
                        fail "$verb with $((min - 1)) arguments: status $rc, '$out'"
                fi
        fi
        if [ "$max" != VERB_ANY ]; then
                args=()
                for ((i = 0; i <= max; i++)); do args+=("m$i"); done
                out=$("$CLI" "$verb" "${args[@]}" 2>&1)
                rc=$?
                if [ $rc = 2 ] && [[ "$out" == *"usage: machinespawn $verb"* ]]; then
                        pass "$verb with $((max + 1)) arguments: status 2 and its usage"
                else
                        fail "$verb with $((max + 1)) arguments: status $rc, '$out'"
                fi
        fi
done

# options anywhere, the command's own left alone after "run NAME"
check_output "options after the arguments" "usage: machinespawn remove" "$CLI" remove a b --force
check_output "an unknown verb" "Unknown command 'frob'" "$CLI" frob

echo "scenario: $E2E_PASSED passed, $E2E_FAILED failed"
[ "$E2E_FAILED" = 0 ]
