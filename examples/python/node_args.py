"""The node options every example takes (the same flags as the C examples' node_args.c)."""

from __future__ import annotations

import argparse

import ntmobile


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    node = parser.add_argument_group("node")
    node.add_argument("--name", help="this node's name, e.g. alice.example (static-peer mode)")
    node.add_argument("--key", help="this node's private key (ntmobile.generate_keypair)")
    node.add_argument("--vip4", help="this node's virtual IPv4 address")
    node.add_argument("--vip6", help="this node's virtual IPv6 address")
    node.add_argument(
        "--listen", action="append", default=[], metavar="HOST:PORT",
        help="real UDP address to bind (repeat for IPv4 and IPv6, e.g. [::1]:0); once given, "
        "families not listed are off",
    )
    node.add_argument(
        "--peer", action="append", default=[], metavar="NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6",
        help="a static peer (repeatable); ENDPOINT may be empty when only the peer starts tunnels",
    )
    node.add_argument("--cipher", choices=["aes", "chacha"], default="aes")
    node.add_argument("--log", choices=["off", "error", "warn", "info", "debug"], default="warn")
    node.add_argument("--mtu", type=int, default=0, help="virtual MTU (default 1420)")
    plane = parser.add_argument_group("control-plane mode (instead of --name and virtual addresses)")
    plane.add_argument("--server", metavar="HOST:PORT", help="the Account Server")
    plane.add_argument("--server-cert", metavar="PEM", help="the AS's certificate (file or PEM text)")
    plane.add_argument("--account", help="account name at the AS")
    plane.add_argument("--password", help="the account's password or enrollment token")
    plane.add_argument("--state", metavar="DIR", help="where the node keeps its key across restarts")
    plane.add_argument("--direct-timeout", type=int, default=0, metavar="MS",
                       help="hole punching time before relaying (default 1000)")


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.server:
        if not (args.server_cert and args.account):
            parser.error("--server needs --server-cert and --account")
    elif not (args.name and args.key and (args.vip4 or args.vip6)):
        parser.error("static-peer mode needs --name, --key and --vip4 and/or --vip6")


def parse_peer(spec: str) -> ntmobile.Peer:
    parts = spec.split(",")
    if len(parts) != 5:
        raise argparse.ArgumentTypeError(f"--peer wants NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6, got {spec!r}")
    name, public_key, endpoint, vip4, vip6 = parts
    return ntmobile.Peer(name, public_key, endpoint or None, vip4 or None, vip6 or None)


def node_from_arguments(args: argparse.Namespace) -> ntmobile.Node:
    listen4 = listen6 = None
    if args.listen:
        listen4 = next((a for a in args.listen if not a.startswith("[")), "")
        listen6 = next((a for a in args.listen if a.startswith("[")), "")
    return ntmobile.Node(
        args.name,
        args.key,
        virtual_ipv4=args.vip4,
        virtual_ipv6=args.vip6,
        listen_ipv4=listen4,
        listen_ipv6=listen6,
        peers=[parse_peer(p) for p in args.peer],
        cipher=ntmobile.Cipher.CHACHA20_POLY1305 if args.cipher == "chacha" else ntmobile.Cipher.AES_256_GCM,
        log_level=ntmobile.LogLevel[args.log.upper()],
        mtu=args.mtu,
        server=args.server,
        server_certificate=args.server_cert,
        account=args.account,
        password=args.password,
        state_dir=args.state,
        direct_timeout_ms=args.direct_timeout,
    )
