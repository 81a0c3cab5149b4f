#!/usr/bin/env python3
"""A TCP transfer over a lossy, reordering path completes with the right bytes.

    python3 tests/lwip/lossy_transfer.py --build BUILD [--size BYTES] [--loss PCT] [--seed N]

Two static-peer nodes on loopback (ntm-file-sender and ntm-file-receiver, examples/c) whose
tunnel datagrams cross ntm-netem (bench/netem) with 5 ms of delay each way, --loss percent lost
in each direction and 2% held back 3 ms so that later datagrams overtake them. The sender's file
(random bytes) must arrive whole: the receiver's SHA-256 equals the sender's and the stored file
equals the original. The emulator's counters must show that datagrams were really lost and
reordered both ways. This exercises the patched lwIP's loss recovery (patches/lwip 0012, 0013)
end to end; no timing is asserted beyond a generous bound on the whole transfer.

Everything started is stopped by PID, also on failure. Exit status 0 on success, 1 on failure.
CTest: integration.lossy_transfer (tests/lwip/CMakeLists.txt).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "bench", "netem"))

from netem import Emulator  # noqa: E402

TRANSFER_TIMEOUT_S = 180.0  # 4 MiB at 1% loss takes a few seconds; sanitizer builds are slower
READY_TIMEOUT_S = 30.0
PORT = 7200


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keypair(build: str) -> tuple:
    out = subprocess.run([os.path.join(build, "examples", "c", "ntm-keygen")], check=True,
                         capture_output=True, text=True, timeout=30).stdout.split()
    return out[0], out[1]


def stop(p: subprocess.Popen) -> str:
    """Stops p (by its PID: SIGTERM, then SIGKILL) and returns what it printed."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
    return p.stdout.read() if p.stdout else ""


def wait_for_line(path: str, pattern: str, p: subprocess.Popen, timeout: float) -> str:
    """The first line of the file `path` (p's output) matching `pattern`, within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            for line in f:
                if re.search(pattern, line):
                    return line
        if p.poll() is not None:
            break
        time.sleep(0.05)
    with open(path) as f:
        raise RuntimeError(f"no line matching {pattern!r} (exit {p.poll()}):\n{f.read()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--size", type=int, default=4 << 20)
    ap.add_argument("--loss", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    o = ap.parse_args()
    build = os.path.abspath(o.build)
    examples = os.path.join(build, "examples", "c")
    recv_key, send_key = keypair(build), keypair(build)
    recv_port, send_port = free_udp_port(), free_udp_port()
    impairment = ["--delay", "5", "--loss", f"{o.loss:g}", "--reorder", "2", "--reorder-gap", "3",
                  "--seed", str(o.seed)]
    # Side A faces the sender, side B the receiver; both peers fixed (the nodes' ports).
    link = f"127.0.0.1:0,127.0.0.1:0,127.0.0.1:{send_port},127.0.0.1:{recv_port}"
    procs = []
    with tempfile.TemporaryDirectory(prefix="ntm-lossy-") as work, \
            Emulator(build, impairment, [link]) as emu:
        a_side, b_side = emu.sides[0]
        payload = os.urandom(o.size)
        source = os.path.join(work, "payload.bin")
        with open(source, "wb") as f:
            f.write(payload)
        digest = hashlib.sha256(payload).hexdigest()
        inbox = os.path.join(work, "inbox")
        os.mkdir(inbox)
        try:
            recv_log = os.path.join(work, "receiver.log")
            receiver = subprocess.Popen(
                [os.path.join(examples, "ntm-file-receiver"), "--name", "recv.lossy",
                 "--key", recv_key[0], "--vip4", "100.64.77.2",
                 "--listen", f"127.0.0.1:{recv_port}",
                 "--peer", f"send.lossy,{send_key[1]},{b_side},100.64.77.1,",
                 "--dir", inbox, "--port", str(PORT)],
                stdout=open(recv_log, "w"), stderr=subprocess.STDOUT, text=True)
            procs.append(receiver)
            wait_for_line(recv_log, rf"listening on port {PORT}\b", receiver, READY_TIMEOUT_S)
            send_log = os.path.join(work, "sender.log")
            sender = subprocess.Popen(
                [os.path.join(examples, "ntm-file-sender"), "--name", "send.lossy",
                 "--key", send_key[0], "--vip4", "100.64.77.1",
                 "--listen", f"127.0.0.1:{send_port}",
                 "--peer", f"recv.lossy,{recv_key[1]},{a_side},100.64.77.2,",
                 "--connect", f"recv.lossy:{PORT}", source, "--as", "lossy.bin"],
                stdout=open(send_log, "w"), stderr=subprocess.STDOUT, text=True)
            procs.append(sender)
            started = time.monotonic()
            try:
                code = sender.wait(timeout=TRANSFER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
            elapsed = time.monotonic() - started
            with open(send_log) as f:
                sent = f.read()
            if code != 0:
                print(f"FAIL: the sender ended with {code} after {elapsed:.1f} s:\n{sent}")
                return 1
            verified = rf"sha256 {digest} verified by the receiver"
            if not re.search(verified, sent):
                print(f"FAIL: the receiver did not confirm sha256 {digest}:\n{sent}")
                return 1
            with open(os.path.join(inbox, "lossy.bin"), "rb") as f:
                if f.read() != payload:
                    print("FAIL: the stored file differs from the one sent")
                    return 1
        finally:
            for p in procs:
                stop(p)
        stats = emu.stop() or {}
    dirs = [d for link_stats in stats.get("links", []) for d in (link_stats["a2b"],
                                                                  link_stats["b2a"])]
    lost = [d["lost_random"] for d in dirs]
    held = [d["held_back"] for d in dirs]
    if len(dirs) != 2 or min(lost) == 0 or min(held) == 0:
        print(f"FAIL: the path did not lose and reorder both ways (lost {lost}, held back {held})")
        return 1
    print(f"OK: {o.size} bytes in {elapsed:.1f} s through {o.loss:g}% loss and 2% reordering "
          f"(datagrams lost {lost}, held back {held}), sha256 verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
