"""The Python client of bench/bindings.py: bulk TCP to the C server's sink, then UDP round trips
to its echo, through ntmobile's Python binding. Prints one RESULT line (see bench/bindings.py)."""

from __future__ import annotations

import argparse
import socket
import statistics
import struct
import time

import ntmobile

SERVER_V4, CLIENT_V4 = "100.64.0.2", "100.64.0.1"
TCP_PORT, UDP_PORT = 5201, 5202
WRITE = 1 << 20


def tcp_mibps(total: int) -> float:
    with ntmobile.create_connection((SERVER_V4, TCP_PORT), timeout=30) as sock:
        block = memoryview(b"x" * WRITE)
        started = time.perf_counter()
        sent = 0
        while sent < total:
            n = min(WRITE, total - sent)
            sock.sendall(block[:n])
            sent += n
        sock.shutdown(socket.SHUT_WR)
        count = b""
        while len(count) < 8:  # the sink's byte count, once it has read everything
            chunk = sock.recv(8 - len(count))
            if not chunk:
                raise RuntimeError("the sink closed before sending its count")
            count += chunk
        elapsed = time.perf_counter() - started
    received = struct.unpack("=Q", count)[0]
    if received != total:
        raise RuntimeError(f"sent {total} bytes, the sink counted {received}")
    return total / elapsed / (1 << 20)


def udp_rtts(count: int, warmup: int, size: int, bridged: bool) -> tuple[list[float], int]:
    payload = b"p" * size
    samples: list[float] = []
    lost = 0
    with ntmobile.NTMDatagramSocket() as udp:
        udp.connect((SERVER_V4, UDP_PORT))
        if bridged:
            udp.fileno()  # receives now come through the datagram bridge
        udp.settimeout(1.0)
        for i in range(warmup + count):
            started = time.perf_counter()
            udp.send(payload)
            try:
                while udp.recv(65536) != payload:
                    pass
            except socket.timeout:
                lost += 1
                continue
            if i >= warmup:
                samples.append((time.perf_counter() - started) * 1e6)
        udp.send(b"Q")
    return samples, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--key", required=True)
    parser.add_argument("--server-key", required=True, help="the server's public key")
    parser.add_argument("--endpoint", required=True, help="the server's real UDP endpoint")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rtts", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--udp-bridge", action="store_true", help="receive UDP through fileno()")
    args = parser.parse_args()
    peer = ntmobile.Peer("bench-server.test", args.server_key, args.endpoint, virtual_ipv4=SERVER_V4)
    with ntmobile.Node("bench-client.test", args.key, virtual_ipv4=CLIENT_V4,
                       listen_ipv4="127.0.0.1:0", listen_ipv6="", peers=[peer]):
        mibps = tcp_mibps(args.mib << 20)
        samples, lost = udp_rtts(args.rtts, args.warmup, args.size, args.udp_bridge)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] if samples else float("nan")
    median = statistics.median(samples) if samples else float("nan")
    print(f"RESULT tcp_mibps={mibps:.1f} udp_median_us={median:.1f} udp_p99_us={p99:.1f} "
          f"udp_lost={lost}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
