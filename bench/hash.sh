#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# SHA-256 throughput: the hand-written implementation machinespawn had (SHA-NI where the CPU has it, from git
# history) against the libcrypto EVP wrapper of lib/pull/sha256.c, on the same file held in memory,
# interleaved, median MB/s of RUNS each and the median of the per-pair ratios new/old. Both use the CPU's SHA
# extensions where it has them, so they can be equal: the new one must not be slower by more than the noise of
# a shared machine (ratio >= 0.95). Both must print the same digest. Needs git history, cc and libssl-dev.
# Usage: bench/hash.sh [SIZE-MIB]   (default 256; RUNS=9)
set -eu
src=$(realpath "$(dirname "$0")/..")
size=${1:-256}
runs=${RUNS:-9}
old_rev=669c6c4 # the last tree with lib/pull/sha256.c written by hand

tmp=$(mktemp -d -p "${TMPDIR:-/var/tmp}" mspawn-bench-hash-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old" "$tmp/new"
git -C "$src" show "$old_rev:lib/pull/sha256.c" >"$tmp/old/sha256.c"
git -C "$src" show "$old_rev:lib/pull/sha256.h" >"$tmp/old/sha256.h"
cp "$src/lib/pull/sha256.c" "$src/lib/pull/sha256.h" "$tmp/new/"

# One driver for both: reads the file into memory, then times only the hashing.
cat >"$tmp/driver.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "sha256.h"
int main(int argc, char *argv[]) {
        FILE *f = fopen(argv[1], "re");
        size_t n, chunk = 1 << 20;
        struct timespec a, b;
        unsigned char *buf, d[32];
        char hex[65];
        Sha256 s;
        if (!f || fseek(f, 0, SEEK_END) < 0)
                return 1;
        n = (size_t) ftell(f);
        rewind(f);
        buf = malloc(n);
        if (!buf || fread(buf, 1, n, f) != n)
                return 1;
        clock_gettime(CLOCK_MONOTONIC, &a);
#ifdef NEW_API
        if (sha256_init(&s) < 0)
                return 1;
#else
        sha256_init(&s);
#endif
        for (size_t off = 0; off < n; off += chunk)
                sha256_update(&s, buf + off, n - off < chunk ? n - off : chunk);
        sha256_final(&s, d);
        clock_gettime(CLOCK_MONOTONIC, &b);
        sha256_to_hex(d, hex);
        printf("%s %.1f\n", hex, n / 1e6 / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
        return 0;
}
C
cc -O2 -I"$tmp/old" -o "$tmp/hash-old" "$tmp/driver.c" "$tmp/old/sha256.c"
cc -O2 -DNEW_API -I"$tmp/new" -o "$tmp/hash-new" "$tmp/driver.c" "$tmp/new/sha256.c" $(pkg-config --libs libcrypto)

head -c "${size}M" /dev/urandom >"$tmp/data"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
old=() new=() ratios=()
for i in $(seq "$runs"); do
        read -r dold a <<<"$("$tmp/hash-old" "$tmp/data")"; old+=("$a")
        read -r dnew b <<<"$("$tmp/hash-new" "$tmp/data")"; new+=("$b")
        [ "$dold" = "$dnew" ] || { echo "bench/hash.sh: digests differ: $dold $dnew" >&2; exit 1; }
        ratios+=("$(echo "$b / $a" | bc -l)")
done
mold=$(median "${old[@]}") mnew=$(median "${new[@]}") ratio=$(median "${ratios[@]}")
printf 'hash of %s MiB, median of %s: hand-written %s MB/s, libcrypto %s MB/s, ratio %.2f\n' "$size" "$runs" "$mold" \
        "$mnew" "$ratio"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.95) }' || { echo "bench/hash.sh: libcrypto is slower" >&2; exit 1; }
