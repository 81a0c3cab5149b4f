"""Stores files that a file sender (any language's) sends over the virtual network.

    python examples/python/file_receiver.py NODE-OPTIONS --dir DIR [--port 7200]

Each connection carries one request line "PUT <name> <size>" and then exactly <size> bytes. The
name must be a plain file name (no '/', not "." or "..", no NUL, at most 255 bytes) and the size
at most 2**40, else the answer is "ERROR bad-name" / "ERROR bad-size". The bytes go to
DIR/<name>.part while being hashed (hashlib SHA-256); when all have arrived the file is renamed
to DIR/<name> and the answer is "OK <sha256 hex>". A connection that ends early leaves nothing
behind. One thread per connection; runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import time

from example_net import LineReader, LineTooLong, send_line, serve_until_signal
from node_args import add_node_arguments, check_arguments

MAX_SIZE = 2**40
IDLE_TIMEOUT = 30.0  # a sender silent this long is treated as gone


class Refused(Exception):
    """The request is answered with "ERROR <reason>" (the exception's text)."""


def parse_request(line: str) -> tuple[str, int]:
    """ "PUT <name> <size>": the name is everything between "PUT " and the last space."""
    if not line.startswith("PUT ") or " " not in line[4:]:
        raise Refused("bad-request")
    name, _, size = line[4:].rpartition(" ")
    # U+FFFD: LineReader's stand-in for bytes that were not UTF-8 - refused rather than guessed.
    if (not name or "/" in name or "\0" in name or name in (".", "..") or len(name.encode()) > 255
            or "\ufffd" in name):
        raise Refused("bad-name")
    if not size.isascii() or not size.isdigit() or int(size) > MAX_SIZE:
        raise Refused("bad-size")
    return name, int(size)


def refuse(conn: socket.socket, reason: str) -> None:
    """Answers ERROR, then lets the sender's bytes drain for a moment before closing: closing
    with unread data would reset the connection, and a reset can destroy the answer before the
    sender has read it."""
    send_line(conn, f"ERROR {reason}")
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(2)
    until = time.monotonic() + 5
    try:
        while time.monotonic() < until and conn.recv(65536):
            pass
    except OSError:
        pass


def receive_body(reader: LineReader, conn: socket.socket, out, size: int) -> str:
    """Copies exactly ``size`` bytes into ``out`` while hashing; returns the hex digest."""
    digest = hashlib.sha256()
    done = 0
    while done < size:
        want = min(size - done, 65536)
        chunk = reader.take(want) or conn.recv(want)
        if not chunk:
            raise ConnectionError(f"connection ended after {done} of {size} bytes")
        digest.update(chunk)
        out.write(chunk)
        done += len(chunk)
    return digest.hexdigest()


def receive_file(directory: str, conn: socket.socket, peer: tuple) -> None:
    started = time.monotonic()
    reader = LineReader(conn.recv)
    try:
        request = reader.next()
        if request is None:
            return
        name, size = parse_request(request)
    except (Refused, LineTooLong) as e:
        reason = str(e) or "bad-request"
        print(f"file_receiver.py: refused a request from {peer[0]}: ERROR {reason}", file=sys.stderr)
        refuse(conn, reason)
        return
    final = os.path.join(directory, name)
    part = final + ".part"
    try:
        # "xb": two uploads of one name at the same time must not write into the same .part.
        with open(part, "xb") as out:
            try:
                digest = receive_body(reader, conn, out, size)
            except BaseException:
                out.close()
                os.unlink(part)  # an incomplete upload leaves no file behind
                raise
        os.replace(part, final)
    except FileExistsError:
        refuse(conn, "busy")
        return
    except OSError as e:
        print(f"file_receiver.py: {name}: {e}", file=sys.stderr)
        return
    send_line(conn, f"OK {digest}")
    print(f"received {name} {size} bytes sha256={digest} from {peer[0]} in {time.monotonic() - started:.2f}s",
          flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile file receiver")
    add_node_arguments(parser)
    parser.add_argument("--dir", required=True, help="where received files go")
    parser.add_argument("--port", type=int, default=7200, help="virtual TCP port (default 7200)")
    args = parser.parse_args()
    check_arguments(parser, args)
    if not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir} is not a directory")
    if not 0 < args.port < 65536:
        parser.error("--port must be 1-65535")

    def handle(conn: socket.socket, peer: tuple) -> None:
        try:
            with conn:
                conn.settimeout(IDLE_TIMEOUT)
                receive_file(args.dir, conn, peer)
        except OSError as e:  # the answer could not be sent: the sender is gone
            print(f"file_receiver.py: connection from {peer[0]}: {e}", file=sys.stderr)

    # Stopping the node closes the connections: uploads still running remove their .part files,
    # given up to 5 s (drain) to do so.
    return serve_until_signal(
        "file_receiver.py", args, args.port, handle,
        lambda info: f"file receiver {info.name} listening on port {args.port} "
                     f"(vip4 {info.virtual_ipv4 or '-'}, vip6 {info.virtual_ipv6 or '-'}), saving to {args.dir}",
        drain=5)

if __name__ == "__main__":
    sys.exit(main())
