"""A node that echoes every TCP connection on its virtual addresses until Ctrl-C / SIGTERM.

    python examples/python/echo_server.py --name bob.example --key "$BOB_PRIV" \
        --vip4 100.64.0.2 --vip6 fd00:6e74:6d::2 --listen 127.0.0.1:47001 \
        --peer "alice.example,$ALICE_PUB,,100.64.0.1,fd00:6e74:6d::1" --port 7000

The listeners are ordinary ``socket.socket`` objects (ntmobile.NTMSocket): this is the usual
thread-per-connection server, with ntmobile.create_server instead of socket.create_server.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

import ntmobile
from node_args import add_node_arguments, check_arguments, node_from_arguments


def echo(conn: socket.socket, peer: tuple) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
    print(f"closed {peer[0]}:{peer[1]}", flush=True)


def serve(server: socket.socket) -> None:
    while True:
        try:
            conn, peer = server.accept()
        except OSError:  # the listener closed: shutting down
            return
        print(f"connection from {peer[0]}:{peer[1]}", flush=True)
        threading.Thread(target=echo, args=(conn, peer), daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile TCP echo server")
    add_node_arguments(parser)
    parser.add_argument("--port", type=int, default=7000, help="virtual TCP port to serve")
    args = parser.parse_args()
    check_arguments(parser, args)

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        node = node_from_arguments(args).start()
    except (ntmobile.NTMError, OSError) as e:
        print(f"cannot start the node: {e}", file=sys.stderr)
        return 1
    with node:
        info = node.info()
        servers = []
        for family, address in ((socket.AF_INET, info.virtual_ipv4), (socket.AF_INET6, info.virtual_ipv6)):
            if address:
                servers.append(ntmobile.create_server(("", args.port), family=family))
                print(f"echoing on {address} port {args.port}", flush=True)
        for server in servers:
            threading.Thread(target=serve, args=(server,), daemon=True).start()
        print(f"node {info.name} up; real UDP endpoint {info.endpoint_ipv4 or info.endpoint_ipv6}", flush=True)
        stop.wait()
        for server in servers:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
