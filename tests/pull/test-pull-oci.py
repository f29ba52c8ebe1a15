#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinespawn pull-oci against a hand-made registry (distribution API v2) on loopback: Python's
http.server serving manifests, indexes and blobs this test builds (OCI and Docker schema-2 types, gzip,
zstd and plain layers, whiteouts and an opaque directory), a bearer-token repository, a Basic one with
credentials from a containers-auth.json file, blobs redirected to a second server (a "CDN") that must
never see the credentials, and hostile cases: a blob whose digest or size does not match, an oversized
manifest, a manifest that does not match the digest it was pulled by, whiteouts out of the tree or through
a link. Needs root (owners); skips (77) otherwise."""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

sys.dont_write_bytecode = True
from pull_fixtures import (DOCKER_LIST, DOCKER_MANIFEST, MANIFEST_TYPES, OCI_CONFIG, OCI_MANIFEST, Pki,
                           QuietHandler, Sandbox, basic, build_image, cannot_run, check, descriptor, finish,
                           image_manifest, layer, layer_type, oci_digest, serve, tar_bytes, ti, tree_state,
                           write_auth)

CLI = sys.argv[1]
VENDOR_CONF = sys.argv[2]
PREPARE = sys.argv[3] if len(sys.argv) > 3 else None
# what finishing a machine writes, left out when two machines' trees are compared
FINISHED = ("etc/hostname", "etc/machine-id")


class Store:
    """repo -> {"manifests": {ref: (media type, bytes)}, "blobs": {digest: bytes}}"""

    def __init__(self):
        self.repos = {}

    def repo(self, name):
        return self.repos.setdefault(name, {"manifests": {}, "blobs": {}})

    def blob(self, repo, data, digest=None):
        digest = digest or oci_digest(data)
        self.repo(repo)["blobs"][digest] = data
        return digest

    def manifest(self, repo, ref, media_type, data):
        self.repo(repo)["manifests"][ref] = (media_type, data)
        self.repo(repo)["manifests"][oci_digest(data)] = (media_type, data)
        return oci_digest(data)

    def put(self, repo, data, media_type):
        """A blob, or a manifest by its digest if media_type is one; a dict is written as JSON (a manifest
        indented). Returns its descriptor."""
        if isinstance(data, dict):
            data = json.dumps(data, indent=1 if media_type in MANIFEST_TYPES else None).encode()
        if media_type in MANIFEST_TYPES:
            self.repo(repo)["manifests"][oci_digest(data)] = (media_type, data)
        else:
            self.blob(repo, data)
        return descriptor(data, media_type)


USER, PASSWORD, TOKEN = "alice", "s3cret", "tok-123"


class Registry(QuietHandler):
    store = None
    cdn_base = None
    log = []  # (path, Authorization header)
    token_requests = []

    def authorized(self, repo):
        auth = self.headers.get("Authorization")
        host = f"127.0.0.1:{self.server.server_port}"
        if repo.startswith("private/"):
            if auth == f"Bearer {TOKEN}":
                return True
            self.reply(401, b'{"errors":[]}', [("WWW-Authenticate",
                       f'Bearer realm="http://{host}/token",service="test,registry",scope="repository:{repo}:pull"')])
            return False
        if repo.startswith("basic/"):
            want = "Basic " + basic(USER, PASSWORD)
            if auth == want:
                return True
            self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="test"')])
            return False
        return True

    def do_GET(self):
        Registry.log.append((self.path, self.headers.get("Authorization")))
        if self.path.startswith("/token"):
            Registry.token_requests.append((self.path, self.headers.get("Authorization")))
            self.reply(200, json.dumps({"token": TOKEN}).encode(), [("Content-Type", "application/json")])
            return
        if self.path == "/v2/":
            self.reply(200, b"{}")
            return
        parts = self.path.split("/")
        # /v2/<repo...>/manifests/<ref> or /v2/<repo...>/blobs/<digest>
        if len(parts) < 5 or parts[1] != "v2" or parts[-2] not in ("manifests", "blobs"):
            self.reply(404)
            return
        repo, kind, ref = "/".join(parts[2:-2]), parts[-2], parts[-1]
        if not self.authorized(repo):
            return
        r = self.store.repos.get(repo)
        if kind == "manifests":
            if not r or ref not in r["manifests"]:
                self.reply(404)
                return
            mt, data = r["manifests"][ref]
            self.reply(200, data, [("Content-Type", mt)])
            return
        if not r or ref not in r["blobs"]:
            self.reply(404)
            return
        if repo.startswith("cdn/") or repo.startswith("private/cdn"):
            # blobs are served by another host, as registries do with their storage
            self.reply(307, b"", [("Location", f"{Registry.cdn_base}/{repo}/{ref}")])
            return
        self.reply(200, r["blobs"][ref])


class Cdn(QuietHandler):
    store = None
    log = []

    def do_GET(self):
        Cdn.log.append((self.path, self.headers.get("Authorization")))
        repo, digest = self.path.lstrip("/").rsplit("/", 1)
        data = self.store.repos[repo]["blobs"].get(digest)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def image(store, repo, tag, layers, config, kind="oci", arch="amd64"):
    """layers: list of (members, compression). Returns (manifest digest, manifest bytes)."""
    desc = build_image(lambda data, media_type: store.put(repo, data, media_type), layers, config, kind,
                       arch)
    media_type, data = store.repo(repo)["manifests"][desc["digest"]]
    return store.manifest(repo, tag, media_type, data), data


BASE = [
    ti("etc", tarfile.DIRTYPE),
    ti("etc/os-release", data=b"ID=ocitest\n"),
    ti("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"),
    ti("a", tarfile.DIRTYPE),
    ti("a/keep", data=b"keep"),
    ti("a/gone", data=b"gone"),
    ti("a/gonedir", tarfile.DIRTYPE),
    ti("a/gonedir/deep", data=b"deep"),
    ti("d", tarfile.DIRTYPE),
    ti("d/old1", data=b"old"),
    ti("d/sub", tarfile.DIRTYPE),
    ti("d/sub/old2", data=b"old"),
    ti("home/user/file", data=b"mine", uid=1000, gid=1000, mode=0o600),
    ti("usr/bin", tarfile.DIRTYPE),
    ti("usr/bin/ping", data=b"#!/bin/sh\n", mode=0o755,
       pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                                                "\x00\x00\x00\x00"}),
    ti("usr/bin/tool", data=b"tool v1", mode=0o4755),
    ti("usr/bin/link", tarfile.SYMTYPE, linkname="tool"),
    ti("lnk", tarfile.SYMTYPE, linkname="/etc"),
    ti("dev/null", tarfile.CHRTYPE),
]
UPPER = [
    ti("a/.wh.gone"),
    ti("a/.wh.gonedir"),
    ti("d", tarfile.DIRTYPE),
    ti("d/new", data=b"new"),  # before the opaque marker in the same tar: stays
    ti("d/.wh..wh..opq"),
    ti("usr/bin/tool", data=b"tool v2", mode=0o755),
]
TOP = [
    ti("lib/systemd", tarfile.DIRTYPE),
    ti("lib/systemd/systemd", data=b"ELF", mode=0o755),
    ti("sbin", tarfile.DIRTYPE),
    ti("sbin/init", tarfile.SYMTYPE, linkname="../lib/systemd/systemd"),
]
CONFIG = {"Env": ["PATH=/usr/bin:/bin", "GREETING=hello world"], "WorkingDir": "/srv",
          "User": "daemon", "Entrypoint": ["/usr/bin/tool", "--serve"], "Cmd": ["it's"]}


def main():
    if cannot_run("owners of unpacked files, a btrfs on a loop device",
                  [("zstd", "zstd"), ("mkfs.btrfs", "btrfs-progs"), ("btrfs", "btrfs-progs")]):
        return 77

    sb = Sandbox("mspawn-pull-oci-", CLI, VENDOR_CONF)
    tmp, machines, cache, root, gone = sb.tmp, sb.machines, sb.cache, sb.tree, sb.no_leftovers
    store = Store()
    Registry.store = Cdn.store = store
    reg = serve(Registry)
    cdn = serve(Cdn, "127.0.0.2")
    Registry.cdn_base = f"http://127.0.0.2:{cdn.server_port}"
    host = f"127.0.0.1:{reg.server_port}"
    sb.write_conf([host, f"127.0.0.2:{cdn.server_port}"])
    env = sb.env
    env["REGISTRY_AUTH_FILE"] = write_auth(sb.path("auth.json"), {f"{host}/basic": (USER, PASSWORD),
                                                                  f"{host}/private": ("bob", "tokenpw")})

    def pull(ref, name, *extra, e=None):
        return sb.run("pull-oci", *extra, ref, name, env=e)

    def blobs():
        d = os.path.join(cache, "oci/blobs/sha256")
        return sorted(x for x in os.listdir(d) if not x.endswith(".lock")) if os.path.isdir(d) else []

    layers = [(BASE, None), (UPPER, "gzip"), (TOP, "zstd")]
    digest, _ = image(store, "test/img", "v1", layers, CONFIG)

    # --- the whole image: layers in order, whiteouts, opaque, owners, modes, xattrs
    t0 = time.monotonic()
    p = pull(f"docker://{host}/test/img:v1", "one")
    first = time.monotonic() - t0
    check(p.returncode == 0, "pull-oci of an OCI image with plain, gzip and zstd layers", p.stderr)
    r = root("one")
    if p.returncode == 0:
        check(open(f"{r}/etc/os-release").read() == "ID=ocitest\n", "lower layer's file is there")
        check(os.path.exists(f"{r}/a/keep") and not os.path.lexists(f"{r}/a/gone"), "whiteout deletes a file")
        check(not os.path.lexists(f"{r}/a/gonedir"), "whiteout deletes a directory with contents")
        check(os.path.exists(f"{r}/d/new"), "opaque keeps the same layer's entry listed before it")
        check(not os.path.lexists(f"{r}/d/old1") and not os.path.lexists(f"{r}/d/sub"),
              "opaque hides the lower contents of its directory")
        check(open(f"{r}/usr/bin/tool").read() == "tool v2", "an upper layer's file replaces the lower one")
        st = os.stat(f"{r}/usr/bin/tool")
        check(st.st_mode & 0o7777 == 0o755, "the upper file's mode, not the lower's", oct(st.st_mode))
        st = os.stat(f"{r}/home/user/file")
        check((st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 1000, 0o600), "owner and mode kept")
        try:
            cap = os.getxattr(f"{r}/usr/bin/ping", "security.capability")
        except OSError as e:
            cap = str(e)
        check(isinstance(cap, bytes) and len(cap) == 20, "security.capability xattr kept", cap)
        check(os.readlink(f"{r}/lnk") == "/etc", "symlink kept as a link")
        check(not os.path.exists(f"{r}/dev/null"), "device nodes skipped, as pull-tar does")
        rec = open(f"{tmp}/state/one.oci").read()
        check("boot=yes\n" in rec, "/sbin/init -> systemd recorded as booting", rec)
        check("env=GREETING=hello world\n" in rec and "arg=/usr/bin/tool\narg=--serve\narg=it's\n" in rec
              and "workdir=/srv\n" in rec and "user=daemon\n" in rec, "config recorded", rec)
        check(f"image=docker://{host}/test/img:v1" in open(f"{tmp}/state/one.origin").read(), "origin recorded")
    check(sorted(x.removeprefix("sha256:") for x in store.repos["test/img"]["blobs"]) == blobs(),
          "every blob cached by digest", blobs())

    # --- a second machine of the same image is a copy of the cached tree
    n_requests = len(Registry.log)
    t0 = time.monotonic()
    p = pull(f"docker://{host}/test/img:v1", "two")
    second = time.monotonic() - t0
    check(p.returncode == 0 and open(f"{root('two')}/usr/bin/tool").read() == "tool v2", "second machine", p.stderr)
    check(p.returncode == 0 and tree_state(root("one"), FINISHED) == tree_state(root("two"), FINISHED) and
          not os.path.lexists(f"{root('two')}/a/gone") and not os.path.lexists(f"{root('two')}/d/old1"),
          "second machine of an image with whiteouts: the same tree as the first", p.stderr)
    blob_gets = [x for x in Registry.log[n_requests:] if "/blobs/" in x[0]]
    check(not blob_gets, "second machine fetches no blob", blob_gets)
    print(f"     first pull {first:.3f}s, second machine {second:.3f}s")

    # --- on btrfs the cached tree is a subvolume and every machine of the image a snapshot of it
    btrfs = sb.path("btrfs")
    os.makedirs(btrfs)
    made = subprocess.run(f"truncate -s 256M {btrfs}.img && mkfs.btrfs -q -f {btrfs}.img >/dev/null && "
                          f"mount -o loop {btrfs}.img {btrfs}", shell=True, capture_output=True, text=True)
    check(made.returncode == 0, "a btrfs on a loop device", made.stderr)
    if made.returncode == 0:
        try:
            bt = Sandbox("mspawn-pull-oci-btrfs-", CLI, VENDOR_CONF, dir=btrfs)
            bt.write_conf([host])
            bt.env["REGISTRY_AUTH_FILE"] = env["REGISTRY_AUTH_FILE"]

            def uuids(path):
                show = subprocess.run(["btrfs", "subvolume", "show", path], capture_output=True, text=True).stdout
                f = dict(line.strip().split(":", 1) for line in show.splitlines() if ":" in line)
                return f.get("UUID", "").strip(), f.get("Parent UUID", "").strip()

            p1 = bt.run("pull-oci", f"docker://{host}/test/img:v1", "b1")
            p2 = bt.run("pull-oci", f"docker://{host}/test/img:v1", "b2")
            cached = os.path.join(bt.cache, "oci/trees", digest.removeprefix("sha256:"))
            base_uuid = uuids(cached)[0] if os.path.isdir(cached) else ""
            check(p1.returncode == 0 and p2.returncode == 0 and os.stat(cached).st_ino == 256 and base_uuid and
                  all(uuids(bt.tree(m))[1] == base_uuid for m in ("b1", "b2")),
                  "btrfs: the cached image tree is a subvolume, both machines snapshots of it",
                  p1.stderr + p2.stderr + str([uuids(bt.tree(m)) for m in ("b1", "b2")]) + base_uuid)
            if p1.returncode == 0 and p2.returncode == 0:
                # directories' link counts are always 1 on btrfs: compared without them against ext4's or tmpfs's
                def no_dir_links(state):
                    return {k: v[:5] + v[6:] if v[0] == "dir" else v for k, v in state.items()}
                b1, b2 = tree_state(bt.tree("b1"), FINISHED), tree_state(bt.tree("b2"), FINISHED)
                check(b1 == b2 and no_dir_links(b1) == no_dir_links(tree_state(root("one"), FINISHED)),
                      "btrfs: the snapshots hold the image's tree",
                      set(no_dir_links(b1).items()) ^ set(no_dir_links(tree_state(root("one"), FINISHED)).items()))
                with open(bt.tree("b2", "etc/os-release"), "w") as f:
                    f.write("ID=changed\n")
                check(open(bt.tree("b1", "etc/os-release")).read() == "ID=ocitest\n" and
                      open(os.path.join(cached, "etc/os-release")).read() == "ID=ocitest\n",
                      "btrfs: a write in one machine is its own")
            p = bt.run("remove", "b2")
            check(p.returncode == 0 and bt.no_leftovers("b2") and os.path.isdir(bt.tree("b1", "etc")),
                  "btrfs: a snapshot machine is removed, the others stay", p.stderr)
        finally:
            subprocess.run(["umount", "-l", btrfs])

    # --- an image whose layers remove nothing: the cache's archive is written while the layers are unpacked
    # (their entries in order); unpacked for a second machine it is the same tree as the first machine's:
    # an upper file over a lower file and over a symlink, a directory's new mode, hard links, xattrs, owners,
    # a file of several blocks, parents no entry lists
    big = os.urandom(300 * 1024)
    low = [ti("c", tarfile.DIRTYPE), ti("c/rep", data=b"v1", mode=0o600), ti("c/sl", tarfile.SYMTYPE, linkname="rep"),
           ti("c/dm", tarfile.DIRTYPE, mode=0o700), ti("c/big", data=big, uid=7, gid=8),
           ti("c/h1", tarfile.LNKTYPE, linkname="c/big"),
           ti("c/cap", data=b"x", mode=0o755, pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20"
                                                   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"})]
    up = [ti("c/rep", data=b"v2 longer", mode=0o640, uid=3), ti("c/sl", data=b"now a file"),
          ti("c/dm", tarfile.DIRTYPE, mode=0o750), ti("c/dm/in", data=b"in"), ti("n/e/w/file", data=b"deep")]
    image(store, "test/copy", "latest", [(low, "gzip"), (up, "zstd")], {})
    e_archive = dict(env, MACHINESPAWN_CACHE_FORMAT="archive")
    p1 = pull(f"docker://{host}/test/copy", "copy1", e=e_archive)
    p2 = pull(f"docker://{host}/test/copy", "copy2", e=e_archive)
    state = tree_state(root("copy1"), FINISHED) if p1.returncode == 0 else {}
    check(p1.returncode == 0 and p2.returncode == 0 and "a copy of the cached image tree" in p2.stderr and
          state == tree_state(root("copy2"), FINISHED) and state.get("c/sl", [None])[0] == "reg" and
          state.get("c/rep", [None, None])[1] == 0o640 and state.get("c/dm", [None, None])[1] == 0o750 and
          state.get("c/h1", [None] * 6)[5] == 2 and state.get("c/cap", [None] * 7)[6],
          "an image that removes nothing: the archive written while unpacking gives the same tree",
          p1.stderr + p2.stderr + str(set(state.items()) ^ set(tree_state(root("copy2"), FINISHED).items())))

    # --- markers applied in the one pass over a layer, wherever they come: an opaque marker as the tar's last
    # entry keeps what this layer wrote before it (also below it, and inside parents it never listed) and
    # hides the rest; a whiteout after this layer's own entry of the same name keeps that entry
    lower = [ti("o", tarfile.DIRTYPE), ti("o/old", data=b"old"), ti("o/sub", tarfile.DIRTYPE),
             ti("o/sub/lower", data=b"lower"), ti("p/deep", tarfile.DIRTYPE), ti("p/deep/lower", data=b"lower"),
             ti("p/other", data=b"other"), ti("e", data=b"lower e"), ti("w", tarfile.DIRTYPE),
             ti("w/old", data=b"old")]
    upper = [ti("o", tarfile.DIRTYPE), ti("o/sub", tarfile.DIRTYPE), ti("o/sub/mine", data=b"mine"),
             ti("p/deep/mine", data=b"mine"), ti("e", data=b"upper e"), ti(".wh.e"), ti("w/new", data=b"new"),
             ti(".wh.w"), ti("p/.wh..wh..opq"), ti("o/.wh..wh..opq")]
    image(store, "test/late", "latest", [(lower, "gzip"), (upper, "gzip")], {})
    p = pull(f"docker://{host}/test/late", "late")
    r = root("late")
    check(p.returncode == 0, "pull-oci of a layer whose markers come last", p.stderr)
    if p.returncode == 0:
        check(os.path.exists(f"{r}/o/sub/mine") and not os.path.lexists(f"{r}/o/old") and
              not os.path.lexists(f"{r}/o/sub/lower"), "opaque marker last in the tar: this layer's entries stay, "
              "the lower ones go, below too", sorted(os.listdir(f"{r}/o")))
        check(os.path.exists(f"{r}/p/deep/mine") and not os.path.lexists(f"{r}/p/deep/lower") and
              not os.path.lexists(f"{r}/p/other"), "opaque marker: a parent the layer never listed stays",
              sorted(os.listdir(f"{r}/p")))
        check(os.path.exists(f"{r}/e") and open(f"{r}/e").read() == "upper e",
              "a whiteout after the same layer's entry keeps that entry")
        check(os.path.exists(f"{r}/w/new") and not os.path.lexists(f"{r}/w/old"),
              "a whiteout of a directory this layer wrote into hides only the lower contents")

    # --- several gzip members in one layer are one stream; a broken gzip trailer (CRC) is refused
    raw = tar_bytes([ti("m", tarfile.DIRTYPE), ti("m/one", data=b"1" * 3000), ti("m/two", data=b"2" * 3000)])
    half = len(raw) // 2
    multi = gzip.compress(raw[:half], mtime=0) + gzip.compress(raw[half:], mtime=0)
    crc = bytearray(gzip.compress(raw, mtime=0))
    crc[-8] ^= 0xFF
    # (with ISA-L when it is installed, and with zlib: ISA-L hidden from the pull in a mount namespace)
    isal = subprocess.run(["sh", "-c", "ldconfig -p | sed -n 's/.*libisal.so.2 .*=> //p' | head -n1"],
                          capture_output=True, text=True).stdout.strip()
    hide = ["unshare", "-m", "sh", "-ec", 'mount --bind /dev/null "$0"; exec "$@"', isal] if isal else []
    for name, blob, ok in [("multi", multi, True), ("crc", bytes(crc), False)]:
        for how, prefix in [("", []), (" (zlib)", hide)] if hide else [("", [])]:
            # an image of its own for each: never a copy of a tree the other one left in the cache
            machine = f"gz{name}{'z' if prefix else ''}"
            cfg = json.dumps({"config": {}, "comment": machine}).encode()
            m = image_manifest(store.put(f"gz/{machine}", cfg, OCI_CONFIG),
                               [store.put(f"gz/{machine}", blob, layer_type("oci", "gzip"))])
            store.manifest(f"gz/{machine}", "latest", OCI_MANIFEST, json.dumps(m).encode())
            p = sb.run("pull-oci", f"docker://{host}/gz/{machine}", machine, prefix=prefix)
            if ok:
                check(p.returncode == 0 and open(f"{root(machine)}/m/two").read() == "2" * 3000,
                      f"a gzip layer of two members is read whole{how}", p.stderr)
            else:
                check(p.returncode != 0 and gone(machine), f"a gzip layer whose CRC does not match is refused{how}",
                      p.stderr)

    # --- a layer the cache has already (shared with another image) is read from there, not fetched again
    image(store, "test/shared", "latest", [(BASE, None), ([ti("shared-only", data=b"s")], "gzip")], CONFIG)
    n_requests = len(Registry.log)
    p = pull(f"docker://{host}/test/shared", "shared")
    base_digest = oci_digest(layer(BASE))
    base_gets = [x for x in Registry.log[n_requests:] if x[0].endswith(f"/blobs/{base_digest}")]
    check(p.returncode == 0 and open(f"{root('shared')}/etc/os-release").read() == "ID=ocitest\n" and
          os.path.exists(f"{root('shared')}/shared-only") and not base_gets,
          "a layer in the blob cache is applied from there", p.stderr + str(base_gets))

    # --- by digest, and a digest that the manifest does not match
    p = pull(f"{host}/test/img@{digest}", "bydigest")
    check(p.returncode == 0, "pull by digest", p.stderr)
    fake = "sha256:" + "0" * 64
    store.repo("test/img")["manifests"][fake] = store.repo("test/img")["manifests"][digest]
    p = pull(f"{host}/test/img@{fake}", "baddigest")
    check(p.returncode != 0 and "does not match its digest" in p.stderr and gone("baddigest"),
          "manifest not matching the digest it was pulled by is refused", p.stderr)

    # --- a Docker schema-2 manifest list with attestation entries: platform selection
    amd, amd_data = image(store, "multi/img", "amd", [(BASE, "gzip")], {"Cmd": ["/bin/amd"]}, kind="docker")
    arm, arm_data = image(store, "multi/img", "arm", [(BASE, "gzip")], {"Cmd": ["/bin/arm"]}, kind="docker",
                          arch="arm64")
    att = {"mediaType": OCI_MANIFEST, "digest": amd, "size": len(amd_data),
           "platform": {"os": "unknown", "architecture": "unknown"},
           "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}
    lst = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        att,
        {"mediaType": DOCKER_MANIFEST, "digest": arm, "size": len(arm_data),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": DOCKER_MANIFEST, "digest": amd, "size": len(amd_data),
         "platform": {"os": "linux", "architecture": "amd64"}}]}
    store.manifest("multi/img", "latest", DOCKER_LIST, json.dumps(lst).encode())
    p = pull(f"docker://{host}/multi/img", "arm", "--arch=arm64")
    check(p.returncode == 0 and "arg=/bin/arm" in open(f"{tmp}/state/arm.oci").read(),
          "manifest list: --arch=arm64 picks the arm64/v8 entry", p.stderr)
    p = pull(f"docker://{host}/multi/img", "amd", "--arch=amd64")
    check(p.returncode == 0 and "arg=/bin/amd" in open(f"{tmp}/state/amd.oci").read() and
          "boot=no" in open(f"{tmp}/state/amd.oci").read(), "manifest list: amd64, no init: boot=no", p.stderr)
    p = pull(f"docker://{host}/multi/img", "s390", "--arch=s390x")
    check(p.returncode != 0 and "linux/amd64" in p.stderr and "linux/arm64/v8" in p.stderr and
          "unknown" not in p.stderr and gone("s390"), "no matching platform: error names the available ones",
          p.stderr)

    # --- bearer token (with the credentials of the auth file sent to the realm), blobs through a CDN
    image(store, "private/cdn", "latest", [(BASE, "gzip")], {"Cmd": ["/x"]})
    Cdn.log.clear()
    Registry.token_requests.clear()
    p = pull(f"docker://{host}/private/cdn", "tok")
    check(p.returncode == 0, "bearer token repository, blobs redirected to another host", p.stderr)
    check(Registry.token_requests and "scope=repository%3Aprivate%2Fcdn%3Apull" in Registry.token_requests[0][0]
          and "service=test%2Cregistry" in Registry.token_requests[0][0], "token request carries scope and service",
          Registry.token_requests)
    check(Registry.token_requests and Registry.token_requests[0][1] ==
          "Basic " + basic("bob", "tokenpw"), "auth file credentials sent to the token realm",
          Registry.token_requests)
    check(Cdn.log and all(a is None for _, a in Cdn.log), "the redirected blob host never sees the token", Cdn.log)
    check(any(a == f"Bearer {TOKEN}" for path, a in Registry.log if "/private/cdn/blobs/" in path),
          "the registry itself gets the token")

    # --- Basic credentials from the auth file; none -> clear error
    image(store, "basic/img", "latest", [(BASE, None)], {})
    p = pull(f"docker://{host}/basic/img", "basic")
    check(p.returncode == 0, "Basic credentials from $REGISTRY_AUTH_FILE", p.stderr)
    e = dict(env, REGISTRY_AUTH_FILE=os.path.join(tmp, "missing.json"))
    p = pull(f"docker://{host}/basic/img", "nobasic", e=e)
    check(p.returncode != 0 and "credentials" in p.stderr and gone("nobasic"), "Basic without credentials refused",
          p.stderr)
    os.makedirs(os.path.join(tmp, ".docker"))
    write_auth(os.path.join(tmp, ".docker", "config.json"), {host: (USER, PASSWORD)})
    p = pull(f"docker://{host}/basic/img", "dockercfg", e=e)
    check(p.returncode == 0, "credentials from ~/.docker/config.json", p.stderr)

    # --- plain HTTP only for registries named insecure
    e = dict(env, MACHINESPAWN_SYSCONFDIR=sb.path("etc-secure"))
    sb.write_conf(etc=e["MACHINESPAWN_SYSCONFDIR"])
    p = pull(f"docker://{host}/test/img:v1", "tls", e=e)
    check(p.returncode != 0 and gone("tls") and not any(x[0].startswith("/v2/") and False for x in Registry.log),
          "a registry not named insecure is spoken to over TLS only", p.stderr)

    # --- hostile blobs: digest mismatch, size mismatch; nothing cached, nothing built
    good = layer(BASE + [ti("evil-only", data=b"not in any other image")], "gzip")
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    repo = store.repo("evil/digest")
    d_good = oci_digest(good)
    repo["blobs"][d_good] = bytes(bad)
    cfg = json.dumps({"config": {}}).encode()
    m = image_manifest(store.put("evil/digest", cfg, OCI_CONFIG),
                       [descriptor(good, layer_type("oci", "gzip"))])
    store.manifest("evil/digest", "latest", OCI_MANIFEST, json.dumps(m).encode())
    p = pull(f"docker://{host}/evil/digest", "evil1")
    check(p.returncode != 0 and "does not match its digest" in p.stderr and gone("evil1") and
          d_good.removeprefix("sha256:") not in blobs() and
          not any(x.startswith(".") for x in os.listdir(os.path.join(cache, "oci/blobs/sha256"))),
          "a layer whose digest does not match: refused, nothing kept", p.stderr)
    # a blob that is a whole, valid layer of the right size, but not the one the digest names: it is unpacked
    # as it arrives, then refused at its end; nothing of it stays, in the machines or the cache (tree or
    # archive), in either cache format
    good_tar = layer(BASE + [ti("stream-evil", data=b"AAAA")])
    evil_tar = layer(BASE + [ti("stream-evil", data=b"BBBB")])
    assert len(good_tar) == len(evil_tar)
    d_tar = store.blob("evil/stream", evil_tar, oci_digest(good_tar))
    m_tar = image_manifest(store.put("evil/stream", cfg, OCI_CONFIG),
                           [descriptor(good_tar, layer_type("oci", None))])
    key = store.manifest("evil/stream", "latest", OCI_MANIFEST, json.dumps(m_tar).encode()).removeprefix("sha256:")
    trees = os.path.join(cache, "oci/trees")
    for fmt in ("archive", "tree"):
        p = pull(f"docker://{host}/evil/stream", f"evilstream{fmt}", e=dict(env, MACHINESPAWN_CACHE_FORMAT=fmt))
        left = [x for x in os.listdir(trees) if key in x and not x.endswith(".lock")]
        check(p.returncode != 0 and "does not match its digest" in p.stderr and "Broken" not in p.stderr and
              gone(f"evilstream{fmt}") and d_tar.removeprefix("sha256:") not in blobs() and not left and
              not any(x.startswith(".") for x in os.listdir(os.path.join(cache, "oci/blobs/sha256"))),
              f"a valid layer that is not the one its digest names: unpacked, refused, no trace ({fmt} cache)",
              p.stderr + str(left))

    m["layers"][0]["size"] = len(good) - 10
    repo["blobs"][d_good] = good
    store.manifest("evil/digest", "short", OCI_MANIFEST, json.dumps(m).encode())
    p = pull(f"docker://{host}/evil/digest:short", "evil2")
    check(p.returncode != 0 and "larger than its manifest says" in p.stderr and gone("evil2") and
          d_good.removeprefix("sha256:") not in blobs(), "a layer longer than its size: refused", p.stderr)

    m["layers"][0]["size"] = len(good) + 10
    store.manifest("evil/digest", "long", OCI_MANIFEST, json.dumps(m).encode())
    p = pull(f"docker://{host}/evil/digest:long", "evil2b")
    check(p.returncode != 0 and "its manifest says" in p.stderr and gone("evil2b") and
          d_good.removeprefix("sha256:") not in blobs(), "a layer shorter than its size: refused", p.stderr)

    # --- an oversized manifest
    big = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "pad": "x" * (5 << 20)}).encode()
    store.manifest("evil/big", "latest", OCI_MANIFEST, big)
    p = pull(f"docker://{host}/evil/big", "evil3")
    check(p.returncode != 0 and "larger than 4 MiB" in p.stderr and gone("evil3"), "oversized manifest refused",
          p.stderr)

    # --- whiteouts out of the tree, through a link
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("host file\n")
    rel = os.path.relpath(victim, "/")
    for name, upper, what in [
            ("evil4", [ti("../.wh.victim")], "whiteout with .. refused"),
            ("evil5", [ti("a/../../" + "../" * 8 + os.path.dirname(rel) + "/.wh.victim")], "whiteout a/../.. refused"),
            ("evil6", [ti("out/.wh.victim")], "whiteout through a symlink refused"),
            ("evil7", [ti("/" + os.path.dirname(rel) + "/.wh.victim")], "absolute whiteout refused")]:
        image(store, f"evil/{name}", "latest",
              [([ti("out", tarfile.SYMTYPE, linkname=os.path.dirname(victim))], None), (upper, None)], {})
        p = pull(f"docker://{host}/evil/{name}", name)
        check(p.returncode != 0 and "Refusing" in p.stderr and gone(name) and os.path.exists(victim), what, p.stderr)

    # --- TLS from a test CA, with Basic credentials; another CA fails; no redirect from TLS to plain HTTP
    if shutil.which("openssl"):
        pki = Pki(sb.path("pki"))
        pki.issue("srv", "127.0.0.1", "IP:127.0.0.1")
        tls = serve(Registry, context=pki.context("srv"))
        thost = f"127.0.0.1:{tls.server_port}"
        tls_auth = write_auth(sb.path("tls-auth.json"), {thost: (USER, PASSWORD)})
        e = dict(env, REGISTRY_AUTH_FILE=tls_auth, MACHINESPAWN_CA_BUNDLE=pki.file("ca.crt"))
        p = pull(f"docker://{thost}/basic/img", "tlsbasic", e=e)
        check(p.returncode == 0, "TLS with the test CA and Basic credentials", p.stderr)
        e["MACHINESPAWN_CA_BUNDLE"] = pki.file("other.crt")
        p = pull(f"docker://{thost}/basic/img", "tlsother", e=e)
        check(p.returncode != 0 and gone("tlsother"), "TLS with a certificate of another CA is refused", p.stderr)
        e["MACHINESPAWN_CA_BUNDLE"] = pki.file("ca.crt")
        image(store, "cdn/img", "latest", [([ti("cdn-only", data=b"x")], "gzip")], {})
        p = pull(f"docker://{thost}/cdn/img", "tlsdown", e=e)
        check(p.returncode != 0 and "leaves TLS" in p.stderr and gone("tlsdown"),
              "a blob redirect from https to http is refused", p.stderr)
        tls.shutdown()
    else:
        check(False, "TLS cases run", "no openssl to make the test CA")

    # --- Image=docker:// in a .mspawn: machinespawn-prepare turns the config into .nspawn settings
    if PREPARE:
        conf = os.path.join(tmp, "etc")
        with open(os.path.join(conf, "amd.mspawn"), "w") as f:
            f.write(f"[Machine]\nImage=docker://{host}/multi/img\nArchitecture=amd64\n")
        with open(os.path.join(conf, "one.mspawn"), "w") as f:
            f.write(f"[Machine]\nImage=docker://{host}/test/img:v1\n")
        with open(os.path.join(conf, "bootno.mspawn"), "w") as f:
            f.write(f"[Machine]\nImage=docker://{host}/test/img:v1\n\n[Exec]\nBoot=no\n")
        shutil.copy(f"{tmp}/state/one.oci", f"{tmp}/state/bootno.oci")
        e = dict(env, MACHINESPAWN_CONFIG_PATH=conf, MACHINESPAWN_NSPAWN_DIR=os.path.join(tmp, "nspawn"))

        def prepare(name):
            p = subprocess.run([PREPARE, name], env=e, capture_output=True, text=True, timeout=60)
            path = os.path.join(tmp, "nspawn", f"{name}.nspawn")
            return p, open(path).read() if os.path.exists(path) else ""

        p, text = prepare("amd")
        check(p.returncode == 0 and "Boot=no\n" in text and "Parameters='/bin/amd'\n" in text,
              "an image without init runs its entrypoint (Boot=no, Parameters=)", p.stderr + text)
        p, text = prepare("one")
        check(p.returncode == 0 and "Boot=yes\n" in text and "Parameters" not in text and
              "Environment='GREETING=hello world'\n" in text, "an image with systemd as init boots", p.stderr + text)
        # [User] on a registry machine: the host user is provisioned into the image's tree
        with open(os.path.join(conf, "one.mspawn"), "a") as f:
            f.write("\n[User]\nName=nobody\nHome=none\n")
        p, text = prepare("one")
        passwd = open(f"{root('one')}/etc/passwd").read()
        check(p.returncode == 0 and "\nnobody:" in passwd and "Boot=yes\n" in text, "[User] works on a registry machine",
              p.stderr + passwd)
        p, text = prepare("bootno")
        check(p.returncode == 0 and text.count("Boot=") == 1 and "Boot=no" in text and
              "Parameters='/usr/bin/tool'\nParameters='--serve'\nParameters=\"it's\"\n" in text and
              "WorkingDirectory=/srv\n" in text and "User=daemon\n" in text,
              "Boot=no in the .mspawn overrides the image's init", p.stderr + text)

    reg.shutdown()
    cdn.shutdown()
    sb.remove()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
