"""The peer node the tests talk to: a separate process running one ntmobile node with echo
services on its virtual addresses. It uses only the ntmobile package.

    python peer_node.py --name NAME --key PRIVATE --vip4 A --vip6 B --peer NAME,PUB,ENDPOINT,VIP4,VIP6
                        [--ca CA.pem --cert CERT.pem --certkey KEY.pem]

Services (IPv4 and IPv6 unless noted):
  TCP 7     echo (one thread per connection)
  UDP 7     echo (datagram back to its sender)
  TCP 8443  TLS echo (IPv4; when --cert is given)
  TCP 9     dial-back control (IPv4): a line "ECHO HOST PORT NBYTES TLS" makes this node connect
            to HOST:PORT (TLS=1: TLS, verified with --ca against the node name HOST... given as
            SNI), send NBYTES of pseudo-random data, read the echo and answer
            "OK <sha256 sent> <sha256 received>" or "ERR <text>".

It prints "READY <json node info>" once serving, and stops its node and exits when its
standard input closes (so it never outlives the test process) or on SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading

import ntmobile


def echo_connection(conn: socket.socket) -> None:
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass


def serve_tcp(server: socket.socket, handler) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def serve_udp(sock: ntmobile.NTMDatagramSocket) -> None:
    while True:
        try:
            data, addr = sock.recvfrom(65535)
            sock.sendto(data, addr)
        except OSError:
            return


def dial_back(command: str, ca: str | None) -> str:
    _, host, port, nbytes, use_tls = command.split()
    payload = random.Random(int(nbytes)).randbytes(int(nbytes))
    sock = ntmobile.create_connection((host, int(port)), timeout=30)
    if use_tls == "1":
        context = ssl.create_default_context(cafile=ca)
        context.check_hostname = False  # the test's certificate names its node, not an address
        sock = context.wrap_socket(sock)
    # One thread, chunk by chunk: a TLS socket must not be read and written concurrently.
    received = hashlib.sha256()
    count = 0
    with sock:
        for offset in range(0, len(payload), 65536):
            part = payload[offset : offset + 65536]
            sock.sendall(part)
            got = 0
            while got < len(part):
                chunk = sock.recv(len(part) - got)
                if not chunk:
                    break
                received.update(chunk)
                got += len(chunk)
            count += got
            if got < len(part):
                break
    return f"OK {hashlib.sha256(payload).hexdigest()} {received.hexdigest()} {count}"


def control_connection(conn: socket.socket, ca: str | None) -> None:
    with conn, conn.makefile("rw", newline="\n") as f:
        for line in f:
            try:
                answer = dial_back(line.strip(), ca)
            except Exception as e:  # noqa: BLE001 - reported to the test
                answer = f"ERR {type(e).__name__}: {e}"
            f.write(answer + "\n")
            f.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--vip4")
    parser.add_argument("--vip6")
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--peer", action="append", default=[])
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--certkey")
    args = parser.parse_args()

    peers = []
    for spec in args.peer:
        name, public_key, endpoint, vip4, vip6 = spec.split(",")
        peers.append(ntmobile.Peer(name, public_key, endpoint or None, vip4 or None, vip6 or None))
    node = ntmobile.start(
        args.name,
        args.key,
        virtual_ipv4=args.vip4,
        virtual_ipv6=args.vip6,
        listen_ipv4=args.listen,
        listen_ipv6="",
        peers=peers,
    )
    servers = []
    for family in (socket.AF_INET, socket.AF_INET6):
        server = ntmobile.create_server(("", 7), family=family)
        servers.append(server)
        threading.Thread(target=serve_tcp, args=(server, echo_connection), daemon=True).start()
        udp = ntmobile.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        udp.bind(("", 7))
        servers.append(udp)
        threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.certkey)

        def tls_echo(conn: socket.socket) -> None:
            try:
                echo_connection(context.wrap_socket(conn, server_side=True))
            except (OSError, ssl.SSLError):
                conn.close()

        tls_server = ntmobile.create_server(("", 8443))
        servers.append(tls_server)
        threading.Thread(target=serve_tcp, args=(tls_server, tls_echo), daemon=True).start()
    control = ntmobile.create_server(("", 9))
    servers.append(control)
    threading.Thread(
        target=serve_tcp, args=(control, lambda c: control_connection(c, args.ca)), daemon=True
    ).start()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    info = node.info()
    print("READY " + json.dumps(info.__dict__), flush=True)
    done.wait()
    for s in servers:
        s.close()
    node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
