"""Blocking calls release the GIL: other Python threads progress meanwhile."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import ntmobile
from conftest import ECHO_PORT, PEER_V4


class Counter(threading.Thread):
    """Counts in pure Python until stopped: it only advances while it can get the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.count = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.count += 1


WINDOW = 0.3


def counting_rate() -> float:
    """Increments per second of a Counter running with no other busy thread."""
    counter = Counter()
    counter.start()
    time.sleep(0.1)
    start, t0 = counter.count, time.monotonic()
    time.sleep(WINDOW)
    rate = (counter.count - start) / (time.monotonic() - t0)
    counter.stop.set()
    counter.join(5)
    return rate


def progress_while(block, unblock) -> tuple[float, object]:
    """Runs block() in a thread and measures how fast a counter thread advances while it is
    blocked, as a fraction of its speed alone. A call holding the GIL would stop the counter
    (fraction near 0); one that releases it leaves the counter at full speed (near 1)."""
    rate = counting_rate()
    result: list[object] = []
    blocked = threading.Thread(target=lambda: result.append(block()), daemon=True)
    counter = Counter()
    blocked.start()
    counter.start()
    time.sleep(0.05)  # the blocked thread is inside its call from here on
    start, t0 = counter.count, time.monotonic()
    time.sleep(WINDOW)
    during = (counter.count - start) / (time.monotonic() - t0)
    assert blocked.is_alive() and not result, "the blocking call returned early"
    unblock()
    blocked.join(10)
    counter.stop.set()
    counter.join(5)
    assert not blocked.is_alive()
    return during / rate, result[0] if result else None


def test_thread_progresses_while_another_blocks_in_tcp_recv(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=20) as sock:
        during, got = progress_while(lambda: sock.recv(10), lambda: sock.sendall(b"wake"))
        assert during > 0.1, f"counter ran at {during:.0%} of its speed"
        assert got == b"wake"


def test_thread_progresses_while_another_blocks_in_udp_recvfrom(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(20)
        udp.bind(("", 0))
        during, got = progress_while(
            lambda: udp.recvfrom(100), lambda: udp.sendto(b"wake", (PEER_V4, ECHO_PORT))
        )
        assert during > 0.1, f"counter ran at {during:.0%} of its speed"
        assert got[0] == b"wake"


def test_thread_progresses_while_another_blocks_in_accept(env):
    with ntmobile.create_server(("", 7500)) as server:
        server.settimeout(20)
        control = ntmobile.create_connection((PEER_V4, 9), timeout=20)

        def dial_back() -> None:
            control.sendall(b"ECHO 100.64.0.1 7500 1 0\n")

        during, got = progress_while(server.accept, dial_back)
        assert during > 0.1, f"counter ran at {during:.0%} of its speed"
        conn, _ = got
        with conn, control:
            conn.settimeout(10)
            conn.sendall(conn.recv(1))
            assert control.makefile().readline().startswith("OK ")


def test_closing_a_udp_socket_wakes_a_blocked_receiver(env):
    udp = ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("", 0))
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            udp.recvfrom(100)
        except OSError as e:
            errors.append(e)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert thread.is_alive() and not errors, "recvfrom returned before close"
    fd = udp._fd
    udp.close()
    thread.join(5)
    assert not thread.is_alive(), "recvfrom did not return after close"
    assert errors and isinstance(errors[0], OSError), errors
    assert fd >= 0


def test_signal_handlers_run_while_the_main_thread_blocks_in_udp_recv():
    """Ctrl-C works during a blocked receive: the wait wakes to run Python signal handlers."""
    code = textwrap.dedent(
        """
        import signal, socket, time, ntmobile
        ntmobile.start("sig.example", ntmobile.generate_keypair().private_key,
                       virtual_ipv4="100.64.2.1", listen_ipv4="127.0.0.1:0", listen_ipv6="")
        udp = ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("", 9))
        def alarm(*_):
            raise KeyboardInterrupt
        signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        start = time.monotonic()
        try:
            udp.recvfrom(100)  # blocking: nothing will ever arrive
        except KeyboardInterrupt:
            print("interrupted after %.2f s" % (time.monotonic() - start))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:2] == ["interrupted", "after"], result.stdout + result.stderr
    assert 0.25 <= float(words[2]) < 3
