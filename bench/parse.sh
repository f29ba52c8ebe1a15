#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Parsing and validation are linear: for inputs of 100,000 sections, keys, list words or resets (each under
# the 1 MiB cap), the generator's wall time against "cat" of the same file, on tmpfs. Prints the median of
# RUNS samples of each and the ratio of the medians. No pass/fail: a quadratic spot shows as a ratio in
# the thousands (seconds), a linear parser stays within a few dozen (milliseconds).
# Usage: bench/parse.sh [BUILD-DIR]
set -eu
build=${1:-build}
gen=$(realpath "$build/generator/machinespawn-generator")
src=$(realpath "$(dirname "$0")/..")
runs=${RUNS:-7}
tmp=$(mktemp -d -p /dev/shm)
trap 'rm -rf "$tmp"' EXIT
export MACHINESPAWN_CONFIG_PATH=$tmp/conf MACHINESPAWN_DISTRO_INFO_DIR=$src/tests/data/distro-info

now() { date +%s%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

head_machine() { printf '[Machine]\nDistribution=debian\nRelease=bookworm\n'; }

# name: generator of the body (on stdout)
inputs=(sections keys words duplicate-words resets continuation)
gen_sections() { head_machine; seq -f '[S%.0f]' 100000; }
gen_keys() { head_machine; echo '[Unit]'; seq -f 'K%.0f=1' 100000; }
gen_words() { head_machine; printf 'Packages='; seq -f 'p%.0f' 100000 | tr '\n' ' '; echo; }
gen_duplicate-words() { head_machine; printf 'Packages='; seq -f 'p%.0f' 50000 | sed 'p' | tr '\n' ' '; echo; }
# 50,000 settings, then 50,000 resets of another key in the same section: each reset once cost a pass
# over the list
gen_resets() { head_machine; echo '[Exec]'; yes 'Boot=y' | head -n 50000; yes 'User=' | head -n 50000; }
gen_continuation() { head_machine; echo '[Unit]'; echo 'Description=a \'; yes 'b \' | head -n 100000; echo c; }

printf '%-16s %9s %12s %10s %8s\n' input bytes generator_us cat_us ratio
for name in "${inputs[@]}"; do
        rm -rf "$tmp/conf" "$tmp/out"
        mkdir -p "$tmp/conf" "$tmp/out"
        "gen_$name" >"$tmp/conf/bench.mspawn"
        bytes=$(stat -c %s "$tmp/conf/bench.mspawn")
        gs=() cs=()
        for _ in $(seq "$runs"); do
                s=$(now)
                "$gen" "$tmp/out" "$tmp/out" "$tmp/out" >/dev/null 2>&1 || { echo "generator failed on $name" >&2; "$gen" "$tmp/out" "$tmp/out" "$tmp/out" 2>&1 | head -3 >&2; exit 1; }
                gs+=($(($(now) - s)))
                s=$(now)
                cat "$tmp/conf/bench.mspawn" >/dev/null
                cs+=($(($(now) - s)))
        done
        g=$(median "${gs[@]}") c=$(median "${cs[@]}")
        printf '%-16s %9d %12d %10d %8.1f\n' "$name" "$bytes" $((g / 1000)) $((c / 1000)) "$(echo "$g / $c" | bc -l)"
done
