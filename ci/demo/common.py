"""What the demo's two drivers (loopback.py, netns.py) share: the programs each node runs, the
ntm-server set-up, and printing what every node says with its name in front.

Processes are tests/netns/topology.py's NsProcess (stdout/stderr collected line by line, bounded
waits, stop by PID); on loopback they are started directly, in namespaces through Topology.run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "netns"))
sys.path.insert(0, str(ROOT / "tests" / "interop"))
from topology import NsProcess  # noqa: E402  (the shared process harness)
from loopback_servers import free_ports, port_free_on_both  # noqa: E402

BUILD = Path(os.environ.get("NTM_BUILD_DIR", ROOT / "build"))
SERVER = BUILD / "servers" / "ntm-server"
DOMAIN = "demo"
CHAT_PORT = 7100
AS_PORT, DC_PORT, RS_PORT = 7800, 7801, 7802
ACCOUNTS = {"bob": "bob-demo-password", "alice": "alice-demo-password",
            "carol": "carol-demo-password"}
COLORS = {"python": "\033[32m", "java": "\033[33m", "ruby": "\033[31m", "server": "\033[36m"}
BOLD, RESET = "\033[1m", "\033[0m"
WAIT_S = 60.0  # bound on every wait of the demo


def heading(text: str) -> None:
    print(f"\n{BOLD}==> {text}{RESET}", flush=True)


class DemoError(RuntimeError):
    pass


@dataclass
class Programs:
    """How each language's example is started (argv prefix and environment)."""
    java_classes: str

    @staticmethod
    def prepare(workdir: str) -> "Programs":
        """Compiles the Java examples once (they share NodeArgs.java)."""
        jar = next((j for j in (ROOT / "bindings" / "java" / "target").glob("ntmobile-*.jar")
                    if not j.name.endswith(("-sources.jar", "-javadoc.jar"))), None)
        if jar is None:
            raise DemoError("the Java binding's jar is missing: run ci/bindings.sh java")
        out = os.path.join(workdir, "java-examples")
        sources = sorted(str(p) for p in (ROOT / "examples" / "java").glob("*.java"))
        r = subprocess.run(["javac", "-cp", str(jar), "-d", out, *sources],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise DemoError("compiling examples/java failed:\n" + r.stdout + r.stderr)
        return Programs(java_classes=f"{jar}:{out}")

    def argv(self, lang: str, program: str) -> list[str]:
        if lang == "python":
            return [sys.executable, str(ROOT / "examples" / "python" / f"{program}.py")]
        if lang == "ruby":
            return ["ruby", str(ROOT / "examples" / "ruby" / f"{program}.rb")]
        if lang == "java":
            cls = "".join(part.capitalize() for part in program.split("_"))
            return ["java", "-cp", self.java_classes, cls]
        raise ValueError(lang)

    @staticmethod
    def env() -> dict:
        env = dict(os.environ)
        env["NTM_LIBRARY"] = str(BUILD / "c-api")  # where the Java binding finds libntm
        env["PYTHONUNBUFFERED"] = "1"
        return env


def node_options(account: str, as_endpoint: str, state: str,
                 listen: Sequence[str] = ()) -> list[str]:
    """Control-plane mode: log in at the AS (pinning its certificate) as `account`; `listen`:
    the real UDP addresses to bind (default: the wildcard addresses)."""
    argv = ["--server", as_endpoint, "--server-cert", os.path.join(state, "as-tls.pem"),
            "--account", account, "--password", ACCOUNTS[account],
            "--state", os.path.join(state, "nodes", account)]
    for address in listen:
        argv += ["--listen", address]
    return argv


def create_accounts(state: str) -> None:
    for account, password in ACCOUNTS.items():
        r = subprocess.run([str(SERVER), "accounts", "add", account, "--password", password,
                            "--state", state], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise DemoError(f"ntm-server accounts add {account} failed: {r.stderr.strip()}")
        print(f"  account {account} -> node {account}.{DOMAIN}")


def server_argv(state: str, listen: Sequence[str], ports: Sequence[int]) -> list[str]:
    """ntm-server run on every `listen` host with the (AS, DC, RS) `ports`."""
    as_port, dc_port, rs_port = ports
    argv = [str(SERVER), "run", "--state", state, "--domain", DOMAIN, "--log-level", "info"]
    for host in listen:
        argv += ["--listen-as", f"{host}:{as_port}", "--listen-dc", f"{host}:{dc_port}",
                 "--listen-rs", f"{host}:{rs_port}"]
    return argv


def loopback_ports() -> tuple[int, int, int]:
    """The default ports when they are free on 127.0.0.1 and ::1 (TCP and UDP), else others."""
    if all(port_free_on_both(p) for p in (AS_PORT, DC_PORT, RS_PORT)):
        return AS_PORT, DC_PORT, RS_PORT
    try:
        as_port, dc_port, rs_port = free_ports(3)
    except RuntimeError as e:
        raise DemoError(str(e)) from None
    return as_port, dc_port, rs_port


def run_demo(body: Callable[["Echo"], str], cleanup: Callable[[], None], cleaned: str) -> int:
    """Runs `body` (which returns the closing line) with an Echo, then `cleanup` whatever
    happened; prints `cleaned` after it. 0 on success, 1 on failure or Ctrl-C."""
    echo = Echo()
    try:
        done = body(echo)
        echo.close()
        heading(done)
        return 0
    except (DemoError, TimeoutError, RuntimeError) as e:
        echo.close()
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        echo.close()
        print("\ndemo interrupted", file=sys.stderr)
        return 1
    finally:
        heading("cleaning up")
        cleanup()
        print(f"  {cleaned}")


def wait_server_ready(server: NsProcess, listeners: int) -> None:
    """ntm-server logs `AS/DC/RS listening on ...` (info level) once per bound address."""
    deadline = time.monotonic() + WAIT_S
    while True:
        text = "\n".join(server.err_lines)
        counts = [text.count(f"{role} listening on") for role in ("AS", "DC", "RS")]
        if min(counts) >= listeners:
            return
        if server.poll() is not None or time.monotonic() > deadline:
            raise DemoError("ntm-server did not start:\n" + server.output())
        time.sleep(0.05)


class Echo:
    """Prints each process's stdout lines as they come, prefixed with its label (display only)."""

    def __init__(self) -> None:
        self._procs: list[tuple[NsProcess, str]] = []
        self._printed: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, proc: NsProcess, lang: str) -> NsProcess:
        self._procs.append((proc, lang))
        return proc

    def _flush(self) -> None:
        for proc, lang in list(self._procs):
            lines = proc.lines
            done = self._printed.get(proc.pid, 0)
            for line in lines[done:]:
                print(f"{COLORS.get(lang, '')}[{proc.label}]{RESET} {line}", flush=True)
            self._printed[proc.pid] = len(lines)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._flush()


def run_chat(start: Callable[[str, str, str, list[str]], NsProcess], as_endpoints: dict,
             state: str, programs: Programs, echo: Echo, listen: Sequence[str] = ()) -> None:
    """The conversation: bob (Python) serves the chat; alice (Java, virtual IPv4) and carol (Ruby,
    virtual IPv6 by default) join by name, each says a line and waits for the other's.
    `start(node, lang, label, argv)` starts a program on a node; `as_endpoints[node]` is the AS
    address that node uses; `listen` the real addresses the nodes bind."""
    heading(f"bob.{DOMAIN}: the Python chat server (examples/python/chat_server.py)")
    bob = echo.add(start("bob", "python", f"python bob.{DOMAIN}",
                         programs.argv("python", "chat_server")
                         + node_options("bob", as_endpoints["bob"], state, listen)
                         + ["--port", str(CHAT_PORT), "--show-tunnels"]), "python")
    bob.wait_line("chat server", timeout=WAIT_S)

    heading(f"alice.{DOMAIN} (Java, virtual IPv4) and carol.{DOMAIN} (Ruby, virtual IPv6) "
            f"join bob.{DOMAIN}:{CHAT_PORT} by name")
    target = f"bob.{DOMAIN}:{CHAT_PORT}"
    alice = echo.add(start("alice", "java", f"java alice.{DOMAIN}",
                           programs.argv("java", "chat_client")
                           + node_options("alice", as_endpoints["alice"], state, listen)
                           + ["--connect", target, "--nick", "alice",
                              "--say", "hello from Java over virtual IPv4",
                              "--wait-for", "carol: hello from Ruby",
                              "--timeout", str(int(WAIT_S)), "--show-tunnels"]), "java")
    carol = echo.add(start("carol", "ruby", f"ruby carol.{DOMAIN}",
                           programs.argv("ruby", "chat_client")
                           + node_options("carol", as_endpoints["carol"], state, listen)
                           + ["--connect", target, "--nick", "carol", "-6",
                              "--say", "hello from Ruby over virtual IPv6",
                              "--wait-for", "alice: hello from Java",
                              "--timeout", str(int(WAIT_S)), "--show-tunnels"]), "ruby")
    for client in (alice, carol):
        rc = client.wait_exit(WAIT_S + 15)
        if rc != 0:
            raise DemoError(f"{client.label} failed (exit {rc}):\n{client.output()}")

    heading(f"stopping bob.{DOMAIN} (it prints its tunnel table on the way out)")
    bob.terminate()
    rc = bob.wait_exit(15)
    if rc != 0:
        raise DemoError(f"{bob.label} exited with {rc}:\n{bob.output()}")


def temp_state() -> str:
    state = tempfile.mkdtemp(prefix="ntm-demo-")
    os.makedirs(os.path.join(state, "nodes"))
    return state


def remove_state(state: str) -> None:
    shutil.rmtree(state, ignore_errors=True)
