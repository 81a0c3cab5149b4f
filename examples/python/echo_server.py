"""A node that echoes every TCP connection on its virtual addresses until Ctrl-C / SIGTERM.

    python examples/python/echo_server.py --name bob.example --key "$BOB_PRIV" \
        --vip4 100.64.0.2 --vip6 fd00:6e74:6d::2 --listen 127.0.0.1:47001 \
        --peer "alice.example,$ALICE_PUB,,100.64.0.1,fd00:6e74:6d::1" --port 7000

The listeners are ordinary ``socket.socket`` objects (ntmobile.NTMSocket): this is the usual
thread-per-connection server, with ntmobile.create_server instead of socket.create_server.
"""

from __future__ import annotations

import argparse
import socket
import sys

from example_net import listen_all, serve_in_threads, start_node, stop_event
from node_args import add_node_arguments, check_arguments


def echo(conn: socket.socket, peer: tuple) -> None:
    print(f"connection from {peer[0]}:{peer[1]}", flush=True)
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
    print(f"closed {peer[0]}:{peer[1]}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile TCP echo server")
    add_node_arguments(parser)
    parser.add_argument("--port", type=int, default=7000, help="virtual TCP port to serve")
    args = parser.parse_args()
    check_arguments(parser, args)

    stop = stop_event()
    node = start_node(args)
    if node is None:
        return 1
    with node:
        info = node.info()
        servers = listen_all(args.port)  # ntmobile.create_server on each virtual family
        for address in (info.virtual_ipv4, info.virtual_ipv6):
            if address:
                print(f"echoing on {address} port {args.port}", flush=True)
        serve_in_threads(servers, echo)
        print(f"node {info.name} up; real UDP endpoint {info.endpoint_ipv4 or info.endpoint_ipv6}", flush=True)
        stop.wait()
        for server in servers:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
