#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets with clang in a temporary build directory (AddressSanitizer and
# UndefinedBehaviorSanitizer on, the library instrumented for coverage) and runs each for FUZZ_SECONDS
# (default 60) from the seed corpus in corpus/ plus every tests/generator case. Exit 77 when clang or its
# fuzzer runtime (Debian: clang, libclang-rt-dev) is missing.
# Usage: tests/fuzz/run.sh [SOURCE-ROOT]
set -u
src=$(realpath "${1:-$(dirname "$0")/../..}")
seconds=${FUZZ_SECONDS:-60}

if ! command -v clang >/dev/null; then
        echo "clang is not installed, skipping (apt-get install clang libclang-rt-dev)"
        exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' >"$tmp/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/probe.log"; then
        cat "$tmp/probe.log"
        echo "clang cannot link -fsanitize=fuzzer (is libclang-rt-dev installed?), skipping"
        exit 77
fi

CC=clang meson setup "$tmp/build" "$src" --prefix=/usr -Dfuzz=true -Dwerror=false -Db_lundef=false \
        -Db_sanitize=address,undefined -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all' \
        >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
meson compile -C "$tmp/build" fuzz-mspawn >"$tmp/compile.log" 2>&1 || { cat "$tmp/compile.log"; exit 1; }

corpus=$tmp/corpus
mkdir "$corpus"
cp "$src"/tests/fuzz/corpus/* "$src"/tests/generator/*.mspawn "$corpus/"
export MACHINESPAWN_DISTRO_INFO_DIR=$src/tests/data/distro-info
# The generator's messages go to stderr on every input; libFuzzer's own report is what matters.
# -error_exitcode: libFuzzer's default for a crash is 77, which meson would read as a skip.
"$tmp/build/tests/fuzz/fuzz-mspawn" -error_exitcode=1 -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -dict="$src/tests/fuzz/mspawn.dict" -artifact_prefix="$tmp/" -print_final_stats=1 -close_fd_mask=2 "$corpus"
rc=$?
if [ $rc -ne 0 ]; then
        for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-* "$tmp"/oom-*; do
                [ -e "$a" ] || continue
                echo "=== $a (base64):"
                base64 "$a"
        done
fi
exit $rc
