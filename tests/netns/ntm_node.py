"""Driving ntmobile's own programs inside the namespace topology.

The node program is build/tests/integration/ntm-test-node (tests/integration/test_node.cc): one
node per process, one scenario, machine-readable READY / RESULT / ERROR / DONE lines. Keys come
from build/examples/c/ntm-keygen. NTM_BUILD_DIR names the build directory (default
/work/main/build, or <repo>/build next to this file)."""
from __future__ import annotations

import functools
import hashlib
import os
import struct
import subprocess
from dataclasses import dataclass
from typing import Optional, Sequence

from netns_helpers import fields
from topology import Node, NsProcess, Topology, endpoint

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Seeds of the test streams (tests/integration/test_data.h); the connection index is added.
CLIENT_TO_SERVER_SEED = 0xC25000000000
SERVER_TO_CLIENT_SEED = 0x52C000000000


def build_dir() -> str:
    return os.environ.get("NTM_BUILD_DIR") or os.path.join(REPO, "build")


def node_program() -> str:
    return os.path.join(build_dir(), "tests", "integration", "ntm-test-node")


def keygen_path() -> str:
    return os.path.join(build_dir(), "examples", "c", "ntm-keygen")


def missing_binaries() -> list[str]:
    return [p for p in (node_program(), keygen_path()) if not os.access(p, os.X_OK)]


@functools.lru_cache(maxsize=16)
def stream_sha256(seed: int, length: int) -> str:
    """SHA-256 of bytes [0, length) of test stream `seed` (splitmix64 words, little-endian),
    the same as ntm_test::stream_sha256 in test_data.h."""
    m = (1 << 64) - 1
    g = 0x9E3779B97F4A7C15
    h = hashlib.sha256()
    nblocks = (length + 7) // 8
    chunk = 8192
    for start in range(0, nblocks, chunk):
        words = []
        for b in range(start, min(nblocks, start + chunk)):
            z = (seed + (b + 1) * g) & m
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
            words.append(z ^ (z >> 31))
        data = struct.pack(f"<{len(words)}Q", *words)
        h.update(data[: min(length - start * 8, len(data))])
    return h.hexdigest()


@dataclass
class Identity:
    """A node's name, virtual addresses and key pair (static-peer mode)."""
    name: str
    vip4: str
    vip6: str
    private_key: str
    public_key: str

    def peer_spec(self, real_endpoint: str = "") -> str:
        return f"{self.name},{self.public_key},{real_endpoint},{self.vip4},{self.vip6}"


def make_identity(name: str, vip4: str, vip6: str) -> Identity:
    r = subprocess.run([keygen_path()], capture_output=True, text=True, timeout=10, check=True)
    priv, pub = r.stdout.split()
    return Identity(name, vip4, vip6, priv, pub)


def listen_args(node: Node, port: int = 0) -> list[str]:
    """--listen options for each real address the node has (families not listed are off)."""
    out = []
    if node.ipv4:
        out += ["--listen", f"{node.ipv4}:{port}"]
    if node.ipv6:
        out += ["--listen", endpoint(node.ipv6, port)]
    return out


def start_test_node(t: Topology, node: Node, scenario: str, me: Identity,
                    peers: Sequence[str], extra: Sequence[str] = (), timeout_s: int = 60,
                    label: Optional[str] = None) -> NsProcess:
    argv = [node_program(), scenario, "--name", me.name, "--key", me.private_key,
            "--vip4", me.vip4, "--vip6", me.vip6, *listen_args(node),
            "--timeout", str(timeout_s)]
    for p in peers:
        argv += ["--peer", p]
    argv += list(extra)
    return t.run(node, argv, label=label or f"{node.name}:{scenario}")


@dataclass
class Transfer:
    server: NsProcess
    client: NsProcess
    ready: dict
    bytes: int


def static_tcp_transfer(t: Topology, server_node: Node, client_node: Node, *,
                        real_family: int, virtual_family: int, nbytes: int = 4 << 20,
                        timeout_s: int = 60) -> Transfer:
    """Server node listens (static peer: the client, endpoint unknown = learnt from the
    handshake); client node reaches it at the server's real address of `real_family` (4|6) and
    runs a tcp-transfer over virtual IPv`virtual_family`. Returns both finished processes."""
    server_id = make_identity("bob.test", "100.64.0.2", "fd00:6e74:6d::2")
    client_id = make_identity("alice.test", "100.64.0.1", "fd00:6e74:6d::1")
    fam = ["-6"] if virtual_family == 6 else []
    common = ["--bytes", str(nbytes), *fam]
    srv = start_test_node(t, server_node, "tcp-transfer", server_id, [client_id.peer_spec("")],
                          ["--role", "server", *common], timeout_s, label="server")
    ready = fields(srv.wait_line("READY", timeout=20))
    ep = ready["endpoint_v4" if real_family == 4 else "endpoint_v6"]
    want_host = server_node.ipv4 if real_family == 4 else f"[{server_node.ipv6}]"
    assert ep.startswith(want_host + ":"), f"server bound {ep}, expected {want_host}\n" + \
        srv.output()
    cli = start_test_node(t, client_node, "tcp-transfer", client_id, [server_id.peer_spec(ep)],
                          ["--role", "client", "--connect", f"{server_id.name}:5000", *common],
                          timeout_s, label="client")
    rc_c = cli.wait_exit(timeout_s + 10)
    rc_s = srv.wait_exit(20)
    diag = cli.output() + "\n" + srv.output()
    assert not cli.lines_starting("ERROR") and not srv.lines_starting("ERROR"), diag
    assert rc_c == 0 and rc_s == 0, diag
    return Transfer(srv, cli, ready, nbytes)


def check_transfer(x: Transfer) -> None:
    """Both directions carried exactly the expected stream (index 0)."""
    diag = x.client.output() + "\n" + x.server.output()
    (c,) = [fields(l) for l in x.client.lines_starting("RESULT")] or [None]
    (s,) = [fields(l) for l in x.server.lines_starting("RESULT")] or [None]
    assert c is not None and s is not None, diag
    c2s = stream_sha256(CLIENT_TO_SERVER_SEED, x.bytes)
    s2c = stream_sha256(SERVER_TO_CLIENT_SEED, x.bytes)
    assert c["sent_sha256"] == c2s, diag
    assert int(s["recv_bytes"]) == x.bytes and s["recv_sha256"] == c2s, diag
    assert s["sent_sha256"] == s2c, diag
    assert int(c["recv_bytes"]) == x.bytes and c["recv_sha256"] == s2c, diag
