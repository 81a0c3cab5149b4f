"""TCP over virtual IPv4 and IPv6: NTMSocket as a socket.socket, against the peer's echo."""

from __future__ import annotations

import hashlib
import io
import os
import socket

import pytest

import ntmobile
from conftest import ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6, SELF_V4, SELF_V6, echo_checksummed, payload

FAMILIES = [
    pytest.param(socket.AF_INET, PEER_V4, SELF_V4, id="ipv4"),
    pytest.param(socket.AF_INET6, PEER_V6, SELF_V6, id="ipv6"),
]


@pytest.mark.parametrize("family, peer_addr, self_addr", FAMILIES)
def test_16_mib_echo_arrives_intact(env, family, peer_addr, self_addr):
    data = payload(16 << 20, seed=family)
    with ntmobile.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect((peer_addr, ECHO_PORT))
        assert echo_checksummed(sock, data) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("family, peer_addr, self_addr", FAMILIES)
def test_socket_reports_virtual_addresses_and_is_a_socket(env, family, peer_addr, self_addr):
    with ntmobile.create_connection((peer_addr, ECHO_PORT), timeout=10) as sock:
        assert isinstance(sock, socket.socket)
        assert sock.family == family and sock.type == socket.SOCK_STREAM
        local, peer = sock.getsockname(), sock.getpeername()
        assert local[0] == self_addr and 0 < local[1] < 65536
        assert peer[:2] == (peer_addr, ECHO_PORT)
        if family == socket.AF_INET6:
            assert len(local) == 4 and len(peer) == 4
        assert f"raddr={peer}" in repr(sock)


def test_create_connection_resolves_node_names(env):
    with ntmobile.create_connection((PEER_NAME, ECHO_PORT), timeout=10) as sock:
        assert sock.getpeername() == (PEER_V4, ECHO_PORT)  # IPv4 first, as getaddrinfo orders
        sock.sendall(b"by name")
        assert sock.recv(100) == b"by name"


def test_connect_by_name_on_an_ipv6_socket(env):
    with ntmobile.socket(socket.AF_INET6) as sock:
        sock.settimeout(10)
        sock.connect((PEER_NAME, ECHO_PORT))
        assert sock.getpeername()[0] == PEER_V6


def test_fileno_stays_the_same_through_connect(env):
    sock = ntmobile.socket()
    before = sock.fileno()
    sock.settimeout(10)
    sock.connect((PEER_V4, ECHO_PORT))
    assert sock.fileno() == before
    sock.close()
    assert sock.fileno() == -1


def test_bind_chooses_the_local_port(env):
    with ntmobile.socket() as sock:
        sock.bind(("", 40123))
        assert sock.getsockname() == ("0.0.0.0", 40123)
        sock.settimeout(10)
        sock.connect((PEER_V4, ECHO_PORT))
        assert sock.getsockname() == (SELF_V4, 40123)


def test_send_recv_into_and_sendall(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        assert sock.send(b"abc") == 3
        buffer = bytearray(10)
        view = memoryview(buffer)
        got = 0
        while got < 3:
            got += sock.recv_into(view[got:])
        assert bytes(buffer[:3]) == b"abc"
        sock.sendall(memoryview(b"xyz" * 1000))
        data = b""
        while len(data) < 3000:
            data += sock.recv(4096)
        assert data == b"xyz" * 1000


def test_makefile_line_protocol_in_text_mode(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        with sock.makefile("rw", encoding="utf-8", newline="\n") as f:
            for i in range(200):
                f.write(f"line {i} ✓\n")
            f.flush()
            for i in range(200):
                assert f.readline() == f"line {i} ✓\n"


def test_makefile_binary_reader_and_writer(env):
    with ntmobile.create_connection((PEER_V6, ECHO_PORT), timeout=10) as sock:
        reader = sock.makefile("rb")
        writer = sock.makefile("wb")
        assert isinstance(reader, io.BufferedReader)
        blob = os.urandom(100_000)
        writer.write(blob + b"\nend\n")
        writer.flush()
        assert reader.read(len(blob)) == blob
        assert reader.readline() == b"\n"
        assert reader.readline() == b"end\n"
        reader.close()
        writer.close()
    # The socket closed only once every file object was closed too.
    assert sock.fileno() == -1


def test_shutdown_write_sends_fin_and_the_echo_ends(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = sock.recv(100)
            if not chunk:
                break
            data += chunk
        assert data == b"last words"


def test_server_accepts_peer_connections(env):
    """Our own listener (accept) serves the peer, which dials back on its control port."""
    with ntmobile.create_server(("", 7100)) as server:
        assert server.getsockname() == ("0.0.0.0", 7100)
        with ntmobile.create_connection((PEER_V4, 9), timeout=30) as control:
            f = control.makefile("rw", newline="\n")
            f.write(f"ECHO {SELF_V4} 7100 100000 0\n")
            f.flush()
            server.settimeout(20)
            conn, peer = server.accept()
            with conn:
                assert peer[0] == PEER_V4
                assert conn.getpeername() == peer
                assert conn.getsockname() == (SELF_V4, 7100)
                conn.settimeout(20)
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    conn.sendall(chunk)
            answer = f.readline().split()
            f.close()
    assert answer[0] == "OK", answer
    assert answer[1] == answer[2] and answer[3] == "100000"


def test_dualstack_listener_accepts_ipv6(env):
    with ntmobile.create_server(("", 7101), family=socket.AF_INET6, dualstack_ipv6=True) as server:
        with ntmobile.create_connection((PEER_V4, 9), timeout=30) as control:
            f = control.makefile("rw", newline="\n")
            f.write(f"ECHO {SELF_V6} 7101 1000 0\n")
            f.flush()
            server.settimeout(20)
            conn, peer = server.accept()
            with conn:
                assert peer[0] == PEER_V6 and len(peer) == 4
                assert conn.getsockname()[:2] == (SELF_V6, 7101)
                conn.settimeout(20)
                while chunk := conn.recv(65536):
                    conn.sendall(chunk)
            assert f.readline().startswith("OK ")
            f.close()


def test_dup_keeps_the_connection_and_addresses(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        with sock.dup() as copy:
            assert isinstance(copy, ntmobile.NTMSocket)
            assert copy.getpeername() == sock.getpeername()
            copy.sendall(b"dup")
            assert sock.recv(10) == b"dup"


def test_sendfile(env, tmp_path):
    path = tmp_path / "blob"
    blob = os.urandom(300_000)
    path.write_bytes(blob)
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        received = bytearray()
        with open(path, "rb") as f:
            import threading

            t = threading.Thread(target=lambda: sock.sendfile(f))
            t.start()
            while len(received) < len(blob):
                received += sock.recv(65536)
            t.join(10)
        assert bytes(received) == blob
