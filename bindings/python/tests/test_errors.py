"""Every error case maps to the standard exception a socket program expects."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import textwrap

import pytest

import ntmobile
from conftest import ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6, UNKNOWN_V4


def test_connect_to_a_port_nobody_listens_on_is_refused(env):
    with pytest.raises(ConnectionRefusedError) as info:
        ntmobile.create_connection((PEER_V4, 1234), timeout=10)
    assert info.value.errno == errno.ECONNREFUSED


def test_connect_ex_returns_the_errno(env):
    with ntmobile.socket(socket.AF_INET6) as sock:
        sock.settimeout(10)
        assert sock.connect_ex((PEER_V6, 1234)) == errno.ECONNREFUSED


def test_unknown_name_raises_gaierror(env):
    with pytest.raises(socket.gaierror) as info:
        ntmobile.getaddrinfo("nobody.example", 80)
    assert info.value.errno == socket.EAI_NONAME
    with pytest.raises(socket.gaierror):
        ntmobile.create_connection(("nobody.example", 80), timeout=5)
    with ntmobile.socket() as sock, pytest.raises(socket.gaierror):
        sock.connect(("nobody.example", 80))
    with ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(socket.gaierror):
        udp.sendto(b"x", ("nobody.example", 80))


def test_address_no_peer_owns_is_unreachable(env):
    with pytest.raises(OSError) as info:
        ntmobile.create_connection((UNKNOWN_V4, 80), timeout=5)
    assert info.value.errno == errno.EHOSTUNREACH


def test_calls_on_a_closed_socket_raise_ebadf(env):
    sock = ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10)
    sock.close()
    for call in (lambda: sock.recv(1), lambda: sock.send(b"x"), sock.getsockname, sock.getpeername):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF
    udp = ntmobile.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.close()
    with pytest.raises(OSError) as info:
        udp.recvfrom(1)
    assert info.value.errno == errno.EBADF


def test_state_errors_are_the_kernel_ones(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        with pytest.raises(OSError) as info:
            sock.connect((PEER_V4, ECHO_PORT))
        assert info.value.errno == errno.EISCONN
    with ntmobile.socket() as fresh:
        with pytest.raises(OSError) as info:
            fresh.getpeername()
        assert info.value.errno == errno.ENOTCONN
        with pytest.raises(OSError) as info:
            fresh.shutdown(socket.SHUT_RDWR)
        assert info.value.errno == errno.ENOTCONN
        with pytest.raises(OSError) as info:
            fresh.accept()
        assert info.value.errno == errno.EINVAL


def test_binding_a_port_in_use_raises_eaddrinuse(env):
    with ntmobile.create_server(("", 7600)):
        with pytest.raises(OSError) as info:
            ntmobile.create_server(("", 7600))
        assert info.value.errno == errno.EADDRINUSE


def test_wrong_arguments_raise_like_socket(env):
    with pytest.raises(OSError) as info:
        ntmobile.socket(socket.AF_UNIX)
    assert info.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(ValueError):
        ntmobile.NTMSocket(socket.AF_INET, socket.SOCK_DGRAM)
    with ntmobile.socket() as sock:
        with pytest.raises(TypeError):
            sock.connect(PEER_V4)
        with pytest.raises((OverflowError, ValueError)):
            sock.connect((PEER_V4, 70000))
    with pytest.raises(socket.gaierror):
        ntmobile.getaddrinfo(PEER_NAME, "no-such-service-name")


def test_node_call_errors(env):
    with pytest.raises(ntmobile.NodeStateError):
        ntmobile.start("again.example", ntmobile.generate_keypair().private_key, virtual_ipv4="100.64.0.50")
    with pytest.raises(ntmobile.InvalidArgumentError):
        ntmobile.public_key_from_private("not a key")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_errors_without_a_running_node():
    """In a fresh process: sockets need a node (ENETDOWN); bad options name the problem."""
    result = run_python(
        """
        import errno, socket, ntmobile

        def expect(kind, call, check=lambda e: True):
            try:
                call()
            except kind as e:
                assert check(e), repr(e)
            else:
                raise SystemExit(f"{call} did not raise {kind.__name__}")

        key = ntmobile.generate_keypair().private_key
        expect(OSError, ntmobile.socket, lambda e: e.errno == errno.ENETDOWN)
        expect(ntmobile.NodeStateError, ntmobile.node_info)
        expect(ntmobile.NodeStateError, ntmobile.tunnels)
        expect(ntmobile.NodeStateError, ntmobile.stop)
        expect(ntmobile.NodeStateError, ntmobile.notify_network_change)
        expect(ntmobile.InvalidArgumentError,
               lambda: ntmobile.start("x.example", "bad key", virtual_ipv4="100.64.0.1"),
               lambda e: e.code == -2 and "private_key" in str(e))
        expect(ValueError, lambda: ntmobile.start("x.example", key), lambda e: "virtual" in str(e))
        expect(ntmobile.InvalidArgumentError,
               lambda: ntmobile.start("x.example", key, virtual_ipv4="100.64.0.1",
                                      peers=[ntmobile.Peer("p.example", "bad key")]))
        expect(OSError,
               lambda: ntmobile.start("x.example", key, virtual_ipv4="100.64.0.1",
                                      listen_ipv4="192.0.2.1:1", listen_ipv6=""),
               lambda e: isinstance(e, ntmobile.NodeIOError) and e.code == -5)
        assert not ntmobile.is_running()
        print("ok")
        """
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr
