"""``socketserver`` servers that listen on the node's virtual addresses.

:class:`NTMTCPServer` is a ``socketserver.TCPServer`` whose socket is an :class:`NTMSocket`;
everything else - request handlers (``StreamRequestHandler`` with
``disable_nagle_algorithm``...), ``serve_forever``, ``shutdown``, the threading and forking
mix-ins - is the standard library's own::

    class Echo(socketserver.StreamRequestHandler):
        disable_nagle_algorithm = True
        def handle(self):
            self.wfile.write(self.rfile.readline())

    with ntmobile.server.ThreadingNTMTCPServer(("", 7000), Echo) as server:
        server.serve_forever()

``server_address`` takes ``("", port)`` for every virtual address of the family, a virtual
address, or this node's name. ``ssl_context=`` serves TLS: each accepted connection is wrapped
(the handshake runs in the handler, on the first read) - a listening NTM socket itself cannot be
wrapped, so the usual ``server.socket = ctx.wrap_socket(server.socket)`` does not apply. SO_REUSEPORT does not exist on NTM sockets
(``allow_reuse_port`` must stay False).
"""

from __future__ import annotations

import socket as _socket
import socketserver
import ssl
from typing import Any, Callable, Optional

from ._stream import NTMSocket

__all__ = ["NTMServerMixIn", "NTMTCPServer", "ThreadingNTMTCPServer"]


class NTMServerMixIn:
    """Makes a ``socketserver.TCPServer`` (or subclass) listen on an NTM socket. Put it first
    in the bases: ``class S(NTMServerMixIn, socketserver.TCPServer)``."""

    address_family: int
    socket_type: int
    socket: Any

    def __init__(
        self,
        server_address: Any,
        RequestHandlerClass: Callable[..., Any],
        bind_and_activate: bool = True,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        # TCPServer.__init__ makes a kernel socket; only BaseServer's part is wanted.
        socketserver.BaseServer.__init__(self, server_address, RequestHandlerClass)  # type: ignore[arg-type]
        self.ssl_context = ssl_context
        self.socket = NTMSocket(self.address_family, self.socket_type)
        if bind_and_activate:
            try:
                self.server_bind()  # type: ignore[attr-defined]
                self.server_activate()  # type: ignore[attr-defined]
            except BaseException:
                self.server_close()  # type: ignore[attr-defined]
                raise

    def get_request(self) -> tuple[Any, Any]:
        conn, address = self.socket.accept()
        if self.ssl_context is not None:
            conn = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address


class NTMTCPServer(NTMServerMixIn, socketserver.TCPServer):
    """``socketserver.TCPServer`` on the node's virtual addresses."""

    allow_reuse_address = True


class ThreadingNTMTCPServer(socketserver.ThreadingMixIn, NTMTCPServer):
    """One thread per connection, as ``socketserver.ThreadingTCPServer``."""

    daemon_threads = True


# The IPv6 variants are the same classes with address_family = socket.AF_INET6.
del _socket
