"""ntm-server (AS + DC + RS in one process) on loopback for the interop tests: a temporary state
directory, accounts, free ports on 127.0.0.1 and ::1, and a bounded wait until every listener
is up (ss). Nothing but loopback addresses is used.

    with ControlPlane(domain="interop") as plane:
        password = plane.add_account("srv-c")     # before start(): SQLite in the state dir
        plane.start()
        plane.node_args("srv-c")                  # --server ... --server-cert ... --account ...
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Optional

from nodes import NsProcess, build_dir

LISTEN_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 30.0


def account_name(role: str, lang: str) -> str:
    """The account an interop node logs in with: srv-c, cli-java, ..."""
    return f"{role}-{lang}"


def server_program() -> str:
    return os.path.join(build_dir(), "servers", "ntm-server")


def port_free_on_both(port: int) -> bool:
    """True if `port` can be bound for TCP and UDP on 127.0.0.1 and ::1 right now."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(family, kind) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that are free for TCP and UDP on both loopback addresses (the
    kernel picks candidates; a port is taken between this check and the server's bind only if
    another program grabs it in that moment)."""
    ports: list[int] = []
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in ports and port_free_on_both(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"could not find {count} free loopback ports")


def _listening(kind: str) -> set[str]:
    """Local addresses ("127.0.0.1:7800", "[::1]:7800") listening for tcp or bound for udp."""
    flag = "-Hltn" if kind == "tcp" else "-Hlun"
    r = subprocess.run(["ss", flag], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    return {line.split()[3] for line in r.stdout.splitlines() if len(line.split()) >= 4}


class ControlPlane:
    """One ntm-server on loopback with its own state directory, started and stopped by PID."""

    def __init__(self, domain: str = "interop") -> None:
        self.domain = domain
        self.state_dir = tempfile.mkdtemp(prefix="ntm-interop-state-")
        self.as_port, self.dc_port, self.rs_port = free_ports(3)
        self.passwords: dict[str, str] = {}
        self.process: Optional[NsProcess] = None

    @property
    def certificate(self) -> str:
        """The AS's TLS certificate, which nodes pin."""
        return os.path.join(self.state_dir, "as-tls.pem")

    @property
    def server(self) -> str:
        """The AS address nodes log in to (IPv4; the AS also listens on [::1])."""
        return f"127.0.0.1:{self.as_port}"

    def fqdn(self, account: str) -> str:
        return f"{account}.{self.domain}"

    def node_state(self, account: str) -> str:
        """A node's own state directory (its key), inside this plane's temporary folder."""
        path = os.path.join(self.state_dir, "nodes", account)
        os.makedirs(path, exist_ok=True)
        return path

    def add_account(self, name: str) -> str:
        """Creates account `name` with a random password (returned)."""
        password = "pw-" + secrets.token_hex(8)
        r = subprocess.run([server_program(), "accounts", "add", name, "--password", password,
                            "--state", self.state_dir], capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError(f"ntm-server accounts add {name} failed: {r.stderr.strip()}")
        self.passwords[name] = password
        return password

    def node_args(self, account: str, password: Optional[str] = None) -> list[str]:
        """The control-plane options of an interop node logging in as `account`; its tunnels use
        loopback only (without --listen a node binds the wildcard address and advertises the
        host's other addresses too)."""
        return ["--server", self.server, "--server-cert", self.certificate,
                "--account", account, "--password", password or self.passwords[account],
                "--state", self.node_state(account),
                "--listen", "127.0.0.1:0", "--listen", "[::1]:0"]

    def start(self) -> None:
        """Starts ntm-server and waits (bounded) until its six listeners are up."""
        argv = [server_program(), "run", "--state", self.state_dir, "--domain", self.domain]
        for flag, port in (("--listen-as", self.as_port), ("--listen-dc", self.dc_port),
                           ("--listen-rs", self.rs_port)):
            argv += [flag, f"127.0.0.1:{port}", flag, f"[::1]:{port}"]
        self.process = NsProcess("ntm-server", argv)
        want_tcp = {f"127.0.0.1:{self.as_port}", f"[::1]:{self.as_port}"}
        want_udp = {f"{host}:{port}" for host in ("127.0.0.1", "[::1]")
                    for port in (self.dc_port, self.rs_port)}
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not (want_tcp <= _listening("tcp") and want_udp <= _listening("udp")
                   and os.path.exists(self.certificate)):
            if self.process.poll() is not None:
                raise RuntimeError("ntm-server exited at start\n" + self.process.output())
            if time.monotonic() > deadline:
                raise RuntimeError(f"ntm-server not listening within {LISTEN_TIMEOUT_S} s\n"
                                   + self.process.output())
            time.sleep(0.05)

    def close(self) -> Optional[int]:
        """Stops the server (SIGTERM, by PID; SIGKILL if it hangs), removes the state directory;
        returns the server's exit status."""
        rc = None
        if self.process is not None:
            self.process.stop()
            rc = self.process.returncode
        shutil.rmtree(self.state_dir, ignore_errors=True)
        return rc

    def __enter__(self) -> "ControlPlane":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
