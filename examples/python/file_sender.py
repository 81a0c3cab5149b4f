"""Sends one file to a file receiver (any language's) by node name.

    python examples/python/file_sender.py NODE-OPTIONS --connect NAME:PORT [-6] FILE \\
        [--as NAME] [--show-tunnels]

It sends "PUT <name> <size>" (name: FILE's base name or --as NAME), then the file in 64 KiB
chunks - never the whole file in memory - hashing it (SHA-256) on the way, and compares the
receiver's "OK <sha256>" answer with its own digest. Exit 0 when they match, 1 on a mismatch, an
ERROR answer or a network failure (message on stderr), 2 on bad arguments (e.g. FILE missing).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import select
import socket
import sys
import time

from example_net import LineReader, LineTooLong, connect, print_tunnels, start_node, target
from node_args import add_node_arguments, check_arguments

CONNECT_TIMEOUT = 30.0
ANSWER_TIMEOUT = 60.0  # how long the receiver may take to answer once everything is sent


class TransferFailed(Exception):
    """The transfer failed; the message says why."""


def answer_waiting(sock: socket.socket) -> bool:
    """True once the receiver said something while we are still sending (an early ERROR)."""
    return bool(select.select([sock], [], [], 0)[0])


def send_file(sock: socket.socket, file, name: str, size: int) -> tuple[str, bool]:
    """Sends the request and the file; returns (hex digest, whether all of it was sent)."""
    digest = hashlib.sha256()
    try:
        sock.sendall(f"PUT {name} {size}\n".encode())
        while chunk := file.read(65536):
            digest.update(chunk)
            if answer_waiting(sock):
                return digest.hexdigest(), False
            sock.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        return digest.hexdigest(), False  # the receiver hung up: its answer may say why
    return digest.hexdigest(), True


def check_answer(sock: socket.socket, name: str, digest: str, complete: bool) -> None:
    sock.settimeout(ANSWER_TIMEOUT)
    try:
        answer = LineReader(sock.recv).next()
    except (OSError, LineTooLong) as e:
        raise TransferFailed(f"no answer from the receiver: {e or 'a line too long'}") from None
    if answer is None:
        raise TransferFailed("no answer from the receiver: the connection closed")
    if not answer.startswith("OK "):
        raise TransferFailed(f"the receiver refused {name}: {answer}")
    if not complete:
        raise TransferFailed(f"the receiver answered {answer!r} before the whole file was sent")
    if answer[3:] != digest:
        raise TransferFailed(f"SHA-256 mismatch for {name}: sent {digest}, the receiver got {answer[3:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile file sender")
    add_node_arguments(parser)
    parser.add_argument("--connect", required=True, type=target, metavar="NAME:PORT", help="the file receiver")
    parser.add_argument("-6", dest="ipv6", action="store_true", help="use virtual IPv6")
    parser.add_argument("--as", dest="store_as", metavar="NAME", help="the name to store the file under")
    parser.add_argument("--show-tunnels", action="store_true", help="print the tunnel table before exiting")
    parser.add_argument("file", metavar="FILE", help="the file to send")
    args = parser.parse_args()
    check_arguments(parser, args)
    if not os.path.isfile(args.file):
        parser.error(f"cannot send {args.file}: not a readable regular file")
    name = args.store_as if args.store_as is not None else os.path.basename(args.file)
    # The receiver judges the name; only what would break the one-line request is refused here.
    if not name or "\n" in name:
        parser.error("the file name to send must be one non-empty line")

    node = start_node(args, "file_sender.py")
    if node is None:
        return 1
    status = 1
    with node, open(args.file, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        started = time.monotonic()
        try:
            with connect(args.connect, args.ipv6, CONNECT_TIMEOUT) as sock:
                sock.settimeout(None)
                digest, complete = send_file(sock, file, name, size)
                check_answer(sock, name, digest, complete)
            seconds = time.monotonic() - started
            print(f"sent {name} {size} bytes in {seconds:.2f}s ({size / 1e6 / max(seconds, 1e-9):.1f} MB/s), "
                  f"sha256 {digest} verified by the receiver", flush=True)
            status = 0
        except TransferFailed as e:
            print(f"file_sender.py: {e}", file=sys.stderr)
        except OSError as e:  # socket.gaierror, ConnectionRefusedError, TimeoutError ...
            print(f"file_sender.py: cannot talk to {args.connect}: {e}", file=sys.stderr)
        if args.show_tunnels:
            print_tunnels()
    return status


if __name__ == "__main__":
    sys.exit(main())
