"""Drives ntm-netem and ntm-netem-probe from Python (tests, bench/wan.py, pps.py).

    with Emulator(build, ["--delay", "10"], links=["127.0.0.1:0,127.0.0.1:0"]) as emu:
        a, b = emu.sides[0]                      # the addresses actually bound
        result = probe(build, a, b, "--count", "1000", "--pps", "1000")
    emu.stats                                    # the final counters (dict), after exit

An emulator runs inside a namespace when `netns` is given (ip netns exec). Every process is
stopped by its PID (SIGINT, then SIGKILL after a bound); nothing else is touched.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from typing import Optional, Sequence

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def binary(build: str, name: str) -> str:
    path = os.path.join(build, "bench", "netem", name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path} not built (cmake --build {build} --target {name})")
    return path


def _ns_prefix(netns: Optional[str]) -> list:
    return ["ip", "netns", "exec", netns] if netns else []


class _Lines:
    """Collects a process's stdout lines on a thread, so waiting for one can be bounded."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        self.lines.put(None)

    def wait(self, prefix: str, timeout: float) -> str:
        """The next line starting with `prefix`; raises if none comes within `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            else:
                if line is None:
                    self.lines.put(None)  # the end stays visible to later waits
            if line is None:
                raise RuntimeError(f"no '{prefix}' line from {' '.join(self.proc.args)} "
                                   f"within {timeout} s; got {self.seen[-5:]}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line


class Emulator:
    """ntm-netem with the given impairment arguments and links (see `ntm-netem --help`)."""

    def __init__(self, build: str, args: Sequence[str], links: Sequence[str],
                 netns: Optional[str] = None):
        self.argv = _ns_prefix(netns) + [binary(build, "ntm-netem"), *args]
        for link in links:
            self.argv += ["--link", link]
        self.nlinks = len(links)
        self.proc: Optional[subprocess.Popen] = None
        self.sides: list = []
        self.stats: Optional[dict] = None
        self.stderr = ""

    def __enter__(self) -> "Emulator":
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self._out = _Lines(self.proc)
        try:
            for _ in range(self.nlinks):
                fields = dict(p.split("=", 1) for p in self._out.wait("ready", READY_TIMEOUT_S)
                              .split()[1:])
                self.sides.append((fields["a"], fields["b"]))
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}\nstderr: {self.stderr.strip()}") from None
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def snapshot(self) -> dict:
        """The counters now (SIGUSR1), without stopping."""
        self.proc.send_signal(signal.SIGUSR1)
        return json.loads(self._out.wait("stats", STOP_TIMEOUT_S)[6:])

    def stop(self) -> Optional[dict]:
        """SIGINT, then the final counters (also kept in self.stats); SIGKILL if it hangs."""
        p = self.proc
        if p is None or self.stats is not None:
            return self.stats
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                line = self._out.wait("stats", STOP_TIMEOUT_S)
                self.stats = json.loads(line[6:])
            except RuntimeError:
                pass
            try:
                p.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=STOP_TIMEOUT_S)
        self.stderr = p.stderr.read()
        p.stderr.close()
        return self.stats


def probe(build: str, via: str, back: str, *args: str, netns: Optional[str] = None,
          timeout: float = 60.0) -> dict:
    """Runs ntm-netem-probe through a link (side A = via, side B = back); its result dict."""
    argv = _ns_prefix(netns) + [binary(build, "ntm-netem-probe"), "--via", via, "--back", back,
                                *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in r.stdout.splitlines() if l.startswith("result ")]
    if r.returncode != 0 or not lines:
        raise RuntimeError(f"probe failed (rc={r.returncode}): {r.stderr.strip()}")
    return json.loads(lines[-1][7:])
