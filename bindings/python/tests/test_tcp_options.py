"""TCP_NODELAY, SO_KEEPALIVE and the keepalive timers apply to a connected or accepted NTM socket
(the virtual connection behind the bridged descriptor), as in the Java and Ruby bindings; and
socketserver's StreamRequestHandler with disable_nagle_algorithm works on ntmobile.server."""

from __future__ import annotations

import errno
import socket
import socketserver
import ssl
import threading

import pytest

import ntmobile
import ntmobile.server
from conftest import ECHO_PORT, PEER_V4, SELF_V4

CONNECTION_OPTIONS = [
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 0),
    (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 11),
    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 4),
    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5),
]


def check_options(sock: socket.socket) -> None:
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1  # bridges start so
    for level, option, value in CONNECTION_OPTIONS:
        sock.setsockopt(level, option, value)
        assert sock.getsockopt(level, option) == value, (level, option)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)  # bools, as socket takes
    with pytest.raises(OSError) as info:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
    assert info.value.errno == errno.ENOPROTOOPT


def test_tcp_options_apply_after_connect(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        check_options(sock)
        sock.sendall(b"still flows")
        assert sock.recv(100) == b"still flows"
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM


def test_tcp_options_apply_on_accepted_and_duplicated_sockets(env):
    with ntmobile.create_server(("", 7610)) as server:
        server.settimeout(10)
        with ntmobile.create_connection((SELF_V4, 7610), timeout=10) as client:
            conn, _ = server.accept()
            with conn:
                check_options(conn)
                copy = client.dup()
                copy.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 17)
                assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 17
                copy.close()


def test_tcp_options_of_a_listener_are_set_before_listen(env):
    with ntmobile.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.bind(("", 7611))
        sock.listen()
        with pytest.raises(OSError) as info:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert info.value.errno == errno.ENOPROTOOPT and "before listen" in str(info.value)


class _NoDelayEcho(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True  # setsockopt(TCP_NODELAY) on the accepted socket

    def handle(self) -> None:
        self.wfile.write(b"nodelay=%d " % self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        self.wfile.write(self.rfile.readline())


def test_socketserver_stream_handler_with_disable_nagle_algorithm_serves_every_request(env):
    with ntmobile.server.ThreadingNTMTCPServer(("", 7612), _NoDelayEcho) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            for i in range(3):
                with ntmobile.create_connection((SELF_V4, 7612), timeout=10) as sock:
                    sock.sendall(b"request %d\n" % i)
                    with sock.makefile("rb") as f:
                        assert f.readline() == b"nodelay=1 request %d\n" % i
        finally:
            server.shutdown()
            thread.join(10)


def test_wrap_socket_before_connect_says_to_connect_first(env):
    sock = ntmobile.socket()
    context = ssl.create_default_context()
    with pytest.raises(OSError) as info:
        context.wrap_socket(sock, server_hostname="bob.example")
    assert info.value.errno == errno.ENOTCONN and "after connect()" in str(info.value)
    assert sock.fileno() == -1
    sock.close()


def test_wrap_socket_on_a_listener_says_to_wrap_accepted_connections(env):
    server = ntmobile.create_server(("", 7613))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(OSError) as info:
        context.wrap_socket(server, server_side=True)
    assert info.value.errno == errno.EOPNOTSUPP and "accept() first" in str(info.value)
    server.close()
