#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinespawn pull-tar against real HTTP and HTTPS servers on loopback (Python's http.server, with
ETag/304 support and a mode that drops the connection mid-transfer, TLS from a CA this test makes), with
archives this test builds: a small root file system in every compression, and hostile ones. Needs root
(owners, device nodes) and openssl; skips (77) otherwise."""

import os
import shutil
import subprocess
import sys
import tarfile

sys.dont_write_bytecode = True
from pull_fixtures import (Pki, QuietHandler, Sandbox, cannot_run, changes, check, file_sha256, finish,
                           serve, sha256_hex, snapshot, ti, write_tar)

CLI = sys.argv[1]
VENDOR_CONF = sys.argv[2]


class Handler(QuietHandler):
    root = None
    log = []
    drop_next = set()
    http_base = None

    def do_GET(self):
        if self.path.startswith("/to-http/"):
            # from the TLS server to the plain one
            Handler.log.append((self.path, 302))
            self.send_response(302)
            self.send_header("Location", Handler.http_base + "/" + self.path[len("/to-http/"):])
            self.end_headers()
            return
        if self.path.startswith("/redirect/"):
            Handler.log.append((self.path, 302))
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.end_headers()
            return
        if self.path.startswith("/status500/"):
            Handler.log.append((self.path, 500))
            self.send_error(500)
            return
        path = os.path.join(self.root, self.path.lstrip("/").split("?")[0])
        if not os.path.isfile(path):
            Handler.log.append((self.path, 404))
            self.send_error(404)
            return
        data = open(path, "rb").read()
        etag = '"' + sha256_hex(data)[:16] + '"'
        if self.path.startswith("/lm/"):
            # a server without ETag: Last-Modified and If-Modified-Since only
            last_modified = "Tue, 14 Nov 2023 22:13:20 GMT"
            code = 304 if self.headers.get("If-Modified-Since") == last_modified else 200
            Handler.log.append((self.path, code))
            self.send_response(code)
            self.send_header("Last-Modified", last_modified)
            if code == 200:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if code == 200:
                self.wfile.write(data)
            return
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
    if cannot_run("owners, device nodes", [("openssl", "openssl"), ("zstd", "zstd")]):
        return 77

    sb = Sandbox("mspawn-pull-", CLI, VENDOR_CONF)
    tmp, machines, no_leftovers = sb.tmp, sb.machines, sb.no_leftovers
    www = sb.path("www")
    outside = sb.path("outside")
    for d in (www, outside):
        os.makedirs(d)
    with open(os.path.join(outside, "victim"), "w") as f:
        f.write("host file\n")

    def pull(url, name, *extra, ca=None):
        return sb.run("pull-tar", url, name, *extra, **({"MACHINESPAWN_CA_BUNDLE": ca} if ca else {}))

    # --- the good root file system, in every compression, detected from content
    plain = os.path.join(www, "rootfs.tar")
    write_tar(plain, rootfs_members())
    variants = {"gz": "gzip", "xz": "xz", "bz2": "bzip2"}
    for ext, how in variants.items():
        write_tar(os.path.join(www, f"rootfs.tar.{ext}"), rootfs_members(), how)
    subprocess.run(["zstd", "-q", "-f", plain, "-o", os.path.join(www, "rootfs.tar.zst")], check=True)
    # an xz archive under a name that says gzip
    shutil.copy(os.path.join(www, "rootfs.tar.xz"), os.path.join(www, "misnamed.tar.gz"))
    with open(os.path.join(www, "SHA256SUMS"), "w") as f:
        for n in sorted(os.listdir(www)):
            if n != "SHA256SUMS":
                f.write(file_sha256(os.path.join(www, n)) + "  " + n + "\n")

    Handler.root = www
    server = serve(Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    Handler.http_base = base
    cache_images = os.path.join(sb.cache, "images")

    def cached_archive(url):
        return os.path.join(cache_images, sha256_hex(url.encode())[:16] + ".archive")

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

    # the cached copy is hashed again after a 304, not trusted on its recorded digest
    tampered = os.path.join(tmp, "tampered.tar")
    write_tar(tampered, [ti("etc", tarfile.DIRTYPE), ti("etc/os-release", data=b"ID=tampered\n")])
    shutil.copy(tampered, cached_archive(f"{base}/rootfs.tar.zst"))
    Handler.log.clear()
    r = pull(f"{base}/rootfs.tar.zst", "tampered")
    check(r.returncode != 0 and ("/rootfs.tar.zst", 304) in Handler.log and "does not match" in r.stderr
          and no_leftovers("tampered") and not os.path.exists(cached_archive(f"{base}/rootfs.tar.zst")),
          "a tampered cached copy fails its SHA256SUMS after a 304, leaves nothing and is dropped",
          r.stderr + str(Handler.log))
    Handler.log.clear()
    r = pull(f"{base}/rootfs.tar.zst", "tampered")
    check(r.returncode == 0 and ("/rootfs.tar.zst", 200) in Handler.log
          and open(os.path.join(machines, "tampered/etc/os-release")).read() == "ID=testos\n",
          "... and the next pull downloads it again", r.stderr + str(Handler.log))
    shutil.copy(tampered, cached_archive(f"{base}/rootfs.tar.zst"))
    Handler.log.clear()
    r = pull(f"{base}/rootfs.tar.zst", "tampered-nover", "--verify=no")
    check(r.returncode != 0 and ("/rootfs.tar.zst", 304) in Handler.log and no_leftovers("tampered-nover"),
          "with Verify=no too, a cached copy that changed since its download fails", r.stderr + str(Handler.log))

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
    good_hash = file_sha256(plain)
    r = pull(f"{base}/rootfs.tar", "inline", f"--verify=sha256:{good_hash}")
    check(r.returncode == 0, "Verify=sha256:HEX", r.stderr)
    r = pull(f"{base}/rootfs.tar", "mismatch", "--verify=sha256:" + "0" * 64)
    check(r.returncode != 0 and "does not match its checksum" in r.stderr and no_leftovers("mismatch"),
          "a checksum mismatch of the cached copy fails and leaves nothing", r.stderr)
    # a URL never fetched before: the digest of the download itself
    os.makedirs(os.path.join(www, "fresh"))
    shutil.copy(plain, os.path.join(www, "fresh/rootfs.tar"))
    Handler.log.clear()
    r = pull(f"{base}/fresh/rootfs.tar", "mismatch", "--verify=sha256:" + "0" * 64)
    check(r.returncode != 0 and ("/fresh/rootfs.tar", 200) in Handler.log and "does not match" in r.stderr
          and no_leftovers("mismatch") and not os.path.exists(cached_archive(f"{base}/fresh/rootfs.tar"))
          and not any(".archive." in n for n in os.listdir(cache_images)),
          "a checksum mismatch of a fresh download fails, leaves nothing and is not cached",
          r.stderr + str(Handler.log))
    # SHA256SUMS in the other spellings: "HEX *name" (binary mode) and "HEX  ./name"
    for sub, line, ok in (("star", f"{good_hash} *rootfs.tar", True), ("dot", f"{good_hash}  ./rootfs.tar", True),
                          ("dot-wrong", f"{'1' * 64}  ./rootfs.tar", False)):
        os.makedirs(os.path.join(www, sub))
        shutil.copy(plain, os.path.join(www, sub, "rootfs.tar"))
        with open(os.path.join(www, sub, "SHA256SUMS"), "w") as f:
            f.write(f"{'2' * 64}  other.tar\n{line}\n")
        r = pull(f"{base}/{sub}/rootfs.tar", f"sums-{sub}")
        if ok:
            check(r.returncode == 0, f"SHA256SUMS line '{line[64:].strip()}' is found", r.stderr)
        else:
            check(r.returncode != 0 and "does not match" in r.stderr and no_leftovers(f"sums-{sub}"),
                  "a wrong digest on a './name' line fails", r.stderr)
    os.makedirs(os.path.join(www, "nosums"))
    shutil.copy(plain, os.path.join(www, "nosums/rootfs.tar"))
    r = pull(f"{base}/nosums/rootfs.tar", "nosums")
    check(r.returncode != 0 and "SHA256SUMS" in r.stderr and no_leftovers("nosums"),
          "no SHA256SUMS with the default Verify=checksum fails", r.stderr)
    r = pull(f"{base}/star/absent.tar", "noentry")
    check(r.returncode != 0 and "has no entry for absent.tar" in r.stderr and no_leftovers("noentry"),
          "a SHA256SUMS without a line for the image fails", r.stderr)
    r = pull(f"{base}/star/", "notafile")
    check(r.returncode != 0 and "does not name a file" in r.stderr and no_leftovers("notafile"),
          "a URL that names no file fails with Verify=checksum", r.stderr)
    r = pull(f"{base}/status500/rootfs.tar", "sums500")
    check(r.returncode != 0 and "HTTP 500" in r.stderr and no_leftovers("sums500"),
          "a server error on SHA256SUMS fails", r.stderr)
    # without ETag, Last-Modified makes the second request conditional
    os.makedirs(os.path.join(www, "lm"))
    shutil.copy(plain, os.path.join(www, "lm/rootfs.tar"))
    Handler.log.clear()
    r1 = pull(f"{base}/lm/rootfs.tar", "lm1", "--verify=no")
    r2 = pull(f"{base}/lm/rootfs.tar", "lm2", "--verify=no")
    check(r1.returncode == 0 and r2.returncode == 0 and Handler.log == [("/lm/rootfs.tar", 200), ("/lm/rootfs.tar", 304)]
          and os.path.isfile(os.path.join(machines, "lm2/etc/os-release")),
          "without ETag, If-Modified-Since gets a 304 and the cached copy is used",
          r1.stderr + r2.stderr + str(Handler.log))
    r = pull(f"{base}/nosums/rootfs.tar", "nosums", "--verify=no")
    check(r.returncode == 0 and "not verified" in r.stderr, "Verify=no works, with a warning", r.stderr)
    r = pull(f"{base}/missing.tar", "missing", "--verify=no")
    check(r.returncode != 0 and "404" in r.stderr and no_leftovers("missing"), "HTTP 404 fails cleanly", r.stderr)

    # --- a server that drops the connection mid-transfer, then a retry
    big = os.path.join(www, "big.tar")
    write_tar(big, rootfs_members() + [ti("var/blob", data=os.urandom(8 << 20))])
    Handler.drop_next.add("/big.tar")
    r = pull(f"{base}/big.tar", "dropped", "--verify=no")
    check(r.returncode != 0 and no_leftovers("dropped"), "a dropped connection fails and leaves no machine",
          r.stderr)
    r = pull(f"{base}/big.tar", "dropped", "--verify=no")
    check(r.returncode == 0 and os.path.getsize(os.path.join(machines, "dropped/var/blob")) == 8 << 20,
          "the retry succeeds", r.stderr)

    # --- HTTPS with a CA made here: trusted works, another CA fails
    pki = Pki(sb.path("pki"))
    ca_crt = pki.file("ca.crt")
    pki.issue("srv", "127.0.0.1", "IP:127.0.0.1")
    tls = serve(Handler, context=pki.context("srv"))
    tbase = f"https://127.0.0.1:{tls.server_port}"
    r = pull(f"{tbase}/rootfs.tar.gz", "tls", ca=ca_crt)
    check(r.returncode == 0, "https with the trusted test CA", r.stderr)
    r = pull(f"{tbase}/rootfs.tar.gz", "tls-wrong", "--verify=no", ca=pki.file("other.crt"))
    check(r.returncode != 0 and no_leftovers("tls-wrong"), "https with a certificate of another CA fails, "
          "even with Verify=no", r.stderr)
    # a certificate from the trusted CA, for another name
    pki.issue("name", "other.invalid", "DNS:other.invalid")
    wrong_name = serve(Handler, context=pki.context("name"))
    r = pull(f"https://127.0.0.1:{wrong_name.server_port}/rootfs.tar.gz", "tls-name", "--verify=no",
             ca=ca_crt)
    check(r.returncode != 0 and no_leftovers("tls-name"), "https with a trusted certificate for another host "
          "name fails", r.stderr)
    wrong_name.shutdown()
    Handler.log.clear()
    r = pull(f"{tbase}/to-http/rootfs.tar?from-https", "tls-down", "--verify=no", ca=ca_crt)
    check(r.returncode != 0 and ("/to-http/rootfs.tar?from-https", 302) in Handler.log
          and ("/rootfs.tar?from-https", 200) not in Handler.log and no_leftovers("tls-down"),
          "an https URL redirected to plain http is not followed", r.stderr + str(Handler.log))
    r = pull(f"{tbase}/redirect/rootfs.tar", "tls-redirect", "--verify=no", ca=ca_crt)
    check(r.returncode == 0, "... while https to https redirects are", r.stderr)

    # --- hostile archives. Each is unpacked into machines/.#NAME.XXXXXX, so "../" is machines/ and "../../"
    # the test's directory, where outside/ holds the victims. Checked: the pull fails, leaves nothing, the
    # victims are unchanged (watched by digest: all of the test's directory but the server's and the
    # cache's) and nothing exists where the escape would land.
    def watched():
        return snapshot(outside, machines, sb.etc)

    deep = "/".join(["d" * 9] * 420) + "/file"  # 4200 characters in short components: longer than PATH_MAX
    hostile = {
        "traversal": ([ti("etc", tarfile.DIRTYPE), ti("../../outside/evil-traversal", data=b"x")],
                      [f"{outside}/evil-traversal"]),
        "dotdot-middle": ([ti("etc", tarfile.DIRTYPE), ti("etc/../../../outside/evil-middle", data=b"x")],
                          [f"{outside}/evil-middle", f"{machines}/outside/evil-middle"]),
        "absolute": ([ti(f"{outside}/evil-absolute", data=b"x")], [f"{outside}/evil-absolute"]),
        "symlink-escape": ([ti("esc", tarfile.SYMTYPE, linkname=outside),
                            ti("esc/evil-through-symlink", data=b"x")],
                           [f"{outside}/evil-through-symlink"]),
        "symlink-relative-escape": ([ti("a", tarfile.DIRTYPE),
                                     ti("a/up", tarfile.SYMTYPE, linkname="../../../outside"),
                                     ti("a/up/evil-relative", data=b"x")],
                                    [f"{outside}/evil-relative", f"{machines}/outside/evil-relative"]),
        # a hard link with data writes the data into the file it links to
        "hardlink-outside": ([ti("h", tarfile.LNKTYPE, linkname=f"{outside}/victim", data=b"pwned")], []),
        "hardlink-dotdot": ([ti("h", tarfile.LNKTYPE, linkname="../../outside/victim", data=b"pwned")], []),
        "huge-name": ([ti(deep, data=b"x")], []),
    }
    for name, (members, landings) in hostile.items():
        path = os.path.join(www, f"hostile-{name}.tar")
        write_tar(path, members)
        before = watched()
        r = pull(f"{base}/hostile-{name}.tar", f"h-{name}", "--verify=no")
        changed = changes(before, watched())
        landed = [p for p in landings if os.path.lexists(p)]
        check(r.returncode != 0 and no_leftovers(f"h-{name}") and not changed and not landed,
              f"hostile archive refused, nothing written outside: {name}",
              f"{r.stderr}\nchanged: {changed}\nlanded: {landed}")
        # an escape that did land (or a machine made of a hostile archive) must not spoil the next case
        subprocess.run(["rm", "-rf", os.path.join(machines, f"h-{name}")])
        for p in landed:
            os.unlink(p)
        with open(os.path.join(outside, "victim"), "w") as f:
            f.write("host file\n")
    before = watched()

    # truncated and wrong compression
    with open(os.path.join(www, "rootfs.tar.gz"), "rb") as f:
        gz = f.read()
    with open(os.path.join(www, "hostile-truncated.tar.gz"), "wb") as f:
        f.write(gz[: len(gz) // 2])
    with open(os.path.join(www, "hostile-garbage.tar.gz"), "wb") as f:
        f.write(b"\x1f\x8b\x08\x00" + os.urandom(4096))
    write_tar(os.path.join(www, "hostile-empty.tar"), [])
    r = pull(f"{base}/hostile-empty.tar", "h-empty", "--verify=no")
    check(r.returncode != 0 and "empty" in r.stderr and no_leftovers("h-empty"), "an empty archive fails",
          r.stderr)
    subprocess.run(["rm", "-rf", os.path.join(machines, "h-empty")])
    for name in ("truncated", "garbage"):
        r = pull(f"{base}/hostile-{name}.tar.gz", f"h-{name}", "--verify=no")
        check(r.returncode != 0 and no_leftovers(f"h-{name}") and watched() == before,
              f"{name} archive fails cleanly", r.stderr)

    # a device node: contained, skipped, the rest unpacked
    outside_before = snapshot(outside)
    write_tar(os.path.join(www, "hostile-device.tar"), rootfs_members() + [ti("dev/evil", tarfile.CHRTYPE)])
    r = pull(f"{base}/hostile-device.tar", "h-device", "--verify=no")
    check(r.returncode == 0 and not os.path.exists(os.path.join(machines, "h-device/dev/evil"))
          and snapshot(outside) == outside_before, "device nodes are skipped, nothing outside", r.stderr)

    server.shutdown()
    tls.shutdown()
    sb.remove()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
