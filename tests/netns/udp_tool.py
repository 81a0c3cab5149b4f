#!/usr/bin/env python3
"""A tiny UDP tool for the topology self-tests, run inside namespaces. Every mode is bounded in
time and count and reports machine-readable lines on stdout (flushed):

  echo  --bind HOST:PORT [--bind ...] [--time S] [--max N]
        READY bind=HOST:PORT        (one per socket, with the real port when PORT is 0)
        RECV local=HOST:PORT from=HOST:PORT data=TEXT
        and replies "ECHO from=HOST:PORT data=TEXT" (the source it observed) to the sender.
        Ends after S seconds or N datagrams: DONE received=N

  send  --to HOST:PORT [--to ...] [--bind HOST:PORT] [--tries N] [--wait S] [--msg TEXT]
        From ONE socket, for each destination in turn: send, wait up to S s for the echo, retry
        up to N times. REPLY to=HOST:PORT observed=HOST:PORT (as the echo saw us)
        | NOREPLY to=HOST:PORT | SENDERR to=HOST:PORT errno=NAME. Then DONE.

  punch --server HOST:PORT [--bind HOST:PORT] [--time S]
        Learns its mapped endpoint from an echo server (MAPPED HOST:PORT), reads "PEER HOST:PORT"
        on stdin, then sends PUNCH to the peer every 50 ms for at most S s. On receiving the
        peer's packet prints GOT from=HOST:PORT, keeps sending for 0.5 s more (so the peer gets
        one too) and ends: DONE got=1 (or DONE got=0 when time ran out).
"""

import argparse
import errno as errno_mod
import select
import socket
import sys
import time


def out(line):
    print(line, flush=True)


def parse_ep(text):
    """HOST:PORT or [HOST]:PORT -> (family, (host, port))."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return socket.AF_INET6, (host, int(port))
    host, _, port = text.rpartition(":")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def fmt_ep(addr):
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def make_socket(fam, bind=None):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if bind is not None:
        s.bind(bind)
    return s


def echo(a):
    socks = []
    for b in a.bind:
        fam, addr = parse_ep(b)
        s = make_socket(fam, addr)
        socks.append(s)
        out(f"READY bind={fmt_ep(s.getsockname())}")
    deadline = time.monotonic() + a.time
    received = 0
    while received < a.max:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(socks, [], [], left)
        for s in ready:
            data, src = s.recvfrom(65535)
            received += 1
            text = data.decode(errors="replace")
            out(f"RECV local={fmt_ep(s.getsockname())} from={fmt_ep(src)} data={text}")
            try:
                s.sendto(f"ECHO from={fmt_ep(src)} data={text}".encode(), src)
            except OSError as e:
                out(f"SENDERR to={fmt_ep(src)} errno={errno_mod.errorcode.get(e.errno, e.errno)}")
    out(f"DONE received={received}")


def send(a):
    fams = {parse_ep(t)[0] for t in a.to}
    if len(fams) != 1:
        sys.exit("send: all --to must be of one family")
    fam = fams.pop()
    s = make_socket(fam, parse_ep(a.bind)[1] if a.bind else None)
    for t in a.to:
        _, dest = parse_ep(t)
        got = None
        for attempt in range(a.tries):
            try:
                s.sendto(f"{a.msg} try={attempt}".encode(), dest)
            except OSError as e:
                got = f"SENDERR to={t} errno={errno_mod.errorcode.get(e.errno, e.errno)}"
                break
            deadline = time.monotonic() + a.wait
            while got is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([s], [], [], left)
                if not ready:
                    break
                try:
                    data, src = s.recvfrom(65535)
                except OSError as e:  # e.g. ECONNREFUSED from an ICMP error
                    got = f"SENDERR to={t} errno={errno_mod.errorcode.get(e.errno, e.errno)}"
                    break
                text = data.decode(errors="replace")
                if src[:2] == dest[:2] or fmt_ep(src) == t:
                    observed = text.split()[1].partition("=")[2] if text.startswith("ECHO") else "?"
                    got = f"REPLY to={t} observed={observed} local={fmt_ep(s.getsockname())}"
            if got is not None:
                break
        out(got or f"NOREPLY to={t}")
    out("DONE")


def punch(a):
    fam, server = parse_ep(a.server)
    s = make_socket(fam, parse_ep(a.bind)[1] if a.bind else None)
    deadline = time.monotonic() + a.time
    mapped = None
    while mapped is None and time.monotonic() < deadline:
        s.sendto(b"MAP", server)
        ready, _, _ = select.select([s], [], [], 0.3)
        if ready:
            data, src = s.recvfrom(65535)
            if src[:2] == server[:2] and data.startswith(b"ECHO"):
                mapped = data.decode().split()[1].partition("=")[2]
    if mapped is None:
        out("DONE got=0 reason=no-mapping")
        return
    out(f"MAPPED {mapped}")
    peer = None
    while peer is None and time.monotonic() < deadline:
        ready, _, _ = select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            line = sys.stdin.readline()
            if not line:
                break
            if line.startswith("PEER "):
                peer = parse_ep(line.split()[1])[1]
    if peer is None:
        out("DONE got=0 reason=no-peer")
        return
    got_at = None
    while time.monotonic() < deadline:
        if got_at is not None and time.monotonic() - got_at > 0.5:
            break
        try:
            s.sendto(b"PUNCH", peer)
        except OSError:
            pass
        ready, _, _ = select.select([s], [], [], 0.05)
        if ready:
            try:
                data, src = s.recvfrom(65535)
            except OSError:
                continue
            if data == b"PUNCH" and got_at is None:
                got_at = time.monotonic()
                out(f"GOT from={fmt_ep(src)}")
    out(f"DONE got={1 if got_at is not None else 0}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--bind", action="append", required=True)
    e.add_argument("--time", type=float, default=10.0)
    e.add_argument("--max", type=int, default=1000)
    s = sub.add_parser("send")
    s.add_argument("--to", action="append", required=True)
    s.add_argument("--bind")
    s.add_argument("--tries", type=int, default=3)
    s.add_argument("--wait", type=float, default=0.5)
    s.add_argument("--msg", default="hello")
    p = sub.add_parser("punch")
    p.add_argument("--server", required=True)
    p.add_argument("--bind")
    p.add_argument("--time", type=float, default=5.0)
    a = ap.parse_args()
    {"echo": echo, "send": send, "punch": punch}[a.mode](a)


if __name__ == "__main__":
    main()
