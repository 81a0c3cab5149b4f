"""Timeouts and non-blocking mode behave as on socket.socket."""

from __future__ import annotations

import socket
import time

import pytest

import ntmobile
from conftest import ECHO_PORT, GHOST_NAME, GHOST_V4, PEER_V4, PEER_V6


def elapsed(start: float) -> float:
    return time.monotonic() - start


def test_recv_times_out_when_nothing_arrives(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        sock.settimeout(0.3)
        assert sock.gettimeout() == 0.3
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="timed out"):
            sock.recv(10)
        assert 0.25 <= elapsed(start) < 3
        # The connection still works after a timeout.
        sock.sendall(b"still here")
        assert sock.recv(100) == b"still here"


def test_create_connection_timeout_applies_to_the_socket(env):
    with ntmobile.create_connection((PEER_V6, ECHO_PORT), timeout=0.2) as sock:
        assert sock.gettimeout() == 0.2
        with pytest.raises(socket.timeout):
            sock.recv(1)


def test_non_blocking_recv_raises_blocking_io_error(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        sock.setblocking(False)
        assert not sock.getblocking() and sock.gettimeout() == 0.0
        with pytest.raises(BlockingIOError):
            sock.recv(10)


def test_timeout_set_before_connect_survives_the_bridge(env):
    sock = ntmobile.socket()
    sock.settimeout(0.2)
    sock.connect((PEER_V4, ECHO_PORT))
    with sock:
        assert sock.gettimeout() == 0.2
        with pytest.raises(TimeoutError):
            sock.recv(1)


def test_blocking_socket_made_with_no_timeout_blocks_until_data(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT)) as sock:
        assert sock.gettimeout() is None and sock.getblocking()
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"


def test_connect_to_an_unreachable_peer_times_out(env):
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        ntmobile.create_connection((GHOST_V4, 80), timeout=0.5)
    assert 0.4 <= elapsed(start) < 5


def test_connect_by_name_to_an_unreachable_peer_times_out(env):
    sock = ntmobile.socket(socket.AF_INET6)
    sock.settimeout(0.3)
    with sock, pytest.raises(socket.timeout):
        sock.connect((GHOST_NAME, 80))


def test_accept_times_out(env):
    with ntmobile.create_server(("", 7200)) as server:
        server.settimeout(0.3)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            server.accept()
        assert 0.25 <= elapsed(start) < 3


def test_non_blocking_accept_raises_blocking_io_error(env):
    with ntmobile.create_server(("", 7201)) as server:
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()


def test_udp_recvfrom_times_out(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("", 0))
        udp.settimeout(0.3)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="timed out"):
            udp.recvfrom(100)
        assert 0.25 <= elapsed(start) < 3
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            udp.recv(100)
