"""HTTP over the node's virtual addresses, with the libraries applications already use.

Clients (names are node names, resolved through the node, never by DNS)::

    conn = ntmobile.http.HTTPConnection("bob.example", 8080)        # http.client
    opener = ntmobile.http.build_opener()                            # urllib
    opener.open("http://bob.example:8080/").read()
    session = ntmobile.http.requests_session()                       # requests
    client = httpx.Client(transport=ntmobile.http.HTTPXTransport())  # httpx
    client = httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport())  # httpx, asyncio

Servers (``http.server`` request handlers unchanged)::

    ntmobile.http.ThreadingHTTPServer(("", 8080), SimpleHTTPRequestHandler).serve_forever()

HTTPS works the same way (``HTTPSConnection``, ``https://`` URLs, ``ssl.SSLContext``): the
certificate is checked against the node name. Proxies from the environment are never used for
these connections (they could not reach a virtual address).

The ``requests``/``urllib3`` and ``httpx`` parts load those libraries only when used.
"""

from __future__ import annotations

import http.client
import http.server
import socket as _socket
import sys
import time
import urllib.request
from typing import Any, Optional

from ._api import create_connection
from ._stream import NTMSocket
from .server import NTMServerMixIn

__all__ = [
    "HTTPConnection",
    "HTTPSConnection",
    "HTTPHandler",
    "HTTPSHandler",
    "build_opener",
    "urlopen",
    "HTTPServer",
    "ThreadingHTTPServer",
    "requests_adapter",
    "requests_session",
    "urllib3_pool_manager",
    "HTTPXTransport",
    "AsyncHTTPXTransport",
]


# ---- http.client -----------------------------------------------------------------------------


class HTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` that connects with :func:`ntmobile.create_connection`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class HTTPSConnection(http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` over ntmobile; the certificate must name the node."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


# ---- urllib ----------------------------------------------------------------------------------


class HTTPHandler(urllib.request.HTTPHandler):
    """urllib's ``http://`` handler over ntmobile."""

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HTTPConnection, req)


class HTTPSHandler(urllib.request.HTTPSHandler):
    """urllib's ``https://`` handler over ntmobile (``context`` as ``HTTPSHandler``'s)."""

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


def build_opener(*handlers: Any, context: Any = None) -> urllib.request.OpenerDirector:
    """``urllib.request.build_opener`` whose http/https handlers go through ntmobile (and which
    ignores proxy settings: an empty ``ProxyHandler``)."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), HTTPHandler(), HTTPSHandler(context=context), *handlers
    )


def urlopen(url: Any, data: Any = None, timeout: Any = _socket._GLOBAL_DEFAULT_TIMEOUT, *, context: Any = None) -> Any:  # type: ignore[attr-defined]
    """``urllib.request.urlopen`` over ntmobile."""
    return build_opener(context=context).open(url, data, timeout)


# ---- http.server ---------------------------------------------------------------------------


class HTTPServer(NTMServerMixIn, http.server.HTTPServer):
    """``http.server.HTTPServer`` listening on the node's virtual addresses."""

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the name of the address (getfqdn); the node
        # knows its own name.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = _node_name() or str(host)
        self.server_port = port


class ThreadingHTTPServer(NTMServerMixIn, http.server.ThreadingHTTPServer):
    """``http.server.ThreadingHTTPServer`` listening on the node's virtual addresses."""

    server_bind = HTTPServer.server_bind


def _node_name() -> Optional[str]:
    from . import _ntm

    try:
        return str(_ntm.node_info()["name"]) or None
    except Exception:  # noqa: BLE001 - a server name is cosmetic
        return None


# ---- requests / urllib3 (when installed) --------------------------------------------------------


def _urllib3_classes() -> tuple[Any, Any, Any]:
    """urllib3 connection classes and pools over ntmobile, built on first use."""
    cached = getattr(_urllib3_classes, "cached", None)
    if cached is not None:
        return cached
    import urllib3
    from urllib3 import connection, connectionpool, exceptions, poolmanager
    from urllib3.util import timeout as timeout_util

    default_timeout = getattr(timeout_util, "_DEFAULT_TIMEOUT", None)

    class _NTMConnect:
        def _new_conn(self: Any) -> NTMSocket:
            timeout = self.timeout
            if timeout is default_timeout or timeout is _socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                timeout = _socket.getdefaulttimeout()
            try:
                sock = create_connection(
                    (self._dns_host, self.port),
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except _socket.gaierror as e:
                raise exceptions.NameResolutionError(self.host, self, e) from e
            except _socket.timeout as e:
                raise exceptions.ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={timeout})"
                ) from e
            except OSError as e:
                raise exceptions.NewConnectionError(
                    self, f"Failed to establish a new connection: {e}"
                ) from e
            if hasattr(sys, "audit"):
                sys.audit("http.client.connect", self, self.host, self.port)
            return sock

    class NTMHTTPConnection(_NTMConnect, connection.HTTPConnection):
        pass

    class NTMHTTPSConnection(_NTMConnect, connection.HTTPSConnection):
        pass

    class NTMHTTPConnectionPool(connectionpool.HTTPConnectionPool):
        ConnectionCls = NTMHTTPConnection

    class NTMHTTPSConnectionPool(connectionpool.HTTPSConnectionPool):
        ConnectionCls = NTMHTTPSConnection

    class NTMPoolManager(poolmanager.PoolManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pool_classes_by_scheme = {"http": NTMHTTPConnectionPool, "https": NTMHTTPSConnectionPool}

    _ = urllib3
    result = (NTMPoolManager, NTMHTTPConnectionPool, NTMHTTPSConnectionPool)
    setattr(_urllib3_classes, "cached", result)
    return result


def urllib3_pool_manager(**kwargs: Any) -> Any:
    """A ``urllib3.PoolManager`` whose connections go through ntmobile."""
    return _urllib3_classes()[0](**kwargs)


def requests_adapter(**kwargs: Any) -> Any:
    """A ``requests`` transport adapter over ntmobile: ``session.mount("http://", adapter)``
    (and ``"https://"``). Keyword arguments go to ``requests.adapters.HTTPAdapter``."""
    from requests.adapters import HTTPAdapter

    manager_class = _urllib3_classes()[0]

    class NTMAdapter(HTTPAdapter):
        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
            self._pool_connections = connections
            self._pool_maxsize = maxsize
            self._pool_block = block
            self.poolmanager = manager_class(num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            raise ValueError("ntmobile connections do not go through proxies")

    return NTMAdapter(**kwargs)


def requests_session() -> Any:
    """A ``requests.Session`` whose http and https requests go through ntmobile (and which
    ignores proxy settings from the environment)."""
    import requests

    session = requests.Session()
    session.trust_env = False
    adapter = requests_adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# ---- httpx (when installed) ------------------------------------------------------------------


def HTTPXTransport(*, verify: Any = True, cert: Any = None, http1: bool = True, http2: bool = False, **pool_kwargs: Any) -> Any:
    """An ``httpx.HTTPTransport`` whose connections go through ntmobile (an httpcore network
    backend): ``httpx.Client(transport=ntmobile.http.HTTPXTransport())``."""
    import httpcore
    import httpx
    from httpcore._backends.sync import SyncStream

    class NTMNetworkBackend(httpcore.NetworkBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: Optional[float] = None,
            local_address: Optional[str] = None,
            socket_options: Any = None,
        ) -> Any:
            source = (local_address, 0) if local_address else None
            try:
                sock = create_connection((host, port), timeout, source_address=source, socket_options=socket_options)
            except _socket.timeout as e:
                raise httpcore.ConnectTimeout(str(e)) from e
            except OSError as e:
                raise httpcore.ConnectError(str(e)) from e
            return SyncStream(sock)

        def connect_unix_socket(self, path: str, timeout: Optional[float] = None, socket_options: Any = None) -> Any:
            raise httpcore.ConnectError("ntmobile carries TCP only")

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    transport = httpx.HTTPTransport(verify=verify, cert=cert, http1=http1, http2=http2)
    ssl_context = transport._pool._ssl_context  # the context httpx built from verify/cert
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context, http1=http1, http2=http2, network_backend=NTMNetworkBackend(), **pool_kwargs
    )
    return transport


def AsyncHTTPXTransport(*, verify: Any = True, cert: Any = None, http1: bool = True, http2: bool = False, **pool_kwargs: Any) -> Any:
    """An ``httpx.AsyncHTTPTransport`` whose connections are asyncio streams over ntmobile sockets
    (as ``ntmobile.open_connection`` makes them; an httpcore async network backend):
    ``httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport())``. Names are resolved by
    the node. Runs on asyncio (not trio); HTTPS needs Python 3.11+ (``StreamWriter.start_tls``)."""
    import asyncio
    import ssl

    import httpcore
    import httpx


    async def timed(awaitable: Any, timeout: Optional[float], on_timeout: type, on_error: type) -> Any:
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError as e:
            raise on_timeout(str(e) or "timed out") from e
        except (OSError, ssl.SSLError, EOFError) as e:
            raise on_error(str(e)) from e

    class NTMAsyncStream(httpcore.AsyncNetworkStream):
        def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._reader, self._writer = reader, writer

        async def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
            data: bytes = await timed(self._reader.read(max_bytes), timeout, httpcore.ReadTimeout, httpcore.ReadError)
            return data

        async def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
            if not buffer:
                return
            self._writer.write(buffer)
            await timed(self._writer.drain(), timeout, httpcore.WriteTimeout, httpcore.WriteError)

        async def aclose(self) -> None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass  # closing a connection the peer already dropped

        async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: Optional[str] = None, timeout: Optional[float] = None) -> Any:
            if not hasattr(self._writer, "start_tls"):
                await self.aclose()
                raise httpcore.ConnectError("HTTPS through AsyncHTTPXTransport needs Python 3.11+")
            try:
                await timed(
                    self._writer.start_tls(ssl_context, server_hostname=server_hostname),
                    timeout, httpcore.ConnectTimeout, httpcore.ConnectError,
                )
            except BaseException:
                await self.aclose()
                raise
            return self

        def get_extra_info(self, info: str) -> Any:
            if info == "ssl_object":
                return self._writer.get_extra_info("ssl_object")
            if info == "client_addr":
                return self._writer.get_extra_info("sockname")
            if info == "server_addr":
                return self._writer.get_extra_info("peername")
            if info == "socket":
                return self._writer.get_extra_info("socket")
            if info == "is_readable":
                # An idle pooled connection that is readable was closed (or broken) by the
                # server: asyncio has already read that into the stream.
                return self._reader.at_eof() or self._reader.exception() is not None
            return None

    class NTMAsyncNetworkBackend(httpcore.AsyncNetworkBackend):
        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: Optional[float] = None,
            local_address: Optional[str] = None,
            socket_options: Any = None,
        ) -> Any:
            # As ntmobile.open_connection: the connect (names resolved by the node) runs off the
            # loop, then asyncio streams over the socket.
            source = (local_address, 0) if local_address else None
            loop = asyncio.get_running_loop()
            try:
                sock = await loop.run_in_executor(
                    None,
                    lambda: create_connection((host, port), timeout, source_address=source, socket_options=socket_options),
                )
            except _socket.timeout as e:
                raise httpcore.ConnectTimeout(str(e) or "timed out") from e
            except OSError as e:
                raise httpcore.ConnectError(str(e)) from e
            try:
                reader, writer = await asyncio.open_connection(sock=sock)
            except BaseException:
                sock.close()
                raise
            return NTMAsyncStream(reader, writer)

        async def connect_unix_socket(self, path: str, timeout: Optional[float] = None, socket_options: Any = None) -> Any:
            raise httpcore.ConnectError("ntmobile carries TCP only")

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

    transport = httpx.AsyncHTTPTransport(verify=verify, cert=cert, http1=http1, http2=http2)
    ssl_context = transport._pool._ssl_context  # the context httpx built from verify/cert
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, http1=http1, http2=http2, network_backend=NTMAsyncNetworkBackend(), **pool_kwargs
    )
    return transport
