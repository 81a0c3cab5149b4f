#!/usr/bin/env python3
"""Throughput of unmodified programs through `ntm` next to the SDK's own TCP figure, measured in
the same run on loopback:

  SDK TCP        ntm-bench (two SDK processes, virtual stack to virtual stack)   = the baseline
  ntm forward    kernel client -> ntm up (forward) -> tunnel -> ntm up (expose) -> kernel sink
  ntm SOCKS5     kernel client -> SOCKS5 CONNECT bob.example -> tunnel -> expose -> kernel sink
  kernel         kernel client -> kernel sink (what the machine's loopback does; for scale)

One TCP stream per measurement, 1 MiB writes for --seconds; the sink counts what it received
and reports it after the client's end of stream, so the figure is delivered data. Goal: forward
and SOCKS5 >= 70% of the SDK figure.

    python3 bench/cli_forward.py [--build build] [--seconds 5]

Static-peer mode, loopback only; every process is started and stopped here (by PID).
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

CHUNK = 1 << 20


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A kernel TCP server: reads each connection to its end, answers with the byte count."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        buf = bytearray(CHUNK)
        total = 0
        with conn:
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                total += n
            conn.sendall(struct.pack(">Q", total))


def stream(sock: socket.socket, seconds: float) -> float:
    """Sends for `seconds`, half-closes, waits for the sink's count; returns Gb/s delivered."""
    data = memoryview(os.urandom(CHUNK))
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    got = b""
    while len(got) < 8:
        d = sock.recv(8 - len(got))
        if not d:
            raise RuntimeError("the sink closed without a count")
        got += d
    elapsed = time.monotonic() - start
    return struct.unpack(">Q", got)[0] * 8 / elapsed / 1e9


def socks5_connect(proxy_port: int, host: str, port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack(">H", port))
    reply = s.recv(10)
    if reply[1] != 0:
        raise RuntimeError(f"SOCKS5 CONNECT refused: code {reply[1]}")
    s.settimeout(None)
    return s


def sdk_figure(build: str, seconds: float) -> float:
    r = subprocess.run([os.path.join(build, "bench", "ntm-bench"), "run", "--only", "ntm",
                        "--seconds", str(seconds), "--rtts", "200", "--warmup", "50"],
                       capture_output=True, text=True, timeout=seconds + 180)
    m = re.search(r"^TCP, 1 stream\s+([0-9.]+) Gb/s", r.stdout, re.M)  # ntm-bench's table row
    if r.returncode != 0 or not m:
        raise RuntimeError("ntm-bench failed:\n" + r.stdout + r.stderr)
    return float(m.group(1))


def wait_for(path: str, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("NTM_BUILD_DIR", "build"))
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    ntm = os.path.join(args.build, "cli", "ntm")
    keys = []
    for _ in range(2):
        out = subprocess.run([ntm, "keygen"], capture_output=True, text=True, check=True).stdout
        keys.append(out.split()[1::2])
    (a_priv, a_pub), (b_priv, b_pub) = keys
    sink = Sink()
    a_udp, b_udp, fwd, socks = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM), \
        free_port(), free_port()
    procs: list[subprocess.Popen] = []
    results: dict[str, float] = {}
    sdk_before = sdk_figure(args.build, args.seconds)
    try:
        with tempfile.TemporaryDirectory(prefix="ntm-bench-cli-") as tmp:
            confs = {
                "bob": f"name = bob.bench\nkey = {b_priv}\nvip4 = 100.64.0.2\n"
                       f"listen = 127.0.0.1:{b_udp}\ncontrol-socket = {tmp}/bob.sock\n"
                       f"peer = alice.bench,{a_pub},127.0.0.1:{a_udp},100.64.0.1,\n"
                       f"expose 5201 -> 127.0.0.1:{sink.port}\n",
                "alice": f"name = alice.bench\nkey = {a_priv}\nvip4 = 100.64.0.1\n"
                         f"listen = 127.0.0.1:{a_udp}\ncontrol-socket = {tmp}/alice.sock\n"
                         f"peer = bob.bench,{b_pub},127.0.0.1:{b_udp},100.64.0.2,\n"
                         f"forward 127.0.0.1:{fwd} -> bob.bench:5201\n"
                         f"socks5 = 127.0.0.1:{socks}\n"}
            for name in ("bob", "alice"):
                path = os.path.join(tmp, name + ".conf")
                with open(path, "w") as f:
                    f.write(confs[name])
                p = subprocess.Popen([ntm, "up", "-c", path, "--log-level", "warn"])
                procs.append(p)
                wait_for(os.path.join(tmp, name + ".sock"), p, f"ntm up ({name})")
            # Warm-up: the tunnel's handshake is not part of the figure.
            with socket.create_connection(("127.0.0.1", fwd), timeout=30) as s:
                stream(s, 0.2)
            with socket.create_connection(("127.0.0.1", fwd), timeout=30) as s:
                results["ntm forward"] = stream(s, args.seconds)
            with socks5_connect(socks, "bob.bench", 5201) as s:
                results["ntm SOCKS5"] = stream(s, args.seconds)
            with socket.create_connection(("127.0.0.1", sink.port), timeout=30) as s:
                results["kernel"] = stream(s, args.seconds)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    # The SDK figure before and after the ntm runs; the higher one is the baseline (the machine
    # may be shared: this keeps the ratio conservative).
    sdk_runs = [sdk_before, sdk_figure(args.build, args.seconds)]
    sdk = max(sdk_runs)
    print(f"cli_forward: one TCP stream, {args.seconds:g} s each, on {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'path':<14} {'throughput':>12} {'of SDK':>8}")
    print(f"{'SDK TCP':<14} {sdk:>7.2f} Gb/s {'100%':>8}  (best of {sdk_runs[0]:.2f} before, "
          f"{sdk_runs[1]:.2f} after)")
    ok = True
    for name in ("ntm forward", "ntm SOCKS5"):
        ratio = results[name] / sdk if sdk > 0 else 0
        ok = ok and ratio >= 0.70
        print(f"{name:<14} {results[name]:>7.2f} Gb/s {ratio:>7.0%}")
    print(f"{'kernel':<14} {results['kernel']:>7.2f} Gb/s  (loopback, for scale)")
    print(f"goal: forward and SOCKS5 >= 70% of the SDK figure: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
