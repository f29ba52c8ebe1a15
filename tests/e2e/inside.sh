# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for scenarios running inside the booted test host. Each check prints ok/FAIL; the scenario
# ends with e2e_done, which exits 1 when anything failed.
E2E_PASSED=0
E2E_FAILED=0

pass() {
        echo "ok   $*"
        E2E_PASSED=$((E2E_PASSED + 1))
}

fail() {
        echo "FAIL $*"
        E2E_FAILED=$((E2E_FAILED + 1))
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
        local desc=$1 out
        shift
        if out=$("$@" 2>&1); then
                pass "$desc"
        else
                fail "$desc"
                echo "$out" | sed 's/^/     | /' | tail -n 30
        fi
}

# check_output DESCRIPTION EXPECTED-SUBSTRING COMMAND...
check_output() {
        local desc=$1 expect=$2 out
        shift 2
        out=$("$@" 2>&1)
        if [[ "$out" == *"$expect"* ]]; then
                pass "$desc"
        else
                fail "$desc (expected '$expect')"
                echo "$out" | sed 's/^/     | /' | tail -n 30
        fi
}

# check_not_output DESCRIPTION UNEXPECTED-SUBSTRING COMMAND...
check_not_output() {
        local desc=$1 unexpected=$2 out rc
        shift 2
        out=$("$@" 2>&1)
        rc=$?
        # a command that failed says nothing of what it would have printed
        if [ $rc = 0 ] && [[ "$out" != *"$unexpected"* ]]; then
                pass "$desc"
        else
                fail "$desc (exit status $rc; did not expect '$unexpected')"
                echo "$out" | sed 's/^/     | /' | tail -n 30
        fi
}

# wait_for SECONDS COMMAND...: polls until the command succeeds.
wait_for() {
        local n=$(($1 * 5))
        shift
        while [ $n -gt 0 ]; do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.2
                n=$((n - 1))
        done
        return 1
}

e2e_done() {
        echo "scenario: $E2E_PASSED passed, $E2E_FAILED failed"
        # not the count: 77 failures would read as a skip, and 256 as a pass
        [ "$E2E_FAILED" = 0 ] && [ "$E2E_PASSED" -gt 0 ] && exit 0
        exit 1
}
