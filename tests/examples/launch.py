"""How each language's example program starts (the commands the examples' READMEs document),
and the node options of the two modes: static peers on loopback, or an ntm-server (AS + DC + RS)
on loopback."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import ntmobile

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
LANGUAGES = ("c", "java", "python", "ruby")

# Program -> its file (or class / binary) in each language.
PROGRAMS = {
    "chat_server": {"c": "ntm-chat-server", "java": "ChatServer", "python": "chat_server.py", "ruby": "chat_server.rb"},
    "chat_client": {"c": "ntm-chat-client", "java": "ChatClient", "python": "chat_client.py", "ruby": "chat_client.rb"},
    "file_receiver": {"c": "ntm-file-receiver", "java": "FileReceiver", "python": "file_receiver.py",
                      "ruby": "file_receiver.rb"},
    "file_sender": {"c": "ntm-file-sender", "java": "FileSender", "python": "file_sender.py", "ruby": "file_sender.rb"},
    "echo_server": {"c": "ntm-echo-server", "java": "EchoServer", "python": "echo_server.py", "ruby": "echo_server.rb"},
    "echo_client": {"c": "ntm-echo-client", "java": "EchoClient", "python": "echo_client.py", "ruby": "echo_client.rb"},
}


def build_dir() -> Path:
    return Path(os.environ.get("NTM_BUILD_DIR", REPO / "build")).resolve()


def java_jar() -> Path:
    jars = [j for j in glob.glob(str(REPO / "bindings/java/target/ntmobile-*.jar"))
            if not j.endswith(("-sources.jar", "-javadoc.jar", "-tests.jar"))]
    if not jars:
        raise AssertionError("no bindings/java/target/ntmobile-*.jar: run ci/bindings.sh java")
    return Path(sorted(jars)[-1])


def compile_java(into: Path) -> None:
    """javac of every examples/java/*.java once per session (the programs share NodeArgs.java,
    which single-file source mode cannot see), as examples/java/README.md documents."""
    sources = sorted(str(p) for p in (EXAMPLES / "java").glob("*.java"))
    result = subprocess.run(["javac", "-d", str(into), "-cp", str(java_jar()), *sources],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"javac examples/java failed:\n{result.stdout}\n{result.stderr}")


class Launcher:
    """Builds the command line of a program in a language."""

    def __init__(self, java_classes: Optional[Path]) -> None:
        self.java_classes = java_classes

    def command(self, language: str, program: str, args: list[str]) -> list[str]:
        name = PROGRAMS[program][language]
        if language == "c":
            path = build_dir() / "examples" / "c" / name
            self._require(path, "build the C examples (cmake --build BUILD)")
            return [str(path), *args]
        if language == "python":
            path = EXAMPLES / "python" / name
            self._require(path, "examples/python")
            return [sys.executable, str(path), *args]
        if language == "ruby":
            path = EXAMPLES / "ruby" / name
            self._require(path, "examples/ruby")
            return ["ruby", str(path), *args]
        self._require(EXAMPLES / "java" / f"{name}.java", "examples/java")
        if self.java_classes is None:
            raise AssertionError("the Java examples were not compiled")
        return ["java", "-cp", f"{java_jar()}{os.pathsep}{self.java_classes}", name, *args]

    @staticmethod
    def _require(path: Path, hint: str) -> None:
        if not path.exists():
            raise AssertionError(f"{path} not found ({hint})")


def free_udp_port() -> int:
    """A loopback UDP port nobody uses right now (for a node's --listen)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    """One node of a test network and the options that make it."""

    short: str  # "srv", "alice", ...
    fqdn: str
    vip4: Optional[str]  # None in control-plane mode (the DC assigns them)
    vip6: Optional[str]
    options: list[str] = field(default_factory=list)


class StaticNetwork:
    """Static-peer mode: every node knows every other one's key, virtual addresses and real
    loopback endpoint (a fixed UDP port each), so any of them may start a tunnel."""

    def __init__(self, shorts: list[str], subnet: int) -> None:
        keys = {short: ntmobile.generate_keypair() for short in shorts}
        ports = {short: free_udp_port() for short in shorts}
        self.nodes: dict[str, Node] = {}
        for i, short in enumerate(shorts, start=1):
            self.nodes[short] = Node(short, f"{short}.example", f"100.64.{subnet}.{i}", f"fd00:6e74:6d::{subnet}:{i}")
        for short, node in self.nodes.items():
            node.options = ["--name", node.fqdn, "--key", keys[short].private_key, "--vip4", node.vip4,
                            "--vip6", node.vip6, "--listen", f"127.0.0.1:{ports[short]}"]
            for other_short, other in self.nodes.items():
                if other_short != short:
                    node.options += ["--peer", f"{other.fqdn},{keys[other_short].public_key},"
                                     f"127.0.0.1:{ports[other_short]},{other.vip4},{other.vip6}"]
        self.endpoints = {short: f"127.0.0.1:{port}" for short, port in ports.items()}

    def __getitem__(self, short: str) -> Node:
        return self.nodes[short]


class ControlPlane:
    """ntm-server (AS + DC + RS) on loopback with one account per node, in a temporary state
    directory; nodes log in with --server/--server-cert/--account/--password."""

    DOMAIN = "example"

    def __init__(self, shorts: list[str]) -> None:
        self.binary = build_dir() / "servers" / "ntm-server"
        if not self.binary.exists():
            raise AssertionError(f"{self.binary} not found (build the servers)")
        self._state = tempfile.TemporaryDirectory(prefix="ntm-examples-cp-")
        self.state = Path(self._state.name)
        self.proc: Optional[subprocess.Popen[str]] = None
        self.log = open(self.state / "server.log", "w+")
        try:
            self._start(shorts)
        except BaseException:
            self.close()
            raise
        self.nodes = {short: self._node(short) for short in shorts}

    def _start(self, shorts: list[str]) -> None:
        for short in shorts:
            subprocess.run([str(self.binary), "accounts", "add", short, "--password", f"pw-{short}",
                            "--state", str(self.state)], check=True, capture_output=True, timeout=60)
        self.as_port, self.dc_port, self.rs_port = free_tcp_port(), free_udp_port(), free_udp_port()
        self.proc = subprocess.Popen(
            [str(self.binary), "run", "--state", str(self.state), "--domain", self.DOMAIN,
             "--listen-as", f"127.0.0.1:{self.as_port}", "--listen-dc", f"127.0.0.1:{self.dc_port}",
             "--listen-rs", f"127.0.0.1:{self.rs_port}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 30.0) -> None:
        """Polls until the AS accepts TCP and the AS certificate exists (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if (self.state / "as-tls.pem").exists():
                try:
                    socket.create_connection(("127.0.0.1", self.as_port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"ntm-server did not come up within {timeout:g} s:\n{self.output()}")

    def _node(self, short: str) -> Node:
        node = Node(short, f"{short}.{self.DOMAIN}", None, None)
        node.options = ["--server", f"127.0.0.1:{self.as_port}", "--server-cert", str(self.state / "as-tls.pem"),
                        "--account", short, "--password", f"pw-{short}", "--listen", "127.0.0.1:0"]
        return node

    def __getitem__(self, short: str) -> Node:
        return self.nodes[short]

    def output(self) -> str:
        self.log.flush()
        return (self.state / "server.log").read_text(errors="replace")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        self._state.cleanup()
