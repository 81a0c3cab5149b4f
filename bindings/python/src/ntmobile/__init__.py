"""ntmobile: stable virtual IPv4/IPv6 addresses for this process, and sockets on them.

Start the node (one per process), then use ntmobile's sockets where ``socket.socket`` is used::

    import ntmobile

    keys = ntmobile.generate_keypair()
    with ntmobile.Node("alice.example", keys.private_key, virtual_ipv4="100.64.0.1",
                       peers=[ntmobile.Peer("bob.example", BOB_PUBLIC_KEY, "127.0.0.1:47001",
                                            virtual_ipv4="100.64.0.2")]):
        with ntmobile.create_connection(("bob.example", 7000), timeout=5) as sock:
            sock.sendall(b"hello")
            print(sock.recv(100))

TCP sockets (:class:`NTMSocket`) are ``socket.socket`` instances backed by OS descriptors that
the library bridges to the virtual connections, so ``makefile``, ``selectors``, ``asyncio`` and
``ssl`` work unchanged. UDP sockets (:class:`NTMDatagramSocket`) call the virtual stack
directly; their ``fileno()`` starts a datagram bridge, so selectors and asyncio datagram
endpoints work with them too. Errors are the standard ``OSError`` subclasses;
``socket.gaierror`` for unknown names; :class:`NTMError` subclasses for node calls.
"""

from __future__ import annotations

from socket import (  # the constants callers pass to ntmobile.socket()
    AF_INET,
    AF_INET6,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_DGRAM,
    SOCK_STREAM,
)

from ._logging import route_library_logs, set_library_log_level  # first: see _logging
from ._api import create_connection, create_server, has_dualstack_ipv6, socket
from ._asyncio import create_datagram_endpoint, open_connection, sock_connect, start_server
from ._dgram import NTMDatagramSocket
from ._errors import (
    AuthenticationError,
    InvalidArgumentError,
    NodeIOError,
    NodeStateError,
    NotFoundError,
    NTMError,
    ServerUnreachableError,
    UnsupportedError,
)
from ._node import (
    Cipher,
    Event,
    EventType,
    KeyPair,
    LogLevel,
    Node,
    NodeInfo,
    PathKind,
    Peer,
    Stats,
    TunnelInfo,
    TunnelState,
    generate_keypair,
    is_running,
    node_info,
    notify_network_change,
    public_key_from_private,
    stats,
    stop,
    tunnels,
    version,
)
from ._node import start as _start_node
from ._resolve import getaddrinfo
from ._stream import NTMSocket

#: Starts this process's node: ``ntmobile.start(name, private_key, **options) -> Node``.
start = _start_node

#: The package's version: the project's VERSION file, which the package metadata carries.
try:
    from importlib.metadata import version as _distribution_version

    __version__ = _distribution_version("ntmobile")
except Exception:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AuthenticationError",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_DGRAM",
    "SOCK_STREAM",
    "Cipher",
    "Event",
    "EventType",
    "InvalidArgumentError",
    "KeyPair",
    "LogLevel",
    "Node",
    "NodeIOError",
    "NodeInfo",
    "NodeStateError",
    "NotFoundError",
    "NTMDatagramSocket",
    "NTMError",
    "NTMSocket",
    "PathKind",
    "Peer",
    "ServerUnreachableError",
    "Stats",
    "TunnelInfo",
    "TunnelState",
    "UnsupportedError",
    "create_connection",
    "create_datagram_endpoint",
    "create_server",
    "generate_keypair",
    "getaddrinfo",
    "has_dualstack_ipv6",
    "is_running",
    "notify_network_change",
    "node_info",
    "open_connection",
    "public_key_from_private",
    "route_library_logs",
    "set_library_log_level",
    "sock_connect",
    "socket",
    "start",
    "start_server",
    "stats",
    "stop",
    "tunnels",
    "version",
]
