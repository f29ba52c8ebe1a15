#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""machinespawn pull-oci against Debian's docker-registry (the reference distribution server) on loopback,
in three configurations: plain HTTP (named insecure in machinespawn.conf), TLS from a test CA with htpasswd
credentials, and bearer tokens from a token server in this test (RS256 JWTs signed with openssl). Images are
OCI layouts this test writes (tar layers in gzip, zstd and none), pushed with skopeo; hostile ones too, and a
fake registry serving an oversized manifest. Needs root, docker-registry, skopeo, openssl, htpasswd and zstd;
skips (77) otherwise."""

import base64
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import urllib.parse

# the stand-ins this test shares with the pull suite's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pull"))
sys.dont_write_bytecode = True
from pull_fixtures import (OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Pki, QuietHandler, Sandbox, build_image,
                           cannot_run, changes, check, descriptor, file_sha256, finish, free_port, serve,
                           snapshot, ti, wait_port, write_auth)

CLI = sys.argv[1]
VENDOR_CONF = sys.argv[2]
PREPARE = sys.argv[3]
# security.capability, revision 2, effective: cap_net_raw (13) permitted
CAPABILITY = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


class Layout:
    """An OCI image layout on disk, written blob by blob."""

    def __init__(self, path):
        self.path = path
        self.refs = []
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        with open(os.path.join(path, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data, media_type, **extra):
        if isinstance(data, (dict, list)):
            data = json.dumps(data, sort_keys=True).encode()
        desc = descriptor(data, media_type, **extra)
        with open(os.path.join(self.path, "blobs", desc["digest"].replace(":", "/")), "wb") as f:
            f.write(data)
        return desc

    def image(self, layers, config=None, arch="amd64", variant=None):
        """layers: list of (members, compression). Returns the manifest's descriptor."""
        return build_image(self.blob, layers, config, arch=arch, variant=variant)

    def tag(self, desc, tag):
        self.refs.append(dict(desc, annotations={"org.opencontainers.image.ref.name": tag}))
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs}, f)


# --- servers

class Registry:
    """docker-registry serve, on 127.0.0.1 and a free port, storage in a directory of its own."""

    def __init__(self, tmp, name, tls=None, auth=None):
        self.dir = os.path.join(tmp, f"registry-{name}")
        self.storage = os.path.join(self.dir, "storage")
        os.makedirs(self.storage)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        http_cfg = {"addr": self.host, "secret": "mspawn-test-secret"}
        if tls:
            http_cfg["tls"] = {"certificate": tls[0], "key": tls[1]}
        cfg = {"version": 0.1, "log": {"level": "info", "accesslog": {"disabled": False}},
               "storage": {"filesystem": {"rootdirectory": self.storage},
                           "maintenance": {"uploadpurging": {"enabled": False}}},
               "http": http_cfg}
        if auth:
            cfg["auth"] = auth
        # YAML is a superset of JSON
        conf = os.path.join(self.dir, "config.yml")
        with open(conf, "w") as f:
            json.dump(cfg, f)
        self.log = os.path.join(self.dir, "log")
        # the access log goes to stdout, the rest to stderr
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=log, stderr=log)
        if not wait_port(self.port, self.proc):
            raise RuntimeError(f"docker-registry did not start: {open(self.log).read()[-2000:]}")

    def requests(self):
        """The access log's (method, path, status) triples."""
        out = []
        for line in open(self.log, errors="replace"):
            m = re.search(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[0-9.]+" (\d+)', line)
            if m:
                out.append((m.group(1), m.group(2), int(m.group(3))))
        return out

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class TokenHandler(QuietHandler):
    """GET /token: Basic credentials (optional), ?service=&scope=...; grants pull on public/* to anyone,
    pull on everything to reader, pull and push on everything to pusher; wrong credentials get 401."""
    users = {"pusher": "push-secret", "reader": "read-secret"}
    key = cert_b64 = None
    log = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        user = None
        authz = self.headers.get("Authorization", "")
        if authz.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(authz[6:]).decode().partition(":")
            except ValueError:
                u, p = None, None
            if TokenHandler.users.get(u) != p:
                TokenHandler.log.append((url.path, u, "refused"))
                self.send_error(401)
                return
            user = u
        if url.path != "/token":
            self.send_error(404)
            return
        access = []
        for scope in q.get("scope", []):
            for s in scope.split(" "):
                parts = s.split(":")
                if len(parts) != 3 or parts[0] != "repository":
                    continue
                wanted = parts[2].split(",")
                if user == "pusher":
                    allowed = wanted
                elif user == "reader" or parts[1].startswith("public/"):
                    allowed = [a for a in wanted if a == "pull"]
                else:
                    allowed = []
                access.append({"type": "repository", "name": parts[1], "actions": allowed})
        TokenHandler.log.append((url.path, user, json.dumps(access)))
        now = int(time.time())
        claims = {"iss": "mspawn-token-issuer", "sub": user or "", "aud": q.get("service", [""])[0],
                  "exp": now + 600, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        token = jwt_sign(claims, TokenHandler.key, TokenHandler.cert_b64)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 600}).encode()
        self.reply(200, body, [("Content-Type", "application/json")])


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_sign(claims, key, cert_b64):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_b64]}
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64u(sig)


class FakeRegistry(QuietHandler):
    """A hostile registry: /v2/ answers, every manifest is 64 MiB of JSON-looking bytes (no Content-Length
    for the "endless" repository)."""
    sent = {}

    def do_GET(self):
        if self.path == "/v2/":
            self.reply(200, b"{}")
            return
        if "/manifests/" not in self.path:
            self.send_error(404)
            return
        size = 64 << 20
        self.send_response(200)
        self.send_header("Content-Type", OCI_MANIFEST)
        if "endless" not in self.path:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b'{"schemaVersion":2,"layers":[' + b" " * (1 << 20)
        FakeRegistry.sent[self.path] = 0
        try:
            for _ in range(size >> 20):
                self.wfile.write(chunk)
                FakeRegistry.sent[self.path] += len(chunk)
        except OSError:
            pass

    do_HEAD = do_GET


# --- the test

def base_layers(tag=b""):
    """Three layers: gzip, zstd, none. The second removes a file and a directory with whiteouts, and makes
    opq/ opaque with the marker after its sibling entries; the third recreates the removed directory."""
    one = [
        ti("etc", tarfile.DIRTYPE),
        ti("etc/os-release", data=b"ID=ocitest\n"),
        ti("etc/remove-me", data=b"gone in layer 2\n"),
        ti("etc/shadow", data=b"root:*:1::::::\n", mode=0o640, gid=42),
        ti("usr", tarfile.DIRTYPE),
        ti("usr/bin", tarfile.DIRTYPE),
        ti("usr/bin/tool", data=b"#!/bin/sh\necho tool\n" + tag, mode=0o4755),
        ti("usr/bin/alias", tarfile.LNKTYPE, linkname="usr/bin/tool"),
        ti("usr/bin/link", tarfile.SYMTYPE, linkname="tool"),
        ti("usr/bin/ping", data=b"\x7fELF", mode=0o755,
           pax={"SCHILY.xattr.security.capability": CAPABILITY.decode("utf-8", "surrogateescape")}),
        ti("home", tarfile.DIRTYPE),
        ti("home/user", tarfile.DIRTYPE, uid=1000, gid=1000, mode=0o700),
        ti("home/user/file", data=b"mine", uid=1000, gid=1000, pax={"SCHILY.xattr.user.mspawn": "kept"}),
        ti("var", tarfile.DIRTYPE),
        ti("var/lib", tarfile.DIRTYPE),
        ti("var/lib/gone", tarfile.DIRTYPE),
        ti("var/lib/gone/a", data=b"a"),
        ti("var/lib/gone/b", data=b"b"),
        ti("opq", tarfile.DIRTYPE),
        ti("opq/old1", data=b"old"),
        ti("opq/olddir", tarfile.DIRTYPE),
        ti("opq/olddir/old2", data=b"old"),
        ti("srv", tarfile.DIRTYPE),
    ]
    two = [
        ti("etc", tarfile.DIRTYPE),
        ti("etc/.wh.remove-me"),
        ti("etc/added", data=b"layer 2\n"),
        ti("var/lib/.wh.gone"),
        ti("opq", tarfile.DIRTYPE),
        ti("opq/new", data=b"new"),
        ti("opq/.wh..wh..opq"),
    ]
    three = [
        ti("etc/os-release", data=b"ID=ocitest\nVERSION_ID=3\n"),
        ti("var/lib/gone", tarfile.DIRTYPE),
        ti("var/lib/gone/again", data=b"again"),
    ]
    return [one, two, three]


CONFIG = {"Env": ["PATH=/usr/bin:/bin", "OCITEST=from-the-image"], "WorkingDir": "/srv", "User": "1000:1000",
          "Entrypoint": ["/usr/bin/tool"], "Cmd": ["--flag"]}


def main():
    if cannot_run("owners, file capabilities", [("docker-registry", "docker-registry"), ("skopeo", "skopeo"),
                                                 ("openssl", "openssl"), ("htpasswd", "apache2-utils"),
                                                 ("zstd", "zstd")]):
        return 77

    sb = Sandbox("mspawn-registry-", CLI, VENDOR_CONF)
    registries = []
    try:
        return run(sb, registries)
    finally:
        for reg in registries:
            reg.stop()
        sb.remove()


def run(sb, registries):
    tmp, machines, cache = sb.tmp, sb.machines, sb.cache
    no_leftovers, tree = sb.no_leftovers, sb.tree
    outside = sb.path("outside")
    victims = {os.path.join(outside, "victim"): b"host file\n",
               os.path.join(outside, "dir", "victim2"): b"host file 2\n"}
    for path, content in victims.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)

    # --- a test CA, a server certificate for 127.0.0.1, a token signing certificate
    pki = Pki(sb.path("pki"), ("ca", "other", "token"))
    tls_pair = pki.issue("srv", "127.0.0.1", "IP:127.0.0.1")
    pki.openssl("x509", "-in", "token.crt", "-outform", "DER", "-out", "token.der")
    # skopeo reads CA certificates from a directory
    os.makedirs(pki.file("certs.d"))
    shutil.copy(pki.file("ca.crt"), pki.file("certs.d/ca.crt"))
    ca_crt, other_crt = pki.file("ca.crt"), pki.file("other.crt")

    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        for user, pw in (("pusher", "push-secret"), ("reader", "read-secret")):
            f.write(subprocess.run(["htpasswd", "-Bbn", user, pw], capture_output=True, text=True,
                                   check=True).stdout.strip() + "\n")

    TokenHandler.key = pki.file("token.key")
    TokenHandler.cert_b64 = base64.b64encode(open(pki.file("token.der"), "rb").read()).decode()
    token_server = serve(TokenHandler, context=pki.context("srv"))

    plain = Registry(tmp, "plain")
    registries.append(plain)
    tls = Registry(tmp, "tls", tls=tls_pair, auth={"htpasswd": {"realm": "mspawn-test", "path": htpasswd}})
    registries.append(tls)
    tokreg = Registry(tmp, "token", tls=tls_pair, auth={"token": {
        "realm": f"https://127.0.0.1:{token_server.server_port}/token", "service": "mspawn-registry",
        "issuer": "mspawn-token-issuer", "rootcertbundle": pki.file("token.crt")}})
    registries.append(tokreg)

    def write_conf(*insecure):
        sb.write_conf(list(insecure))
    write_conf(plain.host)
    policy = os.path.join(tmp, "policy.json")
    with open(policy, "w") as f:
        json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    skopeo_auth = write_auth(os.path.join(tmp, "skopeo-auth.json"), {})

    def push(layout, tag, reg, name, *extra, all_images=False):
        """skopeo copy oci:LAYOUT:TAG docker://REG/NAME:TAG, as pusher where the registry wants credentials."""
        args = ["skopeo", "--policy", policy, "copy", "--quiet", "--retry-times", "0"]
        if all_images:
            args.append("--all")
        if reg is plain:
            args.append("--dest-tls-verify=false")
        else:
            args += ["--dest-cert-dir", pki.file("certs.d"), "--dest-creds", "pusher:push-secret"]
        if "--format" not in extra:
            args.append("--preserve-digests")
        args += [*extra, f"oci:{layout.path}:{tag}", f"docker://{reg.host}/{name}:{tag}"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, REGISTRY_AUTH_FILE=skopeo_auth))
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {r.stderr}")

    env = sb.env
    auth_files = os.path.join(tmp, "auth")
    os.makedirs(auth_files)

    def auth_file(host, user, pw):
        path = os.path.join(auth_files, f"{host.replace(':', '_')}-{user}-{pw}.json")
        return write_auth(path, {host: (user, pw)})

    # an empty one, so that nothing of this machine's root is read
    no_auth = write_auth(os.path.join(auth_files, "none.json"), {})

    def pull(ref, name, *extra, ca=None, auth=None):
        return sb.run("pull-oci", *extra, ref, name, timeout=300, REGISTRY_AUTH_FILE=auth or no_auth,
                      **({"MACHINESPAWN_CA_BUNDLE": ca} if ca else {}))

    def cache_sound():
        """Every cached blob (a file named by its digest) holds what its name says; no temporary is left."""
        bad = []
        for dp, dn, fn in os.walk(cache):
            for n in dn + fn:
                p = os.path.join(dp, n)
                if n.startswith("."):
                    bad.append(p)
                elif re.fullmatch(r"[0-9a-f]{64}", n) and os.path.isfile(p) and not os.path.islink(p):
                    if file_sha256(p) != n:
                        bad.append(p)
        return bad

    def names_in_cache(hexd):
        """Cache entries named by a digest (their lock files aside)."""
        return [os.path.join(dp, n) for dp, dn, fn in os.walk(cache) for n in dn + fn
                if hexd in n and not n.endswith(".lock")]

    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            return str(e).encode()

    def nspawn_settings(name, ref):
        """The [Exec] settings machinespawn-prepare writes at the start of machine NAME declared with
        Image=REF: {key: [values]}, or the error."""
        mspawn = os.path.join(tmp, "mspawn")
        os.makedirs(mspawn, exist_ok=True)
        with open(os.path.join(mspawn, f"{name}.mspawn"), "w") as f:
            f.write(f"[Machine]\nImage={ref}\n")
        res = subprocess.run([PREPARE, name], env=dict(env, MACHINESPAWN_CONFIG_PATH=mspawn,
                                                       MACHINESPAWN_NSPAWN_DIR=f"{tmp}/nspawn"),
                             capture_output=True, text=True)
        if res.returncode != 0:
            return res.stderr
        out, section = {}, None
        for line in read(f"{tmp}/nspawn/{name}.nspawn").decode(errors="replace").splitlines():
            if line.startswith("["):
                section = line.strip("[]")
            elif "=" in line and section == "Exec":
                # word lists, quoted as systemd reads them back
                k, _, v = line.partition("=")
                out.setdefault(k, []).extend(shlex.split(v))
        return out

    def blob_gets(reg):
        return [p for m, p, s in reg.requests() if m == "GET" and "/blobs/" in p]

    # --- images
    oci = Layout(os.path.join(tmp, "layout"))
    layers = base_layers()
    base = oci.image(list(zip(layers, ("gzip", "zstd", "none"))), CONFIG)
    oci.tag(base, "layers")
    push(oci, "layers", plain, "test/layers")
    pushed = [(p, s) for m, p, s in plain.requests() if m == "PUT" and "/manifests/" in p]
    check(pushed and pushed[-1][1] == 201, "harness: skopeo pushed the image with its manifest as written",
          str(pushed))

    # --- plain HTTP: layers, whiteouts, opaque directory, owners, modes, xattrs, the config
    r = pull(f"docker://{plain.host}/test/layers:layers", "layers")
    check(r.returncode == 0, "pull-oci by tag from a plain HTTP registry named insecure", r.stderr)
    check(read(tree("layers", "etc/os-release")) == b"ID=ocitest\nVERSION_ID=3\n",
          "the upper layer's file wins (gzip, zstd, uncompressed layers applied in order)")
    check(read(tree("layers", "etc/added")) == b"layer 2\n", "a file of the zstd layer is there")
    have = r.returncode == 0 and os.path.isfile(tree("layers", "etc/os-release"))
    check(have and not os.path.lexists(tree("layers", "etc/remove-me")), "a whiteout removes a file of a lower layer")
    check(sorted(os.listdir(tree("layers", "var/lib/gone"))) == ["again"] if os.path.isdir(
        tree("layers", "var/lib/gone")) else False,
          "a whited-out directory goes with its contents; the upper layer's new one has only its own file")
    check(os.path.isdir(tree("layers", "opq")) and sorted(os.listdir(tree("layers", "opq"))) == ["new"],
          "an opaque marker after its siblings in the tar hides the lower layer's entries, not its own layer's",
          str(os.listdir(tree("layers", "opq")) if os.path.isdir(tree("layers", "opq")) else None))
    wh = [os.path.join(dp, n) for dp, dn, fn in os.walk(tree("layers")) for n in dn + fn if n.startswith(".wh.")]
    check(have and not wh, "no whiteout file is left in the tree", str(wh))
    if os.path.isfile(tree("layers", "usr/bin/tool")):
        st = os.lstat(tree("layers", "usr/bin/tool"))
        check(st.st_mode & 0o7777 == 0o4755 and st.st_uid == 0, "modes kept (setuid tool)")
        check(os.lstat(tree("layers", "etc/shadow")).st_gid == 42
              and os.lstat(tree("layers", "etc/shadow")).st_mode & 0o777 == 0o640, "group and mode kept")
        check(os.lstat(tree("layers", "home/user/file")).st_uid == 1000
              and os.lstat(tree("layers", "home/user")).st_mode & 0o777 == 0o700, "owner kept")
        check(os.lstat(tree("layers", "usr/bin/alias")).st_ino == st.st_ino, "hard link inside the tree kept")
        check(os.path.islink(tree("layers", "usr/bin/link")) and os.readlink(tree("layers", "usr/bin/link")) == "tool",
              "symlink kept")
        try:
            cap = os.getxattr(tree("layers", "usr/bin/ping"), "security.capability", follow_symlinks=False)
        except OSError as e:
            cap = str(e).encode()
        check(cap == CAPABILITY, "file capability (security.capability) kept", repr(cap))
        try:
            x = os.getxattr(tree("layers", "home/user/file"), "user.mspawn", follow_symlinks=False)
        except OSError as e:
            x = str(e).encode()
        check(x == b"kept", "user xattr kept", repr(x))
    else:
        check(False, "the machine's tree is there", r.stderr)
    ref = f"docker://{plain.host}/test/layers:layers"
    s = nspawn_settings("layers", ref)
    for what, key, value in (("Env", "Environment", "OCITEST=from-the-image"), ("WorkingDir", "WorkingDirectory", "/srv"),
                             ("User", "User", "1000"), ("Entrypoint", "Parameters", "/usr/bin/tool"),
                             ("Cmd", "Parameters", "--flag"),
                             ("lack of an init", "Boot", "no")):
        check(isinstance(s, dict) and value in s.get(key, []) and
              s.get("Parameters") == ["/usr/bin/tool", "--flag"],
              f"the image's {what} is in the machine's nspawn settings ({key}={value})", str(s))
    check(not cache_sound(), "every cached blob matches its digest", str(cache_sound()))

    # an image whose /sbin/init is systemd boots
    boot = oci.image([([ti("usr", tarfile.DIRTYPE), ti("usr/lib", tarfile.DIRTYPE),
                        ti("usr/lib/systemd", tarfile.DIRTYPE), ti("usr/lib/systemd/systemd", data=b"\x7fELF", mode=0o755),
                        ti("usr/sbin", tarfile.DIRTYPE),
                        ti("usr/sbin/init", tarfile.SYMTYPE, linkname="../lib/systemd/systemd"),
                        ti("sbin", tarfile.SYMTYPE, linkname="usr/sbin"),
                        ti("lib", tarfile.SYMTYPE, linkname="usr/lib")], "gzip")],
                     {"Cmd": ["/bin/bash"], "Env": ["PATH=/usr/bin"]})
    oci.tag(boot, "boot")
    push(oci, "boot", plain, "test/boot")
    r = pull(f"docker://{plain.host}/test/boot:boot", "boot")
    s = nspawn_settings("boot", f"docker://{plain.host}/test/boot:boot")
    check(r.returncode == 0 and isinstance(s, dict) and s.get("Boot") == ["yes"] and "Parameters" not in s,
          "an image with systemd as /sbin/init boots (Boot=yes, no Parameters=)", r.stderr + str(s))

    # an upper layer replaces a directory with a symlink, as a /usr merge does
    merged = oci.image([([ti("bin", tarfile.DIRTYPE), ti("bin/sh", data=b"old sh"), ti("usr", tarfile.DIRTYPE)], "gzip"),
                        ([ti("usr/bin", tarfile.DIRTYPE), ti("usr/bin/sh", data=b"new sh"),
                          ti("bin", tarfile.SYMTYPE, linkname="usr/bin")], "gzip")], {"Cmd": ["/bin/sh"]})
    oci.tag(merged, "merged")
    push(oci, "merged", plain, "test/merged")
    r = pull(f"docker://{plain.host}/test/merged:merged", "merged")
    check(r.returncode == 0 and os.path.islink(tree("merged", "bin")) and read(tree("merged", "usr/bin/sh")) == b"new sh",
          "an upper layer's symlink replaces a lower layer's directory", r.stderr)

    # a second machine of the same image: no blob fetched again
    before = len(blob_gets(plain))
    r = pull(f"docker://{plain.host}/test/layers:layers", "layers2")
    check(r.returncode == 0 and read(tree("layers2", "etc/os-release")) == b"ID=ocitest\nVERSION_ID=3\n"
          and len(blob_gets(plain)) == before,
          "a second machine of the same image fetches no blob again", r.stderr + str(blob_gets(plain)[before:]))
    check(r.returncode == 0 and "Applying layer" not in r.stderr and "cached image tree" in r.stderr,
          "... and applies no layer again: a copy of the cached image tree", r.stderr)
    r = pull(f"docker://{plain.host}/test/layers:layers", "layers")
    check(r.returncode != 0 and read(tree("layers", "etc/added")) == b"layer 2\n",
          "pulling onto an existing machine fails and leaves it alone", r.stderr)

    # by digest, and a digest the registry does not have
    r = pull(f"docker://{plain.host}/test/layers@{base['digest']}", "bydigest")
    check(r.returncode == 0 and os.path.isfile(tree("bydigest", "etc/added")), "pull-oci by manifest digest", r.stderr)
    r = pull(f"docker://{plain.host}/test/layers@sha256:{'0' * 64}", "nodigest")
    check(r.returncode != 0 and no_leftovers("nodigest"), "an unknown digest fails and leaves nothing", r.stderr)
    r = pull(f"docker://{plain.host}/test/nosuch:latest", "notag")
    check(r.returncode != 0 and no_leftovers("notag"), "an unknown repository fails and leaves nothing", r.stderr)

    # not named insecure: plain HTTP is refused
    write_conf()
    before = len(plain.requests())
    r = pull(f"docker://{plain.host}/test/layers:layers", "notinsecure")
    check(r.returncode != 0 and no_leftovers("notinsecure") and len(plain.requests()) == before,
          "a registry not named insecure is not spoken to over plain HTTP", r.stderr)
    write_conf(plain.host)

    # --- a Docker schema-2 manifest (gzip layers)
    dock = Layout(os.path.join(tmp, "layout-docker"))
    dimg = dock.image([(layers[0], "gzip"), (layers[1], "gzip"), (layers[2], "gzip")], CONFIG)
    dock.tag(dimg, "v2s2")
    push(dock, "v2s2", plain, "test/docker", "--format", "v2s2")
    mtypes = [line for line in open(plain.log) if "manifests/v2s2" in line]
    r = pull(f"docker://{plain.host}/test/docker:v2s2", "docker")
    check(r.returncode == 0 and read(tree("docker", "etc/os-release")) == b"ID=ocitest\nVERSION_ID=3\n"
          and sorted(os.listdir(tree("docker", "opq"))) == ["new"],
          "a Docker schema-2 manifest", r.stderr + str(mtypes[-1:]))

    # --- a multi-platform index: an attestation first, arm64, amd64
    multi = Layout(os.path.join(tmp, "layout-multi"))
    per_arch = {}
    for arch, variant in (("arm64", "v8"), ("amd64", None)):
        per_arch[arch] = multi.image([([ti("etc", tarfile.DIRTYPE), ti("etc/arch", data=arch.encode())], "gzip")],
                                     {"Cmd": ["/bin/sh"]}, arch=arch, variant=variant)
    statement = multi.blob({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2"},
                           "application/vnd.in-toto+json",
                           annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})
    att_cfg = multi.blob({"architecture": "unknown", "os": "unknown", "config": {},
                          "rootfs": {"type": "layers", "diff_ids": [statement["digest"]]}}, OCI_CONFIG)
    attestation = multi.blob({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": att_cfg,
                              "layers": [statement]}, OCI_MANIFEST)
    index = multi.blob({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(attestation, platform={"architecture": "unknown", "os": "unknown"},
             annotations={"vnd.docker.reference.type": "attestation-manifest",
                          "vnd.docker.reference.digest": per_arch["amd64"]["digest"]}),
        dict(per_arch["arm64"], platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        dict(per_arch["amd64"], platform={"architecture": "amd64", "os": "linux"}),
    ]}, OCI_INDEX)
    multi.tag(index, "multi")
    push(multi, "multi", plain, "test/multi", all_images=True)
    # an attestation manifest whose entry claims the platform, before the real one: its annotation says
    index_att = multi.blob({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        dict(attestation, platform={"architecture": "amd64", "os": "linux"},
             annotations={"vnd.docker.reference.type": "attestation-manifest",
                          "vnd.docker.reference.digest": per_arch["amd64"]["digest"]}),
        dict(per_arch["amd64"], platform={"architecture": "amd64", "os": "linux"}),
    ]}, OCI_INDEX)
    multi.tag(index_att, "attested")
    push(multi, "attested", plain, "test/multi", all_images=True)
    r = pull(f"docker://{plain.host}/test/multi:attested", "multi-attested", "--arch=amd64")
    check(r.returncode == 0 and read(tree("multi-attested", "etc/arch")) == b"amd64",
          "an index: an attestation entry is skipped by its annotation, whatever platform it claims", r.stderr)
    host_arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    r = pull(f"docker://{plain.host}/test/multi:multi", "multi-default")
    if host_arch in ("amd64", "arm64"):
        check(r.returncode == 0 and read(tree("multi-default", "etc/arch")) == host_arch.encode(),
              "an index: the host's architecture by default, the attestation entry skipped", r.stderr)
    for arch in ("arm64", "amd64"):
        r = pull(f"docker://{plain.host}/test/multi:multi", f"multi-{arch}", f"--arch={arch}")
        check(r.returncode == 0 and read(tree(f"multi-{arch}", "etc/arch")) == arch.encode(),
              f"an index: --arch={arch} picks its manifest", r.stderr)
    r = pull(f"docker://{plain.host}/test/multi@{index['digest']}", "multi-digest", "--arch=arm64")
    check(r.returncode == 0 and read(tree("multi-digest", "etc/arch")) == b"arm64", "an index by digest", r.stderr)
    r = pull(f"docker://{plain.host}/test/multi:multi", "multi-riscv", "--arch=riscv64")
    check(r.returncode != 0 and no_leftovers("multi-riscv"),
          "an index without the architecture fails (the attestation is not taken instead)", r.stderr)

    # --- TLS with htpasswd credentials from the test CA
    push(oci, "layers", tls, "private/layers")
    ref = f"docker://{tls.host}/private/layers:layers"
    good = auth_file(tls.host, "reader", "read-secret")
    r = pull(ref, "tls", ca=ca_crt, auth=good)
    check(r.returncode == 0 and read(tree("tls", "etc/added")) == b"layer 2\n",
          "TLS from the test CA, credentials from $REGISTRY_AUTH_FILE", r.stderr)
    r = pull(ref, "tls-noca", auth=good)
    check(r.returncode != 0 and no_leftovers("tls-noca"), "TLS without the test CA fails", r.stderr)
    r = pull(ref, "tls-otherca", ca=other_crt, auth=good)
    check(r.returncode != 0 and no_leftovers("tls-otherca"), "TLS with another CA fails", r.stderr)
    write_conf(plain.host, tls.host)
    r = pull(ref, "tls-insecure", auth=good)
    check(r.returncode != 0 and no_leftovers("tls-insecure"),
          "a TLS registry named insecure still verifies its certificate", r.stderr)
    write_conf(plain.host)
    r = pull(ref, "tls-wrongpw", ca=ca_crt, auth=auth_file(tls.host, "reader", "wrong"))
    check(r.returncode != 0 and no_leftovers("tls-wrongpw"), "wrong credentials fail", r.stderr)
    r = pull(ref, "tls-nocreds", ca=ca_crt)
    check(r.returncode != 0 and no_leftovers("tls-nocreds"), "no credentials fail", r.stderr)
    r = pull(ref, "tls-otherhost", ca=ca_crt, auth=auth_file(plain.host, "reader", "read-secret"))
    check(r.returncode != 0 and no_leftovers("tls-otherhost"),
          "credentials of another registry are not used", r.stderr)

    # --- bearer tokens
    push(oci, "layers", tokreg, "public/layers")
    push(oci, "layers", tokreg, "private/layers")
    TokenHandler.log.clear()
    r = pull(f"docker://{tokreg.host}/public/layers:layers", "tok-anon", ca=ca_crt)
    anon = [e for e in TokenHandler.log if e[1] is None]
    check(r.returncode == 0 and read(tree("tok-anon", "etc/added")) == b"layer 2\n" and anon,
          "an anonymous bearer token from the WWW-Authenticate challenge", r.stderr + str(TokenHandler.log))
    check(all("public/layers" in e[2] and "push" not in e[2] for e in anon),
          "... asked for pull on the repository only", str(anon))
    TokenHandler.log.clear()
    r = pull(f"docker://{tokreg.host}/private/layers:layers", "tok-private-anon", ca=ca_crt)
    check(r.returncode != 0 and no_leftovers("tok-private-anon"),
          "a token without access to a private repository fails", r.stderr + str(TokenHandler.log))
    TokenHandler.log.clear()
    r = pull(f"docker://{tokreg.host}/private/layers:layers", "tok-private", ca=ca_crt,
             auth=auth_file(tokreg.host, "reader", "read-secret"))
    check(r.returncode == 0 and read(tree("tok-private", "etc/added")) == b"layer 2\n"
          and any(e[1] == "reader" for e in TokenHandler.log),
          "credentials from $REGISTRY_AUTH_FILE get a token for a private repository",
          r.stderr + str(TokenHandler.log))
    TokenHandler.log.clear()
    r = pull(f"docker://{tokreg.host}/private/layers:layers", "tok-wrongpw", ca=ca_crt,
             auth=auth_file(tokreg.host, "reader", "wrong"))
    check(r.returncode != 0 and no_leftovers("tok-wrongpw") and ("/token", "reader", "refused") in TokenHandler.log,
          "wrong credentials: the token server refuses, the pull fails", r.stderr + str(TokenHandler.log))

    # --- hostile: a layer altered in the registry's storage after the push (same size)
    evil = Layout(os.path.join(tmp, "layout-evil"))
    altered = evil.image([(base_layers(b"altered")[0], "gzip")], {"Cmd": ["/bin/sh"]})
    evil.tag(altered, "altered")
    push(evil, "altered", plain, "test/altered")
    manifest = json.load(open(os.path.join(evil.path, "blobs/sha256", altered["digest"][7:])))
    layer = manifest["layers"][0]["digest"]
    path = plain.blob_path(layer)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xff
    with open(path, "wb") as f:
        f.write(data)
    r = pull(f"docker://{plain.host}/test/altered:altered", "altered")
    check(r.returncode != 0 and no_leftovers("altered") and not names_in_cache(layer[7:]) and not cache_sound(),
          "a layer whose digest does not match fails, leaves no machine and nothing in the cache",
          r.stderr + str(names_in_cache(layer[7:])) + str(cache_sound()))

    # a manifest altered in storage, pulled by digest (its layer put right again)
    data[len(data) // 2] ^= 0xff
    with open(path, "wb") as f:
        f.write(data)
    mpath = plain.blob_path(altered["digest"])
    mdata = open(mpath, "rb").read().replace(b'"schemaVersion": 2', b'"schemaVersion":2 ')
    with open(mpath, "wb") as f:
        f.write(mdata)
    r = pull(f"docker://{plain.host}/test/altered@{altered['digest']}", "altered-manifest")
    check(r.returncode != 0 and no_leftovers("altered-manifest"),
          "a manifest that does not match the digest asked for fails", r.stderr)

    # --- hostile: an oversized manifest from a fake registry
    fake = serve(FakeRegistry)
    fake_host = f"127.0.0.1:{fake.server_port}"
    write_conf(plain.host, fake_host)
    for repo in ("big", "endless"):
        t0 = time.monotonic()
        r = sb.run("pull-oci", f"docker://{fake_host}/test/{repo}:latest", f"fake-{repo}",
                   prefix=["sh", "-c", 'ulimit -v 1048576; exec "$@"', "sh"], timeout=300,
                   REGISTRY_AUTH_FILE=no_auth)
        time.sleep(0.5)
        sent = FakeRegistry.sent.get(f"/v2/test/{repo}/manifests/latest", -1)
        # what the client read before it hung up, give or take the sockets' buffers
        check(r.returncode != 0 and no_leftovers(f"fake-{repo}") and 0 < r.returncode < 128 and 0 <= sent < 32 << 20,
              f"an oversized manifest ({repo}) is refused, not read whole", r.stderr[-2000:] +
              f" ({time.monotonic() - t0:.1f} s, status {r.returncode}, {sent} bytes sent)")
    fake.shutdown()

    # --- hostile layers. Victims outside, checked by digest; nothing may land where an escape points.
    up = "../" * 30 + outside.lstrip("/")
    good_layer = ([ti("etc", tarfile.DIRTYPE), ti("etc/os-release", data=b"ID=ocitest\n")], "gzip")
    hostile = {
        # name: (layers, must fail, where an escape would land)
        "whiteout-dotdot": ([good_layer, ([ti(f"{up}/.wh.victim")], "gzip")], True, []),
        "whiteout-absolute": ([good_layer, ([ti(f"{outside}/.wh.victim")], "gzip")], False, []),
        "whiteout-symlink": ([good_layer, ([ti("esc", tarfile.SYMTYPE, linkname=outside)], "gzip"),
                              ([ti("esc/.wh.victim")], "gzip")], False, []),
        "whiteout-symlink-rel": ([good_layer, ([ti("esc", tarfile.SYMTYPE, linkname=up)], "gzip"),
                                  ([ti("esc/.wh.victim"), ti("esc/dir/.wh.victim2")], "gzip")], False, []),
        "opaque-symlink": ([good_layer, ([ti("esc", tarfile.SYMTYPE, linkname=f"{outside}/dir")], "gzip"),
                            ([ti("esc/.wh..wh..opq")], "gzip")], False, []),
        "opaque-dotdot": ([good_layer, ([ti(f"{up}/dir/.wh..wh..opq")], "gzip")], True, []),
        "file-through-symlink": ([good_layer, ([ti("esc", tarfile.SYMTYPE, linkname=outside)], "gzip"),
                                  ([ti("esc/evil", data=b"x")], "gzip")], False, [f"{outside}/evil"]),
        "dir-symlink-same-layer": ([([ti("esc", tarfile.SYMTYPE, linkname=outside),
                                      ti("esc/evil2", data=b"x")], "gzip")], False, [f"{outside}/evil2"]),
        "traversal": ([([ti(f"{up}/evil3", data=b"x")], "zstd")], True, [f"{outside}/evil3"]),
        "hardlink-absolute": ([([ti("h", tarfile.LNKTYPE, linkname=f"{outside}/victim")], "gzip")], True, []),
        "hardlink-dotdot": ([([ti("h", tarfile.LNKTYPE, linkname=f"{up}/victim")], "gzip")], True, []),
        "hardlink-through-symlink": ([([ti("esc", tarfile.SYMTYPE, linkname=outside),
                                        ti("h", tarfile.LNKTYPE, linkname="esc/victim")], "gzip")], True, []),
        "symlink-replaced-dir": ([good_layer, ([ti("etc", tarfile.SYMTYPE, linkname=outside)], "gzip"),
                                  ([ti("etc/evil4", data=b"x")], "gzip")], False, [f"{outside}/evil4"]),
    }
    hl = Layout(os.path.join(tmp, "layout-hostile"))
    hostile_layer = {}
    for name, (hlayers, must_fail, landings) in hostile.items():
        desc = hl.image(hlayers, {"Cmd": ["/bin/sh"]})
        hl.tag(desc, name)
        push(hl, name, plain, f"hostile/{name}")
        hostile_layer[name] = json.load(open(os.path.join(hl.path, "blobs/sha256", desc["digest"][7:])))["layers"][-1]["digest"]
    for name, (hlayers, must_fail, landings) in hostile.items():
        before = snapshot(outside)
        r = pull(f"docker://{plain.host}/hostile/{name}:{name}", f"h-{name}")
        changed = changes(before, snapshot(outside))
        landed = [p for p in landings if os.path.lexists(p)]
        # the last layer, the one that does the harm, was fetched: refused for what it holds, not before
        fetched = ("GET", f"/v2/hostile/{name}/blobs/{hostile_layer[name]}", 200) in plain.requests()
        # refused is a clean exit, not a crash
        ok = fetched and not changed and not landed and 0 <= r.returncode < 128 and (r.returncode == 0 or no_leftovers(f"h-{name}"))
        if must_fail:
            ok = ok and r.returncode != 0
        check(ok, f"hostile layer {'refused' if must_fail else 'confined'}, nothing outside changed: {name}",
              f"status {r.returncode}, hostile layer fetched: {fetched}\n{r.stderr}\nchanged: {changed}\nlanded: {landed}")
        subprocess.run(["rm", "-rf", os.path.join(machines, f"h-{name}")])
        for p in landed:
            os.unlink(p)
        for p in changed:
            if not os.path.lexists(p) or p.endswith("victim") or p.endswith("victim2"):
                os.makedirs(os.path.dirname(p), exist_ok=True)
                if not os.path.isdir(p):
                    with open(p, "wb") as f:
                        f.write(victims.get(p, b""))
    check(not cache_sound(), "after the hostile cases, every cached blob still matches its digest",
          str(cache_sound()))

    token_server.shutdown()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
