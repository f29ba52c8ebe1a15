#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails when code that works inside machine trees touches the file system other than through lib/basic/chase.h.

The rule: in the functions below (whole files, or named functions of a file), no call may resolve a path
by itself. That is every path-taking libc call (open, fopen, opendir, stat, lstat, access, unlink, rmdir,
mkdir, chown, chmod, rename, ...), the path-taking helpers of lib/basic/fileio.h and lib/build/tree.h, AT_FDCWD, and
the *at() calls too: those take a descriptor, but only chase.c may decide how a name below a tree's top
is resolved. The exceptions are listed in ALLOWED, per function, each with the reason it never sees a path
inside a tree. A call that comes back (say, stat() on a path built from a machine's root) fails the test.
"""
import re
import sys

SCANNED = {
    "lib/build/finish.c": None,  # None: every function of the file
    "lib/build/user.c": None,
    "helpers/prepare/machinespawn-prepare.c": None,
    "cli/machinespawn.c": {"verb_enter", "verb_list", "verb_cat"},
}

FORBIDDEN = {
    "open", "open64", "openat", "openat2", "creat", "fopen", "freopen", "opendir", "stat", "lstat", "fstatat",
    "statx", "access", "faccessat", "unlink", "unlinkat", "rmdir", "remove", "mkdir", "mkdirat", "chown",
    "lchown", "fchownat", "chmod", "fchmodat", "rename", "renameat", "renameat2", "truncate", "readlink",
    "readlinkat", "symlink", "symlinkat", "link", "linkat", "mkfifo", "mknod", "mknodat", "realpath", "chdir",
    "utimes", "utimensat", "nftw", "ftw", "scandir",
    # lib/basic/fileio.h and lib/build/tree.h helpers that take a path
    "read_full_file", "read_full_file_at", "read_regular_file_at", "write_file_atomic", "write_file_atomic_at",
    "write_file_atomic_owned_at", "symlink_atomic_at", "mkdir_p", "mkdir_p_at", "mkdir_parents",
    "mkdir_parents_at", "tree_disk_usage", "tree_remove", "tree_clone",
    "AT_FDCWD",
}

ALLOWED = {
    # The host user's live session: /run/user/UID and /tmp/.X11-unix on the host, never a machine's tree.
    ("lib/build/user.c", "find_display"): {"opendir", "access"},
    ("lib/build/user.c", "is_socket"): {"stat"},
    # The settings file in /run/systemd/nspawn (or $MACHINESPAWN_NSPAWN_DIR) and /etc/systemd/nspawn.
    ("helpers/prepare/machinespawn-prepare.c", "run"): {"mkdir_p", "write_file_atomic", "access"},
    # The machines directory itself (names only), /var/lib/machinespawn/NAME.origin and the cache's .info.
    ("cli/machinespawn.c", "verb_list"): {"opendir", "read_full_file"},
    # The .mspawn files in the configuration directories.
    ("cli/machinespawn.c", "verb_cat"): {"read_full_file"},
}


def strip(text):
    """Comments and string/char literals blanked out, newlines kept (line numbers stay right)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(name, first line, body) of each top-level function definition."""
    depth, start, header_start = 0, 0, 0
    for m in re.finditer(r"[{};]", text):
        ch = m.group()
        if ch == "{":
            if depth == 0:
                start = m.start()
                header = text[header_start:start]
                names = re.findall(r"\b([A-Za-z_]\w*)\s*\(", header)
                name = names[0] if names else None
                if "=" in header.split("(")[0]:
                    name = None  # an initialiser, not a function
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                if name:
                    yield name, text.count("\n", 0, start) + 1, text[start:m.end()], start
                header_start = m.end()
        elif depth == 0:
            header_start = m.end()


def main():
    root = sys.argv[1]
    call = re.compile(r"(?<![\w.>])(" + "|".join(sorted(FORBIDDEN, key=len, reverse=True)) + r")\b(\s*\()?")
    problems = []
    for path, only in SCANNED.items():
        with open(f"{root}/{path}", encoding="utf-8") as f:
            text = strip(f.read())
        seen = set()
        for name, _, body, offset in functions(text):
            seen.add(name)
            if only is not None and name not in only:
                continue
            allowed = ALLOWED.get((path, name), set())
            for m in call.finditer(body):
                word = m.group(1)
                if word != "AT_FDCWD" and not m.group(2):
                    continue  # a name, not a call
                if word in allowed:
                    continue
                line = text.count("\n", 0, offset + m.start()) + 1
                problems.append(f"{path}:{line}: {name}() calls {word}: a path inside a machine's tree must go "
                                "through lib/basic/chase.h (or add the function to ALLOWED with the reason)")
        if only:
            for missing in sorted(only - seen):
                problems.append(f"{path}: no function {missing}() to check (renamed? update SCANNED)")
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {len(SCANNED)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
