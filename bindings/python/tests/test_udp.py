"""UDP over virtual IPv4 and IPv6 with NTMDatagramSocket."""

from __future__ import annotations

import select
import socket

import pytest

import ntmobile
from conftest import ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6, SELF_V4, SELF_V6


@pytest.mark.parametrize(
    "family, peer_addr, self_addr",
    [(socket.AF_INET, PEER_V4, SELF_V4), (socket.AF_INET6, PEER_V6, SELF_V6)],
    ids=["ipv4", "ipv6"],
)
def test_datagram_echo_with_sendto_recvfrom(env, family, peer_addr, self_addr):
    with ntmobile.socket(family, socket.SOCK_DGRAM) as udp:
        assert isinstance(udp, ntmobile.NTMDatagramSocket)
        assert udp.family == family and udp.type == socket.SOCK_DGRAM
        udp.settimeout(5)
        udp.bind(("", 0))
        port = udp.getsockname()[1]
        for i in range(20):
            message = f"datagram {i}".encode() * (i + 1)
            assert udp.sendto(message, (peer_addr, ECHO_PORT)) == len(message)
            data, sender = udp.recvfrom(65535)
            assert data == message
            assert sender[:2] == (peer_addr, ECHO_PORT)
        assert udp.getsockname()[1] == port


def test_connected_datagram_socket_send_recv_into(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.connect((PEER_NAME, ECHO_PORT))
        assert udp.getpeername() == (PEER_V4, ECHO_PORT)
        udp.send(b"connected")
        buffer = bytearray(64)
        n = udp.recv_into(buffer)
        assert bytes(buffer[:n]) == b"connected"
        udp.send(b"again")
        n, sender = udp.recvfrom_into(memoryview(buffer)[10:])
        assert bytes(buffer[10 : 10 + n]) == b"again" and sender == (PEER_V4, ECHO_PORT)


def test_large_datagram_is_fragmented_and_reassembled(env):
    with ntmobile.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        message = bytes(range(256)) * 32  # 8 KiB: larger than the virtual MTU
        udp.sendto(message, (PEER_V6, ECHO_PORT))
        assert udp.recv(65535) == message


def test_poll_waits_for_a_datagram(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("", 0))
        assert udp.poll(select.POLLIN, timeout=0.05) == 0
        udp.sendto(b"p", (PEER_V4, ECHO_PORT))
        assert udp.poll(select.POLLIN, timeout=5) & select.POLLIN
        assert udp.recv(10) == b"p"
