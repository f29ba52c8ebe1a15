#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinespawn pull-tar against real HTTP and HTTPS servers on loopback (Python's http.server, with
ETag/304 support and a mode that drops the connection mid-transfer, TLS from a CA this test makes), with
archives this test builds: a small root file system in every compression, and hostile ones. Needs root
(owners, device nodes) and openssl; skips (77) otherwise."""

import hashlib
import http.server
import io
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading

CLI = sys.argv[1]
VENDOR_CONF = sys.argv[2]
passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")
        if detail:
            print("     | " + detail.strip().replace("\n", "\n     | "))


class Handler(http.server.BaseHTTPRequestHandler):
    root = None
    log = []
    drop_next = set()

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            Handler.log.append((self.path, 302))
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.end_headers()
            return
        path = os.path.join(self.root, self.path.lstrip("/").split("?")[0])
        if not os.path.isfile(path):
            Handler.log.append((self.path, 404))
            self.send_error(404)
            return
        data = open(path, "rb").read()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            Handler.log.append((self.path, 304))
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        Handler.log.append((self.path, 200))
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag)
        self.end_headers()
        if self.path in Handler.drop_next:
            # half of it, then the connection goes away
            Handler.drop_next.discard(self.path)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(data)


def serve(root, context=None):
    Handler.root = root
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tarball(path, members, mode="w"):
    """members: list of (TarInfo, bytes or None)."""
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)


def ti(name, type=tarfile.REGTYPE, data=b"", **kw):
    i = tarfile.TarInfo(name)
    i.type = type
    i.size = len(data) if type == tarfile.REGTYPE else 0
    i.mode = kw.get("mode", 0o644 if type == tarfile.REGTYPE else 0o755)
    i.uid = kw.get("uid", 0)
    i.gid = kw.get("gid", 0)
    i.mtime = 1700000000
    i.linkname = kw.get("linkname", "")
    i.pax_headers = kw.get("pax", {})
    if type == tarfile.CHRTYPE:
        i.devmajor, i.devminor = 1, 3
    return (i, data if type == tarfile.REGTYPE else None)


def rootfs_members():
    return [
        ti("./", tarfile.DIRTYPE),
        ti("etc", tarfile.DIRTYPE),
        ti("etc/os-release", data=b"ID=testos\n"),
        ti("etc/shadow", data=b"root:*:1::::::\n", mode=0o640, gid=42),
        ti("usr/bin", tarfile.DIRTYPE),
        ti("usr/bin/tool", data=b"#!/bin/sh\n", mode=0o4755),
        ti("usr/bin/alias", tarfile.LNKTYPE, linkname="usr/bin/tool"),
        ti("usr/bin/link", tarfile.SYMTYPE, linkname="tool"),
        ti("home/user/file", data=b"mine", uid=1000, gid=1000,
           pax={"SCHILY.xattr.user.mspawn": "kept"}),
    ]


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (owners, device nodes)")
        return 77
    if not shutil.which("openssl"):
        print("SKIP: needs openssl to make the test CA")
        return 77

    tmp = tempfile.mkdtemp(prefix="mspawn-pull-")
    www = os.path.join(tmp, "www")
    outside = os.path.join(tmp, "outside")
    machines = os.path.join(tmp, "machines")
    for d in (www, outside, os.path.join(tmp, "etc")):
        os.makedirs(d)
    with open(os.path.join(outside, "victim"), "w") as f:
        f.write("host file\n")
    with open(os.path.join(tmp, "etc", "machinespawn.conf"), "w") as f:
        f.write(f"[Cache]\nDirectory={tmp}/cache\n")

    env = dict(os.environ, MACHINESPAWN_MACHINES_DIR=machines, MACHINESPAWN_RUN_DIR=f"{tmp}/run",
               MACHINESPAWN_STATE_DIR=f"{tmp}/state", MACHINESPAWN_SYSCONFDIR=f"{tmp}/etc", MACHINESPAWN_VENDOR_CONF=VENDOR_CONF)

    def pull(url, name, *extra, ca=None):
        e = dict(env)
        if ca:
            e["MACHINESPAWN_CA_BUNDLE"] = ca
        return subprocess.run([CLI, "pull-tar", url, name, *extra], env=e, capture_output=True, text=True,
                              timeout=120)

    def snapshot_outside():
        out = []
        for dp, dn, fn in os.walk(outside):
            for n in sorted(dn + fn):
                p = os.path.join(dp, n)
                out.append((p, open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None))
        return sorted(out)

    def no_leftovers(name):
        entries = os.listdir(machines) if os.path.isdir(machines) else []
        return name not in entries and not any(e.startswith(f".#{name}.") and len(e) == len(name) + 9
                                               for e in entries)

    # --- the good root file system, in every compression, detected from content
    plain = os.path.join(www, "rootfs.tar")
    tarball(plain, rootfs_members())
    variants = {"gz": "w:gz", "xz": "w:xz", "bz2": "w:bz2"}
    for ext, mode in variants.items():
        tarball(os.path.join(www, f"rootfs.tar.{ext}"), rootfs_members(), mode)
    subprocess.run(["zstd", "-q", "-f", plain, "-o", os.path.join(www, "rootfs.tar.zst")], check=True)
    # an xz archive under a name that says gzip
    shutil.copy(os.path.join(www, "rootfs.tar.xz"), os.path.join(www, "misnamed.tar.gz"))
    with open(os.path.join(www, "SHA256SUMS"), "w") as f:
        for n in sorted(os.listdir(www)):
            if n != "SHA256SUMS":
                f.write(hashlib.sha256(open(os.path.join(www, n), "rb").read()).hexdigest() + "  " + n + "\n")

    server = serve(www)
    base = f"http://127.0.0.1:{server.server_port}"

    r = pull(f"{base}/rootfs.tar.zst", "good")
    check(r.returncode == 0, "pull-tar over http, verified against SHA256SUMS", r.stderr)
    m = os.path.join(machines, "good")
    if r.returncode == 0:
        st = os.stat(os.path.join(m, "usr/bin/tool"))
        check(st.st_mode & 0o7777 == 0o4755, "modes kept (setuid tool)")
        check(os.stat(os.path.join(m, "etc/shadow")).st_gid == 42, "group kept")
        check(os.stat(os.path.join(m, "home/user/file")).st_uid == 1000, "owner kept")
        check(os.stat(os.path.join(m, "usr/bin/alias")).st_ino == st.st_ino, "hard link inside the tree kept")
        check(os.readlink(os.path.join(m, "usr/bin/link")) == "tool", "symlink kept")
        try:
            x = os.getxattr(os.path.join(m, "home/user/file"), "user.mspawn")
        except OSError as e:
            x = str(e).encode()
        check(x == b"kept", "extended attributes kept", str(x))
        check(open(os.path.join(m, "etc/hostname")).read() == "good\n", "host name set for the machine")

    Handler.log.clear()
    r = pull(f"{base}/rootfs.tar.zst", "good2")
    check(r.returncode == 0 and ("/rootfs.tar.zst", 304) in Handler.log,
          "a second pull of the unchanged URL gets 304 and downloads nothing", r.stderr + str(Handler.log))
    check(os.path.isfile(os.path.join(machines, "good2/etc/os-release")), "... and unpacks from the cache")

    for ext in ("tar", "tar.gz", "tar.xz", "tar.bz2"):
        r = pull(f"{base}/rootfs.{ext}", "c-" + ext.replace(".", "-"))
        check(r.returncode == 0 and os.path.isfile(os.path.join(machines, "c-" + ext.replace(".", "-"),
                                                                 "etc/os-release")),
              f"compression detected: {ext}", r.stderr)
    r = pull(f"{base}/misnamed.tar.gz", "misnamed")
    check(r.returncode == 0, "compression detected from content, not name (xz named .gz)", r.stderr)

    r = pull(f"{base}/redirect/rootfs.tar", "redirected", "--verify=no")
    check(r.returncode == 0 and ("/redirect/rootfs.tar", 302) in Handler.log, "redirects are followed", r.stderr)

    # --- verification
    good_hash = hashlib.sha256(open(plain, "rb").read()).hexdigest()
    r = pull(f"{base}/rootfs.tar", "inline", f"--verify=sha256:{good_hash}")
    check(r.returncode == 0, "Verify=sha256:HEX", r.stderr)
    r = pull(f"{base}/rootfs.tar", "mismatch", "--verify=sha256:" + "0" * 64)
    check(r.returncode != 0 and "does not match its checksum" in r.stderr and no_leftovers("mismatch"),
          "a checksum mismatch fails and leaves nothing", r.stderr)
    os.makedirs(os.path.join(www, "nosums"))
    shutil.copy(plain, os.path.join(www, "nosums/rootfs.tar"))
    r = pull(f"{base}/nosums/rootfs.tar", "nosums")
    check(r.returncode != 0 and "SHA256SUMS" in r.stderr and no_leftovers("nosums"),
          "no SHA256SUMS with the default Verify=checksum fails", r.stderr)
    r = pull(f"{base}/nosums/rootfs.tar", "nosums", "--verify=no")
    check(r.returncode == 0 and "not verified" in r.stderr, "Verify=no works, with a warning", r.stderr)
    r = pull(f"{base}/missing.tar", "missing", "--verify=no")
    check(r.returncode != 0 and "404" in r.stderr and no_leftovers("missing"), "HTTP 404 fails cleanly", r.stderr)

    # --- a server that drops the connection mid-transfer, then a retry
    big = os.path.join(www, "big.tar")
    tarball(big, rootfs_members() + [ti("var/blob", data=os.urandom(8 << 20))])
    Handler.drop_next.add("/big.tar")
    r = pull(f"{base}/big.tar", "dropped", "--verify=no")
    check(r.returncode != 0 and no_leftovers("dropped"), "a dropped connection fails and leaves no machine",
          r.stderr)
    r = pull(f"{base}/big.tar", "dropped", "--verify=no")
    check(r.returncode == 0 and os.path.getsize(os.path.join(machines, "dropped/var/blob")) == 8 << 20,
          "the retry succeeds", r.stderr)

    # --- HTTPS with a CA made here: trusted works, another CA fails
    pki = os.path.join(tmp, "pki")
    os.makedirs(pki)

    def openssl(*a):
        subprocess.run(["openssl", *a], cwd=pki, check=True, capture_output=True)
    for ca in ("ca", "other"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=test {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "srv.key", "-out", "srv.csr")
    with open(os.path.join(pki, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext", "-out", "srv.crt")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "srv.crt"), os.path.join(pki, "srv.key"))
    tls = serve(www, ctx)
    tbase = f"https://127.0.0.1:{tls.server_port}"
    r = pull(f"{tbase}/rootfs.tar.gz", "tls", ca=os.path.join(pki, "ca.crt"))
    check(r.returncode == 0, "https with the trusted test CA", r.stderr)
    r = pull(f"{tbase}/rootfs.tar.gz", "tls-wrong", "--verify=no", ca=os.path.join(pki, "other.crt"))
    check(r.returncode != 0 and no_leftovers("tls-wrong"), "https with a certificate of another CA fails, "
          "even with Verify=no", r.stderr)

    # --- hostile archives, each checked for no write outside the target
    before = snapshot_outside()
    hostile = {
        "traversal": [ti("etc", tarfile.DIRTYPE), ti("../../outside/evil-traversal", data=b"x")],
        "dotdot-middle": [ti("etc/../../outside/evil-middle", data=b"x")],
        "absolute": [ti(f"{outside}/evil-absolute", data=b"x")],
        "symlink-escape": [ti("esc", tarfile.SYMTYPE, linkname=outside), ti("esc/evil-through-symlink", data=b"x")],
        "symlink-relative-escape": [ti("a", tarfile.DIRTYPE),
                                    ti("a/up", tarfile.SYMTYPE, linkname="../../outside"),
                                    ti("a/up/evil-relative", data=b"x")],
        "hardlink-outside": [ti("h", tarfile.LNKTYPE, linkname=f"{outside}/victim"),
                             ti("h", data=b"pwned")],
        "hardlink-dotdot": [ti("h", tarfile.LNKTYPE, linkname="../outside/victim"), ti("h", data=b"pwned")],
        "huge-name": [ti("a" * 5000, data=b"x")],
    }
    for name, members in hostile.items():
        path = os.path.join(www, f"hostile-{name}.tar")
        tarball(path, members)
        r = pull(f"{base}/hostile-{name}.tar", f"h-{name}", "--verify=no")
        check(r.returncode != 0 and no_leftovers(f"h-{name}") and snapshot_outside() == before,
              f"hostile archive refused, nothing written outside: {name}", r.stderr)

    # truncated and wrong compression
    with open(os.path.join(www, "rootfs.tar.gz"), "rb") as f:
        gz = f.read()
    with open(os.path.join(www, "hostile-truncated.tar.gz"), "wb") as f:
        f.write(gz[: len(gz) // 2])
    with open(os.path.join(www, "hostile-garbage.tar.gz"), "wb") as f:
        f.write(b"\x1f\x8b\x08\x00" + os.urandom(4096))
    for name in ("truncated", "garbage"):
        r = pull(f"{base}/hostile-{name}.tar.gz", f"h-{name}", "--verify=no")
        check(r.returncode != 0 and no_leftovers(f"h-{name}") and snapshot_outside() == before,
              f"{name} archive fails cleanly", r.stderr)

    # a device node: contained, skipped, the rest unpacked
    tarball(os.path.join(www, "hostile-device.tar"), rootfs_members() + [ti("dev/evil", tarfile.CHRTYPE)])
    r = pull(f"{base}/hostile-device.tar", "h-device", "--verify=no")
    check(r.returncode == 0 and not os.path.exists(os.path.join(machines, "h-device/dev/evil"))
          and snapshot_outside() == before, "device nodes are skipped, nothing outside", r.stderr)

    server.shutdown()
    tls.shutdown()
    subprocess.run(["rm", "-rf", tmp])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
