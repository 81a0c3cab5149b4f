"""asyncio helpers: awaitable counterparts of asyncio.open_connection/start_server and
loop.create_datagram_endpoint over NTM sockets. The streams and transports are asyncio's own;
only the socket comes from ntmobile (connect runs in the default executor so the event loop
never waits on it)."""

from __future__ import annotations

import asyncio
import socket as _socket
from typing import Any, Awaitable, Callable, Optional, Union

from ._api import create_connection, create_server
from ._dgram import NTMDatagramSocket
from ._resolve import getaddrinfo

__all__ = ["create_datagram_endpoint", "open_connection", "sock_connect", "start_server"]

_ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Union[Awaitable[None], None]]


async def open_connection(
    host: str, port: int, *, timeout: Optional[float] = None, **kwargs: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connects to a node name (or virtual address) and returns asyncio streams. Other keyword
    arguments (``ssl``, ``server_hostname``, ``limit``...) go to ``asyncio.open_connection``;
    as there, with ``ssl`` the certificate is checked against ``host`` unless
    ``server_hostname`` says otherwise."""
    if kwargs.get("ssl") and "server_hostname" not in kwargs:
        kwargs["server_hostname"] = host
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(None, lambda: create_connection((host, port), timeout))
    try:
        return await asyncio.open_connection(sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise


async def sock_connect(sock: _socket.socket, address: tuple[Any, ...]) -> None:
    """``loop.sock_connect`` for NTM sockets: resolves node names through the node (the loop's
    own ``sock_connect`` would ask the system's DNS) and connects without blocking the loop."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sock.connect, address)


async def start_server(
    client_connected_cb: _ClientConnected,
    host: str = "",
    port: int = 0,
    *,
    family: int = _socket.AF_INET,
    backlog: Optional[int] = None,
    **kwargs: Any,
) -> asyncio.AbstractServer:
    """Listens on a virtual address and serves each connection with asyncio streams, like
    ``asyncio.start_server``. Other keyword arguments go to ``asyncio.start_server``."""
    sock = create_server((host, port), family=family, backlog=backlog)
    try:
        return await asyncio.start_server(client_connected_cb, sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise


async def create_datagram_endpoint(
    protocol_factory: Callable[[], asyncio.DatagramProtocol],
    local_addr: Optional[tuple[Any, ...]] = None,
    remote_addr: Optional[tuple[Any, ...]] = None,
    *,
    family: int = 0,
) -> tuple[asyncio.DatagramTransport, asyncio.DatagramProtocol]:
    """``loop.create_datagram_endpoint`` on an NTM datagram socket: binds it to ``local_addr``
    (default: any address, an ephemeral port), connects it to ``remote_addr`` (a node name or
    virtual address) if given, and returns asyncio's own (transport, protocol). ``family``
    defaults to the remote address's (AF_INET without one)."""
    loop = asyncio.get_running_loop()
    if not family:
        family = _socket.AF_INET
        if remote_addr is not None:
            infos = await loop.run_in_executor(
                None, lambda: getaddrinfo(remote_addr[0], remote_addr[1], 0, _socket.SOCK_DGRAM))
            family = infos[0][0]
    sock = NTMDatagramSocket(family)
    try:
        if local_addr is not None:
            sock.bind(local_addr)
        if remote_addr is not None:
            await loop.run_in_executor(None, sock.connect, remote_addr)
        return await loop.create_datagram_endpoint(protocol_factory, sock=sock)
    except BaseException:
        sock.close()
        raise
