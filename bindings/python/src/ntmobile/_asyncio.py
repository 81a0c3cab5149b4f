"""asyncio helpers: awaitable counterparts of asyncio.open_connection/start_server over NTM
sockets. The streams are asyncio's own; only the socket comes from ntmobile (connect runs in
the default executor so the event loop never waits on it)."""

from __future__ import annotations

import asyncio
import socket as _socket
from typing import Any, Awaitable, Callable, Optional, Union

from ._api import create_connection, create_server

__all__ = ["open_connection", "sock_connect", "start_server"]

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
