"""Name resolution over the node's names: getaddrinfo and the address normalisation that
connect/bind/sendto use (names in an address tuple are resolved here, like the socket module
does, but through the node rather than DNS)."""

from __future__ import annotations

import ipaddress
import socket as _socket
from typing import Any, Optional, Union

from . import _ntm

__all__ = ["getaddrinfo", "resolve_address"]

Address = tuple[Any, ...]
_AddrInfo = tuple[_socket.AddressFamily, _socket.SocketKind, int, str, Address]


def _host_text(host: Union[str, bytes, None]) -> Optional[str]:
    if host is None:
        return None
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii")
    if isinstance(host, str):
        return host
    raise TypeError(f"getaddrinfo() argument 1 must be string or None, not {type(host).__name__}")


def _port_text(port: Union[str, bytes, int, None], type_: int) -> Optional[str]:
    if port is None:
        return None
    if isinstance(port, int):
        return str(port)
    if isinstance(port, (bytes, bytearray)):
        port = bytes(port).decode("ascii")
    if isinstance(port, str):
        if port.isdigit() or port == "":
            return port
        try:  # a service name: the local services database, as getaddrinfo(3) would
            proto = "udp" if type_ == _socket.SOCK_DGRAM else "tcp"
            return str(_socket.getservbyname(port, proto))
        except OSError:
            raise _socket.gaierror(_socket.EAI_SERVICE, "Servname not supported for ai_socktype") from None
    raise OSError("Int or String expected")


def getaddrinfo(
    host: Union[str, bytes, None],
    port: Union[str, bytes, int, None],
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[_AddrInfo]:
    """Like ``socket.getaddrinfo``, resolving node names (this node's and its peers') and
    numeric virtual addresses through the node. Unknown names raise ``socket.gaierror``."""
    entries = _ntm.getaddrinfo(
        _host_text(host), _port_text(port, type), int(family), int(type), int(proto), int(flags)
    )
    return [
        (_socket.AddressFamily(f), _socket.SocketKind(t), p, canon, addr)
        for f, t, p, canon, addr in entries
    ]


def _is_numeric(host: str, family: int) -> bool:
    if host == "" or (host == "<broadcast>" and family == _socket.AF_INET):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return ip.version == (6 if family == _socket.AF_INET6 else 4)


def resolve_address(family: int, address: Any, type_: int) -> Address:
    """An address tuple with a numeric host, resolving a node name if needed."""
    if not isinstance(address, tuple):
        raise TypeError(
            f"{_socket.AddressFamily(family).name} address must be tuple, not {type(address).__name__}"
        )
    if len(address) < 2:
        raise TypeError("address must be a tuple (host, port, ...)")
    host = _host_text(address[0]) or ""
    if _is_numeric(host, family):
        return (host,) + tuple(address[1:])
    port = address[1]
    if not isinstance(port, int):
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    found = getaddrinfo(host, port, family, type_)
    if not found:
        raise _socket.gaierror(_socket.EAI_NONAME, "Name or service not known")
    resolved = found[0][4]
    if family == _socket.AF_INET6 and len(address) > 2:
        return (resolved[0], port) + tuple(address[2:])
    return resolved
