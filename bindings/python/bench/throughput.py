"""Throughput of ntmobile sockets next to plain kernel sockets over loopback, in the same run.

    python bindings/python/bench/throughput.py [--mib 256] [--pings 2000] [--cipher aes|chacha]

It starts a second process (this script with --serve) running the receiving node, which serves
on its virtual address and, for comparison, on 127.0.0.1 with kernel TCP. Both measurements
use the same Python code: sendall() of 256 KiB blocks into a server that counts and discards
them (throughput), and 64-byte request/response round trips (latency). The tunnel itself runs
over loopback UDP, so the numbers show the cost of the virtual stack, the encryption and the
descriptor bridge relative to the kernel's loopback TCP.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import threading
import time

import ntmobile

SERVER_NAME, CLIENT_NAME = "bench-server.example", "bench-client.example"
SERVER_V4, CLIENT_V4 = "100.64.9.2", "100.64.9.1"
SINK_PORT, ECHO_PORT = 5001, 5002
BLOCK = 256 * 1024


# ---- server side (the --serve process) ----------------------------------------------------

def sink(conn: socket.socket) -> None:
    with conn:
        total = 0
        buffer = bytearray(BLOCK)
        while n := conn.recv_into(buffer):
            total += n
        conn.sendall(str(total).encode())


def echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def serve_forever(server: socket.socket, handler) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    node = ntmobile.start(
        SERVER_NAME, args.key, virtual_ipv4=SERVER_V4, listen_ipv4="127.0.0.1:0", listen_ipv6="",
        peers=[ntmobile.Peer(CLIENT_NAME, args.peer_key, None, CLIENT_V4)],
    )
    servers = {
        "ntm_sink": ntmobile.create_server(("", SINK_PORT)),
        "ntm_echo": ntmobile.create_server(("", ECHO_PORT)),
        "kernel_sink": socket.create_server(("127.0.0.1", 0)),
        "kernel_echo": socket.create_server(("127.0.0.1", 0)),
    }
    for name, server in servers.items():
        handler = sink if name.endswith("sink") else echo
        threading.Thread(target=serve_forever, args=(server, handler), daemon=True).start()
    ready = {
        "endpoint": node.info().endpoint_ipv4,
        "kernel_sink": servers["kernel_sink"].getsockname()[1],
        "kernel_echo": servers["kernel_echo"].getsockname()[1],
    }
    print("READY " + json.dumps(ready), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    for server in servers.values():
        server.close()
    node.stop()
    return 0


# ---- client side ----------------------------------------------------------------------------

def measure_throughput(connect, total: int) -> float:
    block = bytes(BLOCK)
    with connect() as sock:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            sock.sendall(block)
            sent += len(block)
        sock.shutdown(socket.SHUT_WR)
        received = int(sock.recv(64))  # the server's count, sent once it has read everything
        elapsed = time.perf_counter() - start
    assert received == sent, (received, sent)
    return sent / elapsed


def measure_rtt(connect, pings: int) -> float:
    message = b"x" * 64
    samples = []
    with connect() as sock:
        for _ in range(pings):
            start = time.perf_counter()
            sock.sendall(message)
            got = 0
            while got < len(message):
                got += len(sock.recv(64))
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB sent per throughput run")
    parser.add_argument("--pings", type=int, default=2000, help="round trips for the latency run")
    parser.add_argument("--cipher", choices=["aes", "chacha"], default="aes")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--peer-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    server_keys, client_keys = ntmobile.generate_keypair(), ntmobile.generate_keypair()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--key", server_keys.private_key,
         "--peer-key", client_keys.public_key],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit("the server process did not start")
        ready = json.loads(line[len("READY "):])
        cipher = ntmobile.Cipher.CHACHA20_POLY1305 if args.cipher == "chacha" else ntmobile.Cipher.AES_256_GCM
        with ntmobile.Node(
            CLIENT_NAME, client_keys.private_key, virtual_ipv4=CLIENT_V4,
            listen_ipv4="127.0.0.1:0", listen_ipv6="", cipher=cipher,
            peers=[ntmobile.Peer(SERVER_NAME, server_keys.public_key, ready["endpoint"], SERVER_V4)],
        ):
            total = args.mib << 20
            runs = {
                "ntmobile (virtual IPv4)": (
                    lambda: ntmobile.create_connection((SERVER_V4, SINK_PORT), timeout=60),
                    lambda: ntmobile.create_connection((SERVER_V4, ECHO_PORT), timeout=60),
                ),
                "kernel TCP (127.0.0.1)": (
                    lambda: socket.create_connection(("127.0.0.1", ready["kernel_sink"]), timeout=60),
                    lambda: socket.create_connection(("127.0.0.1", ready["kernel_echo"]), timeout=60),
                ),
            }
            measure_throughput(runs["ntmobile (virtual IPv4)"][0], 8 << 20)  # tunnel up, warm
            print(f"ntmobile {ntmobile.version()} Python socket benchmark: {args.mib} MiB per "
                  f"throughput run, {args.pings} x 64-byte round trips, cipher {args.cipher}")
            print(f"{'':26}{'throughput':>14}{'':>12}{'median RTT':>12}")
            results = {}
            for name, (sink_connect, echo_connect) in runs.items():
                rate = measure_throughput(sink_connect, total)
                rtt = measure_rtt(echo_connect, args.pings)
                results[name] = (rate, rtt)
                print(f"{name:26}{rate / 2**20:10.1f} MiB/s{rate * 8 / 1e9:8.2f} Gb/s{rtt * 1e6:9.0f} us")
            ntm_rate, ntm_rtt = results["ntmobile (virtual IPv4)"]
            k_rate, k_rtt = results["kernel TCP (127.0.0.1)"]
            print(f"{'ntmobile / kernel':26}{ntm_rate / k_rate:10.2f} x{'':>17}{ntm_rtt / k_rtt:7.1f} x")
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
