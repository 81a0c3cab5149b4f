"""A multi-client line chat on the node's virtual addresses (IPv4 and IPv6).

    python examples/python/chat_server.py NODE-OPTIONS [--port 7100] [--show-tunnels]

A client's first line is "NICK <nick>" (1-32 of [A-Za-z0-9_-]); it gets "WELCOME <nick>", the
last 50 chat lines, and everyone else sees "* <nick> joined". Each further line goes to the other
clients as "<nick>: <text>"; "/quit" gets "BYE". Every broadcast line is also printed on stdout.
One thread per client; all writes happen under the room lock, so lines never interleave and a
newcomer's history replay and join are atomic with respect to other messages. Runs until Ctrl-C
or SIGTERM (--show-tunnels then prints the tunnel table). Talks to the chat clients of every language (same protocol).
"""

from __future__ import annotations

import argparse
import collections
import re
import socket
import struct
import sys
import threading

from example_net import LineReader, LineTooLong, send_line, serve_until_signal
from node_args import add_node_arguments, check_arguments

HISTORY_LINES = 50
NICK = re.compile(r"[A-Za-z0-9_-]{1,32}")
SEND_TIMEOUT = struct.pack("ll", 5, 0)  # a client that stops reading is dropped after 5 s


class Room:
    """Who is connected, and the recent history, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, socket.socket] = {}
        self.history: collections.deque[str] = collections.deque(maxlen=HISTORY_LINES)
        self.stopping = False

    def send(self, conn: socket.socket, line: str) -> None:
        """One line to one client (lock held); a failed send drops the client."""
        try:
            send_line(conn, line)
        except OSError:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # wakes its reader thread, which then leaves
            except OSError:
                pass

    def broadcast(self, sender: str | None, line: str) -> None:
        """To everyone but the sender, and to stdout (lock held)."""
        for nick, conn in self.clients.items():
            if nick != sender:
                self.send(conn, line)
        print(line, flush=True)

    def join(self, nick: str, conn: socket.socket) -> str | None:
        """Adds the client, or returns the ERROR reason."""
        with self.lock:
            if self.stopping:
                return "shutting-down"
            if nick in self.clients:
                return "nick-taken"
            self.send(conn, f"WELCOME {nick}")
            for line in self.history:
                self.send(conn, line)
            self.clients[nick] = conn
            self.broadcast(nick, f"* {nick} joined")
            return None

    def say(self, nick: str, text: str) -> None:
        with self.lock:
            line = f"{nick}: {text}"
            self.history.append(line)
            self.broadcast(nick, line)

    def reply(self, nick: str, line: str) -> None:
        with self.lock:
            self.send(self.clients[nick], line)

    def leave(self, nick: str) -> None:
        with self.lock:
            del self.clients[nick]
            if not self.stopping:
                self.broadcast(None, f"* {nick} left")


def handle(room: Room, conn: socket.socket) -> None:
    """One client's thread: NICK, then its lines until /quit or the end of the stream."""
    with conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, SEND_TIMEOUT)
        reader = LineReader(conn.recv)
        try:
            first = reader.next()
        except LineTooLong:
            send_line(conn, "ERROR line-too-long")
            return
        except OSError:
            return
        if first is None:
            return
        nick = first[5:] if first.startswith("NICK ") else None
        error = "expected-nick" if nick is None else None if NICK.fullmatch(nick) else "bad-nick"
        error = error or room.join(nick, conn)
        if error:
            send_line(conn, f"ERROR {error}")
            return
        try:
            while (line := reader.next()) is not None:
                if line == "/quit":
                    room.reply(nick, "BYE")
                    break
                room.say(nick, line)
        except LineTooLong:
            room.reply(nick, "ERROR line-too-long")
        except OSError:
            pass  # the connection broke (or the node is stopping)
        room.leave(nick)


def main() -> int:
    parser = argparse.ArgumentParser(description="ntmobile chat server")
    add_node_arguments(parser)
    parser.add_argument("--port", type=int, default=7100, help="virtual TCP port (default 7100)")
    parser.add_argument("--show-tunnels", action="store_true",
                        help="print the tunnel table when the server stops")
    args = parser.parse_args()
    check_arguments(parser, args)
    if not 0 < args.port < 65536:
        parser.error("--port must be 1-65535")

    room = Room()

    def stop_room() -> None:  # from now on connections close without "left" announcements
        with room.lock:
            room.stopping = True

    return serve_until_signal(
        "chat_server.py", args, args.port, lambda conn, _peer: handle(room, conn),
        lambda info: f"chat server {info.name} listening on port {args.port} "
                     f"(vip4 {info.virtual_ipv4 or '-'}, vip6 {info.virtual_ipv6 or '-'})",
        on_stop=stop_room, show_tunnels=args.show_tunnels)

if __name__ == "__main__":
    sys.exit(main())
