"""`ntm up` across restarts: a node killed with SIGKILL leaves its control socket behind, and the
next start replaces it; a socket another live node serves is not taken over (start fails naming
it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile

from conftest import COMMAND_TIMEOUT_S, NtmUp, free_port, keypair, ntm_program


def static_conf(tmp: str, name: str) -> tuple[str, str]:
    priv, _ = keypair()
    conf = os.path.join(tmp, f"{name}.conf")
    sock = os.path.join(tmp, "node.sock")
    with open(conf, "w") as f:
        f.write(f"name = {name}.example\nkey = {priv}\nvip4 = 100.64.9.1\n"
                f"listen = 127.0.0.1:{free_port(socket.SOCK_DGRAM)}\ncontrol-socket = {sock}\n")
    return conf, sock


def test_a_stale_control_socket_is_replaced_and_a_live_one_is_not_taken():
    with tempfile.TemporaryDirectory(prefix="ntm-cli-life-") as tmp:
        conf, sock = static_conf(tmp, "one")
        first = NtmUp("one", conf, sock)
        first.wait_ready()
        # A second node on the same socket path: refused while the first one serves it.
        conf2, _ = static_conf(tmp, "two")
        r = subprocess.run([ntm_program(), "up", "-c", conf2], capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT_S)
        assert r.returncode == 1 and "in use by another node" in r.stderr, r.stderr
        assert first.status()["node"]["name"] == "one.example"
        # Killed without cleaning up: the socket file stays ...
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait_exit(10)
        assert os.path.exists(sock)
        # ... and the next node replaces it.
        second = NtmUp("two", conf2, sock)
        try:
            second.wait_ready()
            assert second.status()["node"]["name"] == "two.example"
        finally:
            assert second.stop() == 0
        assert not os.path.exists(sock)
