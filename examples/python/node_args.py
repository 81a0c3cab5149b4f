"""The node options every example takes (the same flags as the C examples' node_args.c)."""

from __future__ import annotations

import argparse

import ntmobile


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    node = parser.add_argument_group("node")
    node.add_argument("--name", required=True, help="this node's name, e.g. alice.example")
    node.add_argument("--key", required=True, help="this node's private key (ntmobile.generate_keypair)")
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
    )
