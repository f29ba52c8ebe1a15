# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the pull-tar, pull-oci and registry tests share: the ok/FAIL tally, tar members and layers,
digests, descriptors and the OCI and Docker image JSON, quiet HTTP servers on loopback and free ports,
a test CA made with openssl, container auth files, a state of a tree to compare before and after, and a
sandbox (a temporary directory with machinespawn.conf and the MACHINESPAWN_* environment pointing into it)
to run machinespawn in. Standard library only; the tests import it from this directory."""

import base64
import bz2
import gzip
import hashlib
import http.server
import io
import json
import lzma
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tarfile
import tempfile
import threading
import time

# --- the tally

passed = failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what}", flush=True)
        if detail:
            print("     | " + str(detail).strip().replace("\n", "\n     | "), flush=True)


def cannot_run(root_for, tools):
    """Whether this test must skip, saying why: it needs root (for root_for) and the commands of tools, a list
    of (command, Debian package)."""
    if os.geteuid() != 0:
        print(f"SKIP: needs root ({root_for})")
        return True
    for tool, package in tools:
        if not shutil.which(tool):
            print(f"SKIP: needs {tool} (apt-get install {package})")
            return True
    return False


def finish():
    """The summary line; the exit status."""
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


# --- digests, tar members, layers

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def oci_digest(data):
    """The OCI digest of some bytes."""
    return "sha256:" + sha256_hex(data)


def file_sha256(path):
    with open(path, "rb") as f:
        return sha256_hex(f.read())


def ti(name, type=tarfile.REGTYPE, data=b"", **kw):
    """A tar member: (TarInfo, bytes or None). kw: mode, uid, gid, linkname, pax (headers)."""
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


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(data, how):
    """how: None or "none", "gzip", "zstd", "xz", "bzip2"."""
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True, check=True).stdout
    if how == "xz":
        return lzma.compress(data)
    if how == "bzip2":
        return bz2.compress(data)
    if how in (None, "none"):
        return data
    raise ValueError(how)


def layer(members, how=None):
    return compress(tar_bytes(members), how)


def write_tar(path, members, how=None):
    with open(path, "wb") as f:
        f.write(layer(members, how))


# --- images: media types, descriptors, manifests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)


def layer_type(kind, how):
    """The media type of a layer of an "oci" or "docker" manifest, compressed with how (None, "none",
    "gzip", "zstd")."""
    how = None if how == "none" else how
    if kind == "oci":
        return "application/vnd.oci.image.layer.v1.tar" + ("+" + how if how else "")
    return "application/vnd.docker.image.rootfs.diff.tar" + ("." + how if how else "")


def descriptor(data, media_type, **extra):
    return dict(mediaType=media_type, digest=oci_digest(data), size=len(data), **extra)


def image_manifest(config, layers, kind="oci"):
    """A schema-2 manifest of the config's and the layers' descriptors."""
    return {"schemaVersion": 2, "mediaType": OCI_MANIFEST if kind == "oci" else DOCKER_MANIFEST,
            "config": config, "layers": layers}


def build_image(put, layers, config=None, kind="oci", arch="amd64", variant=None):
    """layers: list of (members, compression). put(blob, media type) stores a blob (bytes, or a dict for
    JSON) and returns its descriptor. Stores the layers, the image config and the manifest; returns the
    manifest's descriptor."""
    descs, diff_ids = [], []
    for members, how in layers:
        raw = tar_bytes(members)
        diff_ids.append(oci_digest(raw))
        descs.append(put(compress(raw, how), layer_type(kind, how)))
    cfg = {"architecture": arch, "os": "linux", "config": config or {},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if variant:
        cfg["variant"] = variant
    cfg_desc = put(cfg, OCI_CONFIG if kind == "oci" else DOCKER_CONFIG)
    manifest = image_manifest(cfg_desc, descs, kind)
    return put(manifest, manifest["mediaType"])


# --- servers on loopback

class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers in one call."""

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(handler, host="127.0.0.1", context=None):
    """A threading HTTP server on a free port of host (TLS with context), serving in the background."""
    server = http.server.ThreadingHTTPServer((host, 0), handler)
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=20):
    """Whether something listens on 127.0.0.1:port within seconds, while proc (if any) runs."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Pki:
    """Test CAs made with openssl in a directory: NAME.crt and NAME.key for each, and certificates that the
    CA "ca" signs."""

    def __init__(self, path, cas=("ca", "other")):
        self.path = path
        os.makedirs(path, exist_ok=True)
        for ca in cas:
            self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                         "-subj", f"/CN=test {ca}", "-keyout", f"{ca}.key", "-out", f"{ca}.crt")

    def openssl(self, *a):
        subprocess.run(["openssl", *a], cwd=self.path, check=True, capture_output=True)

    def file(self, name):
        return os.path.join(self.path, name)

    def issue(self, name, cn, alt_name):
        """A certificate of "ca" for CN=cn with subjectAltName=alt_name: (certificate, key)."""
        self.openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key",
                     "-out", f"{name}.csr")
        with open(self.file(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={alt_name}\n")
        self.openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
        return self.file(f"{name}.crt"), self.file(f"{name}.key")

    def context(self, name):
        """A TLS server context with the certificate issued as name."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.file(f"{name}.crt"), self.file(f"{name}.key"))
        return ctx


def basic(user, password):
    """The base64 of user:password, as Basic authentication and auth files carry it."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write_auth(path, entries):
    """A containers-auth.json: entries {registry or registry/path: (user, password)}."""
    with open(path, "w") as f:
        json.dump({"auths": {k: {"auth": basic(*v)} for k, v in entries.items()}}, f)
    return path


# --- trees

def tree_state(top, skip=()):
    """relative path -> (type, mode, uid, gid, digest or link target, links, xattrs) of everything below top,
    but the relative paths in skip; a name that cannot be reached (too long, say) maps to the error."""
    out = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, top)
            if rel in skip:
                continue
            try:
                st = os.lstat(path)
                kind = "dir" if stat.S_ISDIR(st.st_mode) else "lnk" if stat.S_ISLNK(st.st_mode) else \
                    "reg" if stat.S_ISREG(st.st_mode) else "other"
                body = os.readlink(path) if kind == "lnk" else file_sha256(path) if kind == "reg" else None
                xattrs = tuple(sorted((k, os.getxattr(path, k, follow_symlinks=False))
                                      for k in os.listxattr(path, follow_symlinks=False)))
                out[rel] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid, body, st.st_nlink, xattrs)
            except OSError as e:
                out[rel] = str(e)
    return out


def snapshot(*tops):
    """tree_state() of each top, by absolute path: compared before and after to see what changed."""
    return {os.path.join(top, rel): v for top in tops for rel, v in tree_state(top).items()}


def changes(before, after):
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


# --- where machinespawn runs

class Sandbox:
    """A temporary directory for one test program, with machines/, cache/, state/, run/ and
    etc/machinespawn.conf, and the environment that points machinespawn there (no CA bundle or auth file
    of the caller's, HOME inside)."""

    def __init__(self, prefix, cli, vendor_conf, dir=None):
        self.cli = cli
        self.tmp = tempfile.mkdtemp(prefix=prefix, dir=dir)
        self.machines = os.path.join(self.tmp, "machines")
        self.cache = os.path.join(self.tmp, "cache")
        self.state = os.path.join(self.tmp, "state")
        self.etc = os.path.join(self.tmp, "etc")
        os.makedirs(self.etc)
        self.env = dict(os.environ, MACHINESPAWN_MACHINES_DIR=self.machines,
                        MACHINESPAWN_RUN_DIR=os.path.join(self.tmp, "run"), MACHINESPAWN_STATE_DIR=self.state,
                        MACHINESPAWN_SYSCONFDIR=self.etc, MACHINESPAWN_VENDOR_CONF=vendor_conf, HOME=self.tmp)
        self.env.pop("MACHINESPAWN_CA_BUNDLE", None)
        self.env.pop("REGISTRY_AUTH_FILE", None)
        self.write_conf()

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write_conf(self, insecure=None, etc=None):
        """machinespawn.conf in etc (the sandbox's by default): the cache here and, unless insecure is None,
        [Registries] Insecure= with those hosts (none for an empty list)."""
        etc = etc or self.etc
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "machinespawn.conf"), "w") as f:
            f.write(f"[Cache]\nDirectory={self.cache}\n")
            if insecure is not None:
                f.write(f"\n[Registries]\nInsecure={' '.join(insecure)}\n")

    def tree(self, name, *parts):
        return os.path.join(self.machines, name, *parts)

    def no_leftovers(self, name):
        """No machine name, and no temporary of its (".#name..."), in machines/."""
        entries = os.listdir(self.machines) if os.path.isdir(self.machines) else []
        return name not in entries and not any(e.startswith(f".#{name}") for e in entries)

    def run(self, *args, env=None, prefix=(), timeout=120, **overrides):
        """machinespawn ARGS in the sandbox's environment (or env), with overrides set in it; behind the
        command words in prefix, if any."""
        e = dict(env or self.env, **overrides)
        return subprocess.run([*prefix, self.cli, *args], env=e, capture_output=True, text=True,
                              timeout=timeout)

    def remove(self):
        subprocess.run(["rm", "-rf", self.tmp])
