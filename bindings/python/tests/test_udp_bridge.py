"""UDP sockets with an OS descriptor: fileno() starts libntm's datagram bridge
(ntm_bridge_datagram), so select, selectors and asyncio datagram endpoints wait for datagrams,
with the socket's timeouts and non-blocking mode, and close() ends it at once."""

from __future__ import annotations

import asyncio
import errno
import os
import select
import selectors
import socket
import stat
import threading
import time

import pytest

import ntmobile
from conftest import ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6

FAMILIES = pytest.mark.parametrize(
    "family, peer_addr", [(socket.AF_INET, PEER_V4), (socket.AF_INET6, PEER_V6)], ids=["ipv4", "ipv6"])


@FAMILIES
def test_selectors_wait_for_datagrams_on_fileno(env, family, peer_addr):
    with ntmobile.socket(family, socket.SOCK_DGRAM) as udp:
        udp.bind(("", 0))
        port = udp.getsockname()[1]
        fd = udp.fileno()
        assert fd >= 0 and udp.fileno() == fd
        assert stat.S_ISSOCK(os.fstat(fd).st_mode)  # a real OS descriptor
        with selectors.DefaultSelector() as selector:
            selector.register(udp, selectors.EVENT_READ)
            assert selector.select(timeout=0.05) == []
            for i in range(20):
                message = f"datagram {i}".encode() * (i + 1)
                assert udp.sendto(message, (peer_addr, ECHO_PORT)) == len(message)
                assert selector.select(timeout=5), f"datagram {i}: not readable within 5 s"
                data, sender = udp.recvfrom(65535)
                assert data == message
                assert sender[:2] == (peer_addr, ECHO_PORT)
        assert udp.getsockname()[1] == port


def test_select_and_poll_on_a_connected_socket(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect((PEER_NAME, ECHO_PORT))
        assert select.select([udp], [], [], 0.05)[0] == []
        udp.send(b"connected")
        assert select.select([udp], [], [], 5)[0] == [udp]
        buffer = bytearray(64)
        assert bytes(buffer[: udp.recv_into(buffer)]) == b"connected"
        udp.send(b"again")
        assert udp.poll(select.POLLIN, timeout=5) & select.POLLIN
        n, sender = udp.recvfrom_into(memoryview(buffer)[10:])
        assert bytes(buffer[10 : 10 + n]) == b"again" and sender == (PEER_V4, ECHO_PORT)
        assert udp.poll(select.POLLIN | select.POLLOUT, timeout=0) == select.POLLOUT


def test_timeouts_non_blocking_receives_and_truncation(env):
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect((PEER_V4, ECHO_PORT))
        udp.fileno()
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            udp.recv(10)
        udp.settimeout(0.2)
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            udp.recvfrom(10)
        assert time.monotonic() - started >= 0.19
        udp.settimeout(5)
        udp.send(b"0123456789")
        udp.send(b"next")
        assert udp.recv(4) == b"0123"  # the rest of that datagram is dropped, as with UDP
        assert udp.recv(100) == b"next"


def test_close_wakes_a_blocked_receive_and_frees_the_port_at_once(env):
    udp = ntmobile.NTMDatagramSocket()
    udp.bind(("", 0))
    port = udp.getsockname()[1]
    udp.fileno()
    outcome: dict[str, object] = {}

    def receive() -> None:
        try:
            outcome["data"] = udp.recvfrom(100)
        except OSError as error:
            outcome["errno"] = error.errno

    reader = threading.Thread(target=receive)
    reader.start()
    reader.join(0.2)  # most likely blocked by now; either way close() must end the receive
    udp.close()
    reader.join(5)
    assert not reader.is_alive(), "close() did not wake the blocked receive"
    assert outcome == {"errno": errno.EBADF}
    assert udp.fileno() == -1
    # close() returned after the bridge closed the virtual socket: the port is free again.
    with ntmobile.NTMDatagramSocket() as again:
        again.bind(("", port))


@FAMILIES
def test_asyncio_datagram_endpoints(env, family, peer_addr):
    async def exchange() -> None:
        received: asyncio.Queue[tuple[bytes, object]] = asyncio.Queue()

        class Collect(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                received.put_nowait((data, addr))

        # Connected, through ntmobile's helper (the peer's name resolved by the node).
        transport, _ = await ntmobile.create_datagram_endpoint(
            Collect, remote_addr=(PEER_NAME, ECHO_PORT), family=family)
        try:
            assert transport.get_extra_info("peername")[:2] == (peer_addr, ECHO_PORT)
            for i in range(10):
                transport.sendto(f"connected {i}".encode())
                data, addr = await asyncio.wait_for(received.get(), 5)
                assert data == f"connected {i}".encode() and addr[:2] == (peer_addr, ECHO_PORT)
        finally:
            transport.close()
        # Unconnected, on asyncio's own create_datagram_endpoint with an NTM socket.
        sock = ntmobile.NTMDatagramSocket(family)
        sock.bind(("", 0))
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Collect, sock=sock)
        try:
            for i in range(10):
                transport.sendto(f"unconnected {i}".encode(), (peer_addr, ECHO_PORT))
                data, addr = await asyncio.wait_for(received.get(), 5)
                assert data == f"unconnected {i}".encode() and addr[:2] == (peer_addr, ECHO_PORT)
        finally:
            transport.close()
        for _ in range(100):  # the transport closes the socket in a later loop iteration
            if sock.fileno() == -1:
                break
            await asyncio.sleep(0.01)
        assert sock.fileno() == -1

    asyncio.run(exchange())
