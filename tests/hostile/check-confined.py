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
    "lib/build/export.c": None,
    "lib/build/converge.c": None,
    "lib/build/rebuild.c": None,
    "lib/build/origin.c": None,
    "lib/build/origin-hooks.c": None,
    "lib/build/generations.c": None,
    "lib/pull/oci-layer.c": None,
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

    # export.c reads the tree through chase_read_file() only. What it writes is the host's: the directory
    # state_dir/export/NAME with its list "exported" (opened O_NOFOLLOW) and the share/ tree it builds
    # beside it in a fresh mkdtemp() directory (share_fd), exchanged for the directory with renameat2(), and
    # removed with tree_remove() (which never follows a link), as are the machine's temporaries left in
    # state_dir/export (read by name only). The user's home goes through chase.h (home_open).
    ("lib/build/export.c", "exported_read"): {"open"},
    ("lib/build/export.c", "copy_icons"): {"mkdir_parents_at", "write_file_atomic_at"},
    ("lib/build/export.c", "copy_icon_path"): {"mkdir_parents_at", "write_file_atomic_at"},
    ("lib/build/export.c", "build_apps"): {"mkdir_p", "open", "mkdir_p_at", "write_file_atomic_at"},
    ("lib/build/export.c", "write_exported"): {"write_file_atomic"},
    ("lib/build/export.c", "remove_temporaries"): {"opendir", "tree_remove"},
    ("lib/build/export.c", "export_sync"): {"lstat", "mkdir_p", "chmod", "tree_remove", "renameat2", "AT_FDCWD"},
    ("lib/build/export.c", "export_remove"): {"tree_remove"},

    # converge.c and rebuild.c: a tree's top (machines_dir/NAME, .NAME.new, .NAME.previous) as a whole,
    # looked at with lstat() (never through a link), renamed, exchanged with renameat2() or removed with
    # tree_remove(); the records in state_dir. Nothing below a tree's top.
    ("lib/build/origin.c", "origin_tree_id"): {"lstat"},
    ("lib/build/origin.c", "origin_read"): {"read_full_file"},
    ("lib/build/origin.c", "origin_write"): {"write_file_atomic"},
    ("lib/build/converge.c", "remove_fresh"): {"tree_remove", "rename", "unlink"},
    ("lib/build/converge.c", "converge_locked"): {"lstat"},
    # Copy=SOURCE: the host's file, named by the admin (a regular file only, read with a bound); the
    # destination in the tree goes through chase_write_file().
    ("lib/build/converge.c", "tree_copy_in"): {"open"},
    ("lib/build/rebuild.c", "exists"): {"lstat"},
    ("lib/build/rebuild.c", "exchange"): {"renameat2", "AT_FDCWD"},
    ("lib/build/rebuild.c", "machine_state_recover"): {"tree_remove", "rename", "unlink"},
    # generations.c: the generations' tops (.NAME.new, .NAME.previous) removed whole with tree_remove(),
    # and their records in state_dir.
    ("lib/build/generations.c", "machine_remove_generations"): {"tree_remove", "unlink"},
    ("lib/build/generations.c", "machine_drop_previous"): {"lstat", "access", "unlink", "tree_remove"},
    ("lib/build/rebuild.c", "machine_swap_in"): {"tree_remove", "unlink", "rename"},
    ("lib/build/rebuild.c", "abandon"): {"tree_remove", "unlink"},
    ("lib/build/rebuild.c", "machine_rebuild_locked"): {"lstat"},
    # Keep=: both parents come from chase_open_parent(); only their last name is looked at (fstatat with
    # AT_SYMLINK_NOFOLLOW) and removed from the new tree (unlinkat, or tree_remove for a directory, which
    # follows no link below it).
    ("lib/build/rebuild.c", "keep_one"): {"fstatat", "unlinkat", "tree_remove"},

    # oci-layer.c resolves whiteouts with a walk of its own that refuses every link: each component opened
    # O_NOFOLLOW|O_DIRECTORY below the last, a name looked at with AT_SYMLINK_NOFOLLOW, directories emptied
    # through descriptors checked to be on the same file system. The layer's target is the top of a tree
    # being made (opened O_NOFOLLOW), "." our own working directory. hide_lower() and apply_whiteout() open
    # one name below a descriptor from that walk, O_NOFOLLOW|O_DIRECTORY (hide_lower() then checks the
    # file system); replace_lower() and apply_whiteout() look at one name with AT_SYMLINK_NOFOLLOW.
    ("lib/pull/oci-layer.c", "open_dir_nofollow"): {"openat", "fstatat"},
    ("lib/pull/oci-layer.c", "remove_entry"): {"fstatat", "openat", "unlinkat"},
    ("lib/pull/oci-layer.c", "hide_lower"): {"openat"},
    ("lib/pull/oci-layer.c", "apply_whiteout"): {"fstatat", "openat"},
    ("lib/pull/oci-layer.c", "replace_lower"): {"fstatat"},
    ("lib/pull/oci-layer.c", "oci_layer_apply_copy"): {"open"},
}


def strip(text):
    """Comments, preprocessor lines and string/char literals blanked out, newlines kept (line numbers stay
    right)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "#" and (i == 0 or text[i - 1] == "\n"):
            # a preprocessor line (with its continuations): "#define X (1)" is no function
            j = i
            while True:
                j = text.find("\n", j)
                if j < 0 or text[j - 1] != "\\":
                    break
                j += 1
            j = n if j < 0 else j
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("/*", i):
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
        for missing in sorted(name for p, name in ALLOWED if p == path and name not in seen):
            problems.append(f"{path}: no function {missing}() for its ALLOWED entry (renamed? update ALLOWED)")
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {len(SCANNED)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
