"""The Python implementation of the interop suite's node (tests/interop/README.md).

    python3 interop_node.py server|client --server HOST:PORT --server-cert PEM --account NAME
        --password PW [--state DIR] [--port 7000] [--log LEVEL]
        client only: --peer FQDN [--bytes 8388608] [--family 4|6|both] [--udp-count 5]
        [--rate-mbps R]

This file parses the command line, starts the node in control-plane mode (package ntmobile) and
hands over to interop_server / interop_client. Exit status: 0 success, 1 failure, 2 bad
arguments (argparse's message on stderr).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading

import ntmobile
from interop_http import http_request, start_http_server
from interop_client import ClientOptions, run_client  # this file's folder is on sys.path
from interop_protocol import DEADLINE_S, Deadline, warn
from interop_server import run_server

CLIENT_DEFAULTS = {"peer": None, "bytes": 8388608, "family": "both", "udp_count": 5,
                   "rate_mbps": 0.0}


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 1-65535, not {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="interop_node.py",
                                     description="the interop node (tests/interop/README.md)")
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--server", required=True, metavar="HOST:PORT", help="the Account Server")
    parser.add_argument("--server-cert", required=True, metavar="PEM_FILE",
                        help="the AS certificate to pin")
    parser.add_argument("--account", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--state", metavar="DIR", help="where the node keeps its key")
    parser.add_argument("--listen", action="append", default=[], metavar="HOST:PORT",
                        help="real UDP address to bind (repeat per family: 127.0.0.1:0, [::1]:0);"
                        " once given, families not listed are off")
    parser.add_argument("--port", type=_port, default=7000)
    parser.add_argument("--log", choices=["off", "error", "warn", "info", "debug"], default="warn")
    parser.add_argument("--http-port", type=_port, default=None,
                        help="server: also serve HTTP there; client: then GET from the peer there")
    client = parser.add_argument_group("client only")
    client.add_argument("--peer", metavar="FQDN", help="the server node to test")
    client.add_argument("--bytes", type=_count)
    client.add_argument("--family", choices=["4", "6", "both"])
    client.add_argument("--udp-count", type=_count)
    client.add_argument("--rate-mbps", type=_rate, metavar="R")
    args = parser.parse_args(argv)
    given = [name for name in CLIENT_DEFAULTS if getattr(args, name) is not None]
    if args.role == "server" and given:
        parser.error("--peer, --bytes, --family, --udp-count and --rate-mbps are client options")
    if args.role == "client" and args.peer is None:
        parser.error("client needs --peer FQDN")
    for name, default in CLIENT_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def client_options(args: argparse.Namespace) -> ClientOptions:
    families = {"4": (socket.AF_INET,), "6": (socket.AF_INET6,),
                "both": (socket.AF_INET, socket.AF_INET6)}[args.family]
    return ClientOptions(peer=args.peer, port=args.port, bytes=args.bytes, families=families,
                         udp_count=args.udp_count, rate_mbps=args.rate_mbps)


def watch_for_stop() -> threading.Event:
    """An event set by SIGTERM, SIGINT or the end of stdin (the server's stop conditions)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def read_to_end() -> None:
        # os.read on the descriptor, not sys.stdin: a daemon thread blocked inside the buffered
        # reader would hold its lock at interpreter shutdown (a fatal error).
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=read_to_end, daemon=True).start()
    return stop


def main(argv: list[str]) -> int:
    deadline = Deadline(DEADLINE_S)
    args = parse_arguments(argv)
    stop = watch_for_stop() if args.role == "server" else None
    listen4 = listen6 = None
    if args.listen:  # as examples/python/node_args.py: "" turns a family off
        listen4 = next((a for a in args.listen if not a.startswith("[")), "")
        listen6 = next((a for a in args.listen if a.startswith("[")), "")
    node = ntmobile.Node(server=args.server, server_certificate=args.server_cert,
                         account=args.account, password=args.password, state_dir=args.state,
                         listen_ipv4=listen4, listen_ipv6=listen6,
                         log_level=ntmobile.LogLevel[args.log.upper()])
    try:
        node.start()
    except (ntmobile.NTMError, OSError) as error:
        warn(f"cannot start the node as account '{args.account}' at {args.server}: "
             f"{type(error).__name__}: {error}")
        return 1
    try:
        info = node.info()
        warn(f"node {info.name} up (virtual {info.virtual_ipv4} {info.virtual_ipv6})")
        if stop is not None:
            if args.http_port:
                start_http_server(args.http_port)
            return run_server(args.port, node, stop)
        status = run_client(client_options(args), node, deadline)
        if status == 0 and args.http_port and not http_request(args.peer, args.http_port):
            return 1
        return status
    finally:
        if node.running:
            node.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
