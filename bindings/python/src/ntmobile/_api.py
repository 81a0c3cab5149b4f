"""Module-level functions shaped like the socket module's: socket, create_connection,
create_server (getaddrinfo is in _resolve)."""

from __future__ import annotations

import builtins
import socket as _socket
from typing import Any, Iterable, Optional, Union

from ._dgram import NTMDatagramSocket
from ._resolve import getaddrinfo
from ._stream import NTMSocket

__all__ = ["socket", "create_connection", "create_server", "has_dualstack_ipv6"]

_TYPE_FLAGS = getattr(_socket, "SOCK_NONBLOCK", 0) | getattr(_socket, "SOCK_CLOEXEC", 0)
_GLOBAL_DEFAULT_TIMEOUT: Any = getattr(_socket, "_GLOBAL_DEFAULT_TIMEOUT", object())


def socket(family: int = _socket.AF_INET, type: int = _socket.SOCK_STREAM, proto: int = 0) -> Union[NTMSocket, NTMDatagramSocket]:
    """A socket in the node's virtual stack: an :class:`NTMSocket` (a ``socket.socket``) for
    ``SOCK_STREAM``, an :class:`NTMDatagramSocket` for ``SOCK_DGRAM``."""
    if type & ~_TYPE_FLAGS == _socket.SOCK_DGRAM:
        return NTMDatagramSocket(family, type, proto)
    return NTMSocket(family, type, proto)


def create_connection(
    address: tuple[str, int],
    timeout: Optional[float] = _GLOBAL_DEFAULT_TIMEOUT,
    source_address: Optional[tuple[str, int]] = None,
    *,
    all_errors: bool = False,
    socket_options: Optional[Iterable[tuple[Any, ...]]] = None,
) -> NTMSocket:
    """Like ``socket.create_connection`` (same arguments): resolves a node name (or numeric
    virtual address), tries each address in turn and returns a connected :class:`NTMSocket`.
    ``socket_options`` - ``(level, option, value)`` tuples, as urllib3 passes them - are set
    before connecting."""
    options = list(socket_options or ())
    host, port = address
    exceptions: list[Exception] = []
    for family, type_, proto, _canon, sockaddr in getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = None
        try:
            sock = NTMSocket(family, type_, 0)
            if timeout is not _GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            for option in options:
                sock.setsockopt(*option)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            exceptions.clear()
            return sock
        except OSError as error:
            exceptions.append(error)
            if sock is not None:
                sock.close()
    if exceptions:
        try:
            group = getattr(builtins, "ExceptionGroup", None)  # Python 3.11+
            if not all_errors or group is None:
                raise exceptions[0]
            raise group("create_connection failed", exceptions)
        finally:
            exceptions.clear()
    raise OSError("getaddrinfo returns an empty list")


def has_dualstack_ipv6() -> bool:
    """True: an AF_INET6 NTM listener can also accept IPv4 (IPV6_V6ONLY off)."""
    return True


def create_server(
    address: tuple[Any, ...],
    *,
    family: int = _socket.AF_INET,
    backlog: Optional[int] = None,
    reuse_port: bool = False,
    dualstack_ipv6: bool = False,
) -> NTMSocket:
    """Like ``socket.create_server``: a listening :class:`NTMSocket` bound to a virtual address
    (("", port) for all of this node's addresses of that family)."""
    if reuse_port:
        raise ValueError("SO_REUSEPORT not supported on NTM sockets")
    if dualstack_ipv6 and family != _socket.AF_INET6:
        raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    sock = NTMSocket(family, _socket.SOCK_STREAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0 if dualstack_ipv6 else 1)
        try:
            sock.bind(address)
        except _socket.gaierror:
            raise
        except OSError as err:
            raise OSError(err.errno, f"{err.strerror} (while attempting to bind on address {address!r})") from None
        sock.listen(backlog)
        return sock
    except BaseException:
        sock.close()
        raise
