#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs machinespawn-generator over the case files in this directory.

Each CASE.mspawn is installed as NAME.mspawn (NAME from "## name", default CASE) into a fresh set of
configuration directories; "## also" lines add further files. Then the generator runs twice, the two
outputs must be byte-identical, and every "## assert-..." line is checked. An output file that no
assertion names is a failure, and so is any output file that systemd would read differently from how it
looks (see check_readback). See DEVELOPERS.md for the directives.

Raw bytes that a text case file cannot hold: "## main-bytes 'ESCAPED'" installs the decoded string
(Python bytes escapes: \\n, \\r, \\x00, ...) as NAME.mspawn instead of the case file itself;
"## also-bytes 'PATH' 'ESCAPED'" adds a file whose path and content are decoded the same way;
"## pad-to BYTES [PATH]" appends comment lines to the installed NAME.mspawn (or to PATH, an "also" file)
until it has that size."""

import argparse
import codecs
import filecmp
import os
import shlex
import subprocess
import sys
import tempfile

LAYERS = ["etc", "run", "local", "lib"]


def unescape(s):
    return codecs.escape_decode(s.encode())[0]


def check_readback(path):
    """What systemd's reader would take differently from a plain reading: a CR (ends a line for systemd),
    a NUL, another control character, invalid UTF-8, a line continued by a trailing backslash."""
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append(f"invalid UTF-8 at byte {e.start}")
    for n, line in enumerate(data.split(b"\n"), 1):
        bad = [c for c in line if (c < 0x20 and c != 0x09) or c == 0x7F]
        if bad:
            problems.append(f"line {n}: control character 0x{bad[0]:02x}")
        stripped = line.lstrip(b" \t")
        if stripped[:1] in (b"#", b";"):
            continue
        trailing = len(line) - len(line.rstrip(b"\\"))
        if trailing % 2 == 1:
            problems.append(f"line {n}: ends in a backslash, systemd would join the next line")
    return problems


def parse_unit(path):
    """The assignments of a generated unit file: {(section, key): [values in order]}."""
    values, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip(" \t\r\n")
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            values.setdefault((section, key), []).append(value)
    return values


class Case:
    def __init__(self, path):
        self.path = path
        self.case = os.path.basename(path)[: -len(".mspawn")]
        self.name = self.case
        self.layer = "etc"
        self.extra = []  # (relpath, content or None, symlink target or None)
        self.asserts = []
        self.main_bytes = None
        self.pad_to = []  # (size, relpath or None)
        self.prepare_env = []  # (name, value with %ROOT%) for machinespawn-prepare
        current = None
        with open(path) as f:
            for line in f:
                if line.startswith("##| "):
                    current[1].append(line[4:])
                    continue
                if line.startswith("##|"):
                    current[1].append("\n")
                    continue
                if not line.startswith("## "):
                    continue
                words = shlex.split(line[3:])
                if not words:
                    continue
                if words[0] == "name":
                    self.name = os.fsdecode(unescape(words[1]))
                elif words[0] == "layer":
                    self.layer = words[1]
                elif words[0] == "also":
                    current = [words[1], [], None]
                    self.extra.append(current)
                elif words[0] == "also-symlink":
                    self.extra.append([words[1], None, words[2]])
                elif words[0] == "also-bytes":
                    self.extra.append([os.fsdecode(unescape(words[1])), unescape(words[2]), None])
                elif words[0] == "main-bytes":
                    self.main_bytes = unescape(words[1])
                elif words[0] == "pad-to":
                    self.pad_to.append((int(words[1]), words[2] if len(words) > 2 else None))
                elif words[0] == "prepare-env":
                    self.prepare_env.append((words[1], words[2]))
                elif words[0].startswith("assert-"):
                    self.asserts.append(words)
                else:
                    raise SystemExit(f"{path}: unknown directive {words[0]}")

    def install(self, root):
        for layer in LAYERS:
            os.makedirs(os.path.join(root, layer), exist_ok=True)
        target = os.path.join(root, self.layer, self.name + ".mspawn")
        with open(self.path, "rb") as src:
            data = src.read() if self.main_bytes is None else self.main_bytes
        with open(target, "wb") as dst:
            dst.write(data)
        for rel, lines, link in self.extra:
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if link is not None:
                os.symlink(link, p)
            elif isinstance(lines, bytes):
                with open(p, "wb") as f:
                    f.write(lines)
            else:
                with open(p, "w") as f:
                    f.write("".join(lines))
        for size, rel in self.pad_to:
            p = target if rel is None else os.path.join(root, rel)
            with open(p, "ab") as f:
                have = f.tell()
                line = b"#" * 1023 + b"\n"
                while have + len(line) <= size:
                    f.write(line)
                    have += len(line)
                if have < size:
                    f.write(b"#" * (size - have - 1) + b"\n")
        return target


def run_generator(args, root, out, extra_env=None, wrapper=()):
    env = dict(os.environ)
    env["MACHINESPAWN_CONFIG_PATH"] = ":".join(os.path.join(root, layer) for layer in LAYERS)
    env.pop("SYSTEMD_SCOPE", None)
    env.update(extra_env or {})
    os.makedirs(out, exist_ok=True)
    return subprocess.run([*wrapper, args.generator, out, out, out], env=env, capture_output=True, text=True,
                          errors="backslashreplace")


def output_files(out):
    found = set()
    for dirpath, dirnames, filenames in os.walk(out):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            found.add(os.path.relpath(os.path.join(dirpath, n), out))
    return found


def trees_identical(a, b):
    fa, fb = output_files(a), output_files(b)
    if fa != fb:
        return False
    for rel in fa:
        pa, pb = os.path.join(a, rel), os.path.join(b, rel)
        if os.path.islink(pa) != os.path.islink(pb):
            return False
        if os.path.islink(pa):
            if os.readlink(pa) != os.readlink(pb):
                return False
        elif not filecmp.cmp(pa, pb, shallow=False):
            return False
    return True


def check_case(args, case):
    errors = []
    with tempfile.TemporaryDirectory(prefix="mspawn-case-") as tmp:
        root = os.path.join(tmp, "conf")
        source = case.install(root)
        subst = {"%SRC%": source, "%ROOT%": root, "%HELPERDIR%": args.helperdir, "%UNITDIR%": args.unitdir}

        def expand(s):
            for k, v in subst.items():
                s = s.replace(k, v)
            return s

        wrapper = ()
        if args.valgrind:
            wrapper = ("valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                       "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect")
        out1, out2 = os.path.join(tmp, "out1"), os.path.join(tmp, "out2")
        res = run_generator(args, root, out1, wrapper=wrapper)
        if res.returncode == 99:
            errors.append(f"valgrind reported errors:\n{res.stderr}")
        res2 = run_generator(args, root, out2)
        if not trees_identical(out1, out2):
            errors.append("two runs on the same input gave different output")

        failed_expected = any(a[0] == "assert-failed" for a in case.asserts)
        if failed_expected and res.returncode == 0:
            errors.append("generator succeeded, expected failure")
        if not failed_expected and res.returncode != 0:
            errors.append(f"generator failed with {res.returncode}:\n{res.stderr}")
        # Silence is part of the contract: a case that expects no message gets none.
        expects_messages = any(a[0] in ("assert-stderr-contains", "assert-failed") for a in case.asserts)
        if not expects_messages and res.stderr.strip():
            errors.append(f"unexpected stderr:\n{res.stderr}")

        produced = output_files(out1)
        named = set()
        nspawn = None

        for rel in sorted(produced):
            p = os.path.join(out1, rel)
            if not os.path.islink(p):
                errors.extend(f"{rel}: {e}" for e in check_readback(p))

        for a in case.asserts:
            kind, rest = a[0], [expand(x) for x in a[1:]]
            if kind == "assert-failed":
                continue
            if kind == "assert-stderr-contains":
                if rest[0] not in res.stderr:
                    errors.append(f"stderr lacks {rest[0]!r}:\n{res.stderr}")
            elif kind == "assert-stderr-lacks":
                if rest[0] in res.stderr:
                    errors.append(f"stderr has {rest[0]!r}:\n{res.stderr}")
            elif kind == "assert-no-output":
                if produced:
                    errors.append(f"expected no output, got {sorted(produced)}")
            elif kind in ("assert-key-is", "assert-key-missing"):
                f, section, key, values = rest[0], rest[1], rest[2], rest[3:]
                named.add(f)
                p = os.path.join(out1, f)
                if not os.path.isfile(p):
                    errors.append(f"{f}: missing")
                    continue
                got = parse_unit(p).get((section, key))
                if kind == "assert-key-missing":
                    if got is not None:
                        errors.append(f"{f}: [{section}] {key} present: {got}")
                elif got != values:
                    errors.append(f"{f}: [{section}] {key} is {got}, expected {values}")
            elif kind == "assert-symlink":
                f, target = rest
                named.add(f)
                p = os.path.join(out1, f)
                if not os.path.islink(p):
                    errors.append(f"{f}: not a symlink")
                elif os.readlink(p) != target:
                    errors.append(f"{f}: points to {os.readlink(p)}, expected {target}")
            elif kind in ("assert-nspawn-key-is", "assert-nspawn-key-missing", "assert-nspawn-section-missing"):
                if nspawn is None:
                    nspawn = run_prepare(args, root, case, tmp, errors)
                if nspawn is None:
                    continue
                if kind == "assert-nspawn-section-missing":
                    if any(s == rest[0] for s, _ in nspawn):
                        errors.append(f".nspawn has section [{rest[0]}]")
                    continue
                got = nspawn.get((rest[0], rest[1]))
                if kind == "assert-nspawn-key-missing":
                    if got is not None:
                        errors.append(f".nspawn: [{rest[0]}] {rest[1]} present: {got}")
                elif got != rest[2:]:
                    errors.append(f".nspawn: [{rest[0]}] {rest[1]} is {got}, expected {rest[2:]}")
            else:
                errors.append(f"unknown assertion {kind}")

        for f in sorted(produced - named):
            errors.append(f"unexpected output file {f}")
    return errors


def run_prepare(args, root, case, tmp, errors):
    env = dict(os.environ)
    env["MACHINESPAWN_CONFIG_PATH"] = ":".join(os.path.join(root, layer) for layer in LAYERS)
    env["MACHINESPAWN_NSPAWN_DIR"] = os.path.join(tmp, "nspawn")
    # what prepare writes besides the .nspawn stays in the case's directory
    env["MACHINESPAWN_STATE_DIR"] = os.path.join(tmp, "state")
    env["MACHINESPAWN_POLKIT_DIR"] = os.path.join(tmp, "polkit")
    for name, value in case.prepare_env:
        env[name] = value.replace("%ROOT%", root)
    res = subprocess.run([args.prepare, case.name], env=env, capture_output=True, text=True,
                         errors="backslashreplace")
    if res.returncode != 0:
        errors.append(f"machinespawn-prepare failed:\n{res.stderr}")
        return None
    path = os.path.join(tmp, "nspawn", case.name + ".nspawn")
    errors.extend(f".nspawn: {e}" for e in check_readback(path))
    return parse_unit(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--generator", required=True)
    ap.add_argument("--prepare", required=True)
    ap.add_argument("--helperdir", required=True)
    ap.add_argument("--unitdir", required=True)
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()

    if args.valgrind and subprocess.run(["sh", "-c", "command -v valgrind"], capture_output=True).returncode:
        print("valgrind is not installed, skipping")
        return 77

    passed = failed = 0
    for path in sorted(args.cases):
        errors = check_case(args, Case(path))
        name = os.path.basename(path)
        if errors:
            failed += 1
            print(f"FAIL {name}")
            for e in errors:
                print("    " + e.replace("\n", "\n    "))
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
