"""A node that connects to a peer by name, sends a message (or each line of stdin) and prints
the echo.

    python examples/python/echo_client.py --name alice.example --key "$ALICE_PRIV" \
        --vip4 100.64.0.1 --vip6 fd00:6e74:6d::1 --listen 127.0.0.1:0 \
        --peer "bob.example,$BOB_PUB,127.0.0.1:47001,100.64.0.2,fd00:6e74:6d::2" \
        --connect bob.example:7000 "hello over virtual IPv4"

Add -6 to go over virtual IPv6, --show-tunnels to print the tunnel table at the end. The
socket is a plain ``socket.socket`` (ntmobile.NTMSocket): ``makefile`` gives the line reader.
"""

from __future__ import annotations

import argparse
import sys

from example_net import connect, start_node
from node_args import add_node_arguments, check_arguments


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile TCP echo client")
    add_node_arguments(parser)
    parser.add_argument("--connect", required=True, metavar="NAME:PORT", help="the echo server")
    parser.add_argument("-6", dest="ipv6", action="store_true", help="use virtual IPv6")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    parser.add_argument("--show-tunnels", action="store_true", help="print the tunnel table at the end")
    parser.add_argument("message", nargs="?", help="what to send; without it, each line of stdin")
    args = parser.parse_args()
    check_arguments(parser, args)
    port = args.connect.rpartition(":")[2]

    node = start_node(args)
    if node is None:
        return 1
    with node:
        try:
            sock = connect(args.connect, args.ipv6, args.timeout)  # NAME resolved through the node
        except OSError as e:  # socket.gaierror, ConnectionRefusedError, TimeoutError ...
            print(f"cannot connect to {args.connect}: {e}", file=sys.stderr)
            return 1
        with sock, sock.makefile("rw", encoding="utf-8", newline="\n") as stream:
            print(f"connected {sock.getsockname()[0]} -> {sock.getpeername()[0]} port {port}", file=sys.stderr)
            lines = [args.message] if args.message is not None else (line.rstrip("\n") for line in sys.stdin)
            for line in lines:
                stream.write(line + "\n")
                stream.flush()
                print(stream.readline(), end="", flush=True)
        if args.show_tunnels:
            for t in node.tunnels():
                print(f"tunnel {t.peer_name} {t.state.name} {t.path.name} {t.endpoint} "
                      f"sent={t.bytes_sent} received={t.bytes_received}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
