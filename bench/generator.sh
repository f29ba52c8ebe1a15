#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Generator wall time for 1, 100 and 1000 .mspawn files against "cp -r" of the same inputs, measured in the
# same run, interleaved (the baseline reads the same files and writes as many). Prints medians of RUNS
# samples and the median of the per-pair ratios. Target: ratio <= 2.0 at 1000 files.
# Usage: bench/generator.sh [BUILD-DIR]
set -eu
build=${1:-build}
gen=$(realpath "$build/generator/machinespawn-generator")
runs=${RUNS:-31}
# tmpfs, like /run/systemd/generator: the disk would only add noise
tmp=$(mktemp -d -p /dev/shm)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s%N; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One sample: wall time in ns of "$@", on a fresh output directory.
sample() {
        local s
        rm -rf "$tmp/out"
        mkdir "$tmp/out"
        s=$(now)
        "$@" >/dev/null 2>&1
        echo $(($(now) - s))
}

printf '%6s %12s %12s %7s\n' files generator_us cp_r_us ratio
for n in 1 100 1000; do
        rm -rf "$tmp/conf"
        mkdir -p "$tmp/conf"
        for i in $(seq "$n"); do
                cat >"$tmp/conf/m$i.mspawn" <<MSPAWN
[Machine]
Distribution=debian
Release=bookworm
Packages=vim less
[Exec]
Environment=N=$i
[Files]
Bind=/srv/m$i
[Unit]
Description=Machine $i
[Install]
WantedBy=machines.target
MSPAWN
        done
        gs=() cs=() rs=()
        for _ in $(seq "$runs"); do
                g=$(MACHINESPAWN_CONFIG_PATH="$tmp/conf" sample "$gen" "$tmp/out")
                c=$(sample cp -r "$tmp/conf" "$tmp/out/conf")
                gs+=("$g") cs+=("$c") rs+=("$(echo "$g / $c" | bc -l)")
        done
        printf '%6d %12d %12d %7.2f\n' "$n" $(($(median "${gs[@]}") / 1000)) $(($(median "${cs[@]}") / 1000)) \
                "$(median "${rs[@]}")"
done
