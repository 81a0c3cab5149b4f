"""Joins a chat server (any language's) by node name.

    python examples/python/chat_client.py NODE-OPTIONS --connect NAME:PORT --nick NICK [-6] \\
        [--say TEXT]... [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]

It sends "NICK <nick>" and prints every line the server sends. Interactive (no --say): each line
of stdin is sent; at the end of stdin it sends /quit and waits for BYE. Scripted: after WELCOME
it sends each --say line, waits until every --wait-for text has appeared in a received line
(history included), then sends /quit and waits for BYE; --timeout (default 30 s) bounds the run.
Exit 0 on success, 1 on a network failure, a timeout or an ERROR from the server, 2 on bad
arguments. The connection is an ordinary socket (ntmobile.NTMSocket, an OS descriptor), so one
``selectors`` loop waits for the server and for stdin together.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import time

from example_net import LineReader, LineTooLong, connect, print_tunnels, send_line, start_node, target
from node_args import add_node_arguments, check_arguments


class ChatFailed(Exception):
    """The run failed; the message says why."""


class Chat:
    """The client's side of the protocol, driven by one selector loop."""

    def __init__(self, sock: socket.socket, args: argparse.Namespace, deadline: float) -> None:
        self.sock = sock
        self.args = args
        self.scripted = bool(args.say)
        self.missing = list(dict.fromkeys(args.wait_for))  # texts not seen yet
        self.phase = "welcome"  # -> talking -> bye -> done
        self.deadline = deadline  # time.monotonic() value when a scripted run gives up
        self.server = LineReader(sock.recv)
        self.input = LineReader(lambda n: os.read(sys.stdin.fileno(), n))
        self.stdin_open = not self.scripted

    def quit(self) -> None:
        self.phase = "bye"
        if not self.scripted:  # interactive: the wait for BYE is bounded from now on
            self.deadline = time.monotonic() + self.args.timeout
        send_line(self.sock, "/quit")

    def on_server_line(self, line: str) -> None:
        print(line, flush=True)
        if line.startswith("ERROR"):
            raise ChatFailed(f"the server refused: {line}")
        if self.phase == "welcome":
            if not line.startswith("WELCOME "):
                raise ChatFailed(f"expected WELCOME, got {line!r}")
            self.phase = "talking"
            for text in self.args.say:
                send_line(self.sock, text)
        elif line == "BYE":
            self.phase = "done"  # also when the user typed /quit
            return
        else:
            self.missing = [text for text in self.missing if text not in line]
        if self.phase == "talking" and self.scripted and not self.missing:
            self.quit()

    def on_stdin(self) -> None:
        ended = self.input.fill() == 0
        while (line := self.input.pending()) is not None:
            send_line(self.sock, line)
        if ended:
            self.stdin_open = False
            if self.phase == "talking":
                self.quit()

    def timeout_message(self) -> str:
        waiting = {"welcome": "WELCOME", "bye": "BYE"}.get(self.phase)
        waiting = waiting or ", ".join(f'"{text}"' for text in self.missing)
        return f"timed out after {self.args.timeout:g} s waiting for {waiting}"

    def run(self) -> None:
        send_line(self.sock, f"NICK {self.args.nick}")
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ, "server")
            while self.phase != "done":
                while self.phase != "done" and (line := self.server.pending()) is not None:
                    self.on_server_line(line)
                if self.phase == "done":
                    break
                want_stdin = self.stdin_open and self.phase == "talking"
                if want_stdin and sys.stdin.fileno() not in selector.get_map():
                    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
                # Interactive chatting may last forever; every other wait is bounded.
                timeout = None
                if self.scripted or self.phase != "talking":
                    timeout = self.deadline - time.monotonic()
                    if timeout <= 0:
                        raise ChatFailed(self.timeout_message())
                for key, _ in selector.select(timeout):
                    if key.data == "server" and self.server.fill() == 0:
                        raise ChatFailed("the server closed the connection")
                    if key.data == "stdin":
                        self.on_stdin()
                        if not self.stdin_open:
                            selector.unregister(key.fileobj)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="ntmobile chat client")
    add_node_arguments(parser)
    parser.add_argument("--connect", required=True, type=target, metavar="NAME:PORT", help="the chat server")
    parser.add_argument("--nick", required=True, help="your nick: 1-32 of A-Z a-z 0-9 _ -")
    parser.add_argument("-6", dest="ipv6", action="store_true", help="use virtual IPv6")
    parser.add_argument("--say", action="append", default=[], metavar="TEXT",
                        help="a line to send after WELCOME (repeatable; makes the run scripted)")
    parser.add_argument("--wait-for", action="append", default=[], metavar="TEXT",
                        help="quit once a received line contained TEXT (repeatable)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a scripted run may take (default 30)")
    parser.add_argument("--show-tunnels", action="store_true", help="print the tunnel table before exiting")
    args = parser.parse_args()
    check_arguments(parser, args)
    if not 0 < args.timeout <= 86400:
        parser.error("--timeout must be 0-86400 seconds")
    if any("\n" in text for text in args.say):
        parser.error("--say text must be one line")
    return args


def main() -> int:
    args = parse_arguments()
    deadline = time.monotonic() + args.timeout
    node = start_node(args, "chat_client.py")
    if node is None:
        return 1
    status = 1
    with node:
        try:
            with connect(args.connect, args.ipv6, args.timeout) as sock:
                sock.settimeout(None)  # the selector loop bounds every wait
                Chat(sock, args, deadline).run()
                status = 0
        except ChatFailed as e:
            print(f"chat_client.py: {e}", file=sys.stderr)
        except LineTooLong:
            print("chat_client.py: a line longer than 4096 bytes", file=sys.stderr)
        except OSError as e:  # socket.gaierror, ConnectionRefusedError, TimeoutError ...
            print(f"chat_client.py: cannot talk to {args.connect}: {e}", file=sys.stderr)
        if args.show_tunnels:
            print_tunnels()
    return status


if __name__ == "__main__":
    sys.exit(main())
