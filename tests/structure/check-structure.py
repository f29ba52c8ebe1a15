#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails when the code's structure erodes.

Usage: check-structure.py SOURCE-ROOT BASIC.a CONFIG.a PULL.a BUILD.a PROGRAM...

- Each program links only the layers it may: what it defines of each layer archive's global symbols says
  which static layers it took in, `readelf -d` which shared libraries it needs.
- A layer includes no header of a layer above it (basic < config < pull < build).
- No function in lib/, cli/, helpers/, generator/ is longer than 100 lines.
- Only lib/basic/paths.c reads the MACHINESPAWN_* environment.
- No hand-written realloc() appender: arrays grow with GREEDY_REALLOC (lib/basic/alloc-util.h).
"""
import os
import re
import subprocess
import sys

LAYERS = ["basic", "config", "pull", "build"]
DOWNLOAD_LIBS = ("libcurl", "libarchive", "libcrypto")

# program -> (layers it may link, shared libraries it must not need)
PROGRAMS = {
    "machinespawn-generator": ({"basic", "config"}, DOWNLOAD_LIBS),
    "machinespawn-prepare": (set(LAYERS), DOWNLOAD_LIBS),
    "machinespawn-remove": (set(LAYERS), DOWNLOAD_LIBS),
    "machinespawn-enter": (set(LAYERS), DOWNLOAD_LIBS),
    "machinespawn-started": (set(LAYERS), DOWNLOAD_LIBS),
}

MAX_FUNCTION_LINES = 100
FUNCTION_DIRS = ["lib", "cli", "helpers", "generator"]
# Functions still over the limit, "path:function": each entry is a debt, not a licence, and fails the test
# once the function is short enough (then remove it here).
FUNCTION_ALLOWED = set()

failures = []


def fail(msg):
    failures.append(msg)


def sources(root, dirs, exts=(".c", ".h")):
    for d in dirs:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in sorted(files):
                if f.endswith(exts):
                    p = os.path.join(dirpath, f)
                    yield os.path.relpath(p, root), open(p, encoding="utf-8", errors="replace").read()


def strip_comments(text):
    # keeps line numbers: comments become blanks of the same line count
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r"/\*.*?\*/", blank, text, flags=re.S)
    return re.sub(r"//[^\n]*", blank, text)


def defined_globals(path):
    out = subprocess.run(["nm", "-g", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}


def check_links(archives, programs):
    layer_symbols = {name: defined_globals(a) for name, a in zip(LAYERS, archives)}
    for prog in programs:
        name = os.path.basename(prog)
        if name not in PROGRAMS:
            continue
        allowed, banned = PROGRAMS[name]
        out = subprocess.run(["nm", "--defined-only", prog], capture_output=True, text=True, check=True).stdout
        defined = {line.split()[-1] for line in out.splitlines() if len(line.split()) == 3}
        for layer, syms in layer_symbols.items():
            used = sorted(defined & syms)
            if used and layer not in allowed:
                fail(f"{name} links the {layer} layer ({', '.join(used[:5])}{', ...' if len(used) > 5 else ''}); "
                     f"it may link only {', '.join(l for l in LAYERS if l in allowed)}")
        dyn = subprocess.run(["readelf", "-d", prog], capture_output=True, text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\).*\[(.*)\]", dyn)
        for lib in needed:
            if lib.startswith(banned):
                fail(f"{name} needs {lib}; it must not need {', '.join(banned)}")


def check_includes(root):
    where = {}
    for layer in LAYERS:
        for f in os.listdir(os.path.join(root, "lib", layer)):
            if f.endswith(".h"):
                where[f] = layer
    for path, text in sources(root, ["lib/" + l for l in LAYERS]):
        layer = path.split("/")[1]
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m or m.group(1) not in where:
                continue
            other = where[m.group(1)]
            if LAYERS.index(other) > LAYERS.index(layer):
                fail(f"{path}:{n}: the {layer} layer includes {m.group(1)} of the {other} layer above it")


FUNC_START = re.compile(r"^[A-Za-z_][^;=]*\b([A-Za-z_]\w*)\s*\([^;]*$")


def check_function_lengths(root):
    over_allowed = set()
    for path, text in sources(root, FUNCTION_DIRS, (".c",)):
        lines = strip_comments(text).splitlines()
        i = 0
        while i < len(lines):
            m = FUNC_START.match(lines[i])
            if not m or lines[i].startswith(("typedef", "struct", "#")) and "(" not in lines[i]:
                i += 1
                continue
            # the signature may go on; the body opens with a "{" ending a line, closes with "}" at column 0
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{") and not lines[j].rstrip().endswith(";"):
                j += 1
            if j >= len(lines) or lines[j].rstrip().endswith(";") or "=" in lines[j] and j == i:
                i += 1
                continue
            k = j + 1
            while k < len(lines) and lines[k].rstrip() != "}":
                k += 1
            length = k - i + 1
            where = f"{path}:{m.group(1)}"
            if length > MAX_FUNCTION_LINES:
                if where in FUNCTION_ALLOWED:
                    print(f"# allowed for now: {path}:{i + 1}: {m.group(1)}() is {length} lines")
                    over_allowed.add(where)
                else:
                    fail(f"{path}:{i + 1}: {m.group(1)}() is {length} lines (more than {MAX_FUNCTION_LINES})")
            i = k + 1
    for where in sorted(FUNCTION_ALLOWED - over_allowed):
        fail(f"{where}: allowed to be long but no longer is (or is gone): drop it from FUNCTION_ALLOWED")


def check_environment(root):
    for path, text in sources(root, FUNCTION_DIRS):
        if path == "lib/basic/paths.c":
            continue
        for n, line in enumerate(strip_comments(text).splitlines(), 1):
            if re.search(r'\b(secure_)?getenv\s*\(\s*"MACHINESPAWN_', line):
                fail(f"{path}:{n}: reads $MACHINESPAWN_* itself; add it to Paths (lib/basic/paths.h)")


def check_appenders(root):
    for path, text in sources(root, FUNCTION_DIRS):
        if path == "lib/basic/alloc-util.h":
            continue
        for n, line in enumerate(strip_comments(text).splitlines(), 1):
            if re.search(r"\b(realloc|reallocarray)\s*\(", line):
                fail(f"{path}:{n}: a hand-written realloc(); grow arrays with GREEDY_REALLOC (lib/basic/alloc-util.h)")


def main():
    if len(sys.argv) < 6:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root, archives, programs = sys.argv[1], sys.argv[2:6], sys.argv[6:]
    check_links(archives, programs)
    check_includes(root)
    check_function_lengths(root)
    check_environment(root)
    check_appenders(root)
    for f in failures:
        print(f)
    print(f"# {len(failures)} structure violation(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
