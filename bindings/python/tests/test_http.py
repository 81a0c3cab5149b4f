"""ntmobile.http: the standard library's and the popular HTTP clients and servers over NTM
sockets, with node names (never system DNS). This node serves; its clients connect to it by
name through the virtual stack."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading
import urllib.request

import pytest

import ntmobile
import ntmobile.http
from conftest import SELF_NAME

HTTP_PORT, HTTPS_PORT = 7680, 7681


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body: bytes) -> None:
        data = json.dumps(
            {"path": self.path, "body": body.decode(), "client": self.client_address[0]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def serve(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def http_server(env):
    with ntmobile.http.ThreadingHTTPServer(("", HTTP_PORT), Handler) as server:
        thread = serve(server)
        yield server
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def https_server(env):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(env.tls.self_cert), str(env.tls.self_key))
    with ntmobile.http.ThreadingHTTPServer(("", HTTPS_PORT), Handler, ssl_context=context) as server:
        thread = serve(server)
        yield server
        server.shutdown()
        thread.join(10)


@pytest.fixture
def no_system_dns(monkeypatch):
    """Fails any lookup of the node name through the system resolver."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host == SELF_NAME:
            raise AssertionError("system DNS asked for a node name")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def test_server_knows_its_node_name(http_server):
    assert http_server.server_name == SELF_NAME


def test_http_client_connection(http_server, no_system_dns):
    conn = ntmobile.http.HTTPConnection(SELF_NAME, HTTP_PORT, timeout=10)
    for i in range(2):  # keep-alive: the second request reuses the connection
        conn.request("POST", f"/c{i}", body=b"hello", headers={"Content-Type": "text/plain"})
        reply = json.loads(conn.getresponse().read())
        assert reply["path"] == f"/c{i}" and reply["body"] == "hello"
    assert isinstance(conn.sock, ntmobile.NTMSocket)
    conn.close()


def test_https_client_connection_checks_the_node_name(https_server, env, no_system_dns):
    context = ssl.create_default_context(cafile=str(env.tls.ca))
    conn = ntmobile.http.HTTPSConnection(SELF_NAME, HTTPS_PORT, timeout=10, context=context)
    conn.request("GET", "/secure")
    assert json.loads(conn.getresponse().read())["path"] == "/secure"
    conn.close()


def test_urllib_opener(http_server, https_server, env, no_system_dns, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # must be ignored
    with ntmobile.http.build_opener().open(f"http://{SELF_NAME}:{HTTP_PORT}/u", timeout=10) as r:
        assert json.loads(r.read())["path"] == "/u"
    context = ssl.create_default_context(cafile=str(env.tls.ca))
    with ntmobile.http.urlopen(f"https://{SELF_NAME}:{HTTPS_PORT}/s", timeout=10, context=context) as r:
        assert json.loads(r.read())["path"] == "/s"


def test_plain_urllib_would_ask_system_dns(http_server, no_system_dns):
    """The reason for the opener: the standard one resolves the node name with the system."""
    with pytest.raises(Exception):
        urllib.request.urlopen(f"http://{SELF_NAME}:{HTTP_PORT}/", timeout=5)


def test_requests_session(http_server, https_server, env, no_system_dns):
    session = ntmobile.http.requests_session()
    reply = session.post(f"http://{SELF_NAME}:{HTTP_PORT}/r", data=b"body", timeout=10)
    assert reply.status_code == 200 and reply.json() == {"path": "/r", "body": "body", "client": reply.json()["client"]}
    secure = session.get(f"https://{SELF_NAME}:{HTTPS_PORT}/rs", verify=str(env.tls.ca), timeout=10)
    assert secure.json()["path"] == "/rs"
    session.close()


def test_urllib3_pool_manager(http_server, no_system_dns):
    manager = ntmobile.http.urllib3_pool_manager()
    reply = manager.request("GET", f"http://{SELF_NAME}:{HTTP_PORT}/p", timeout=10)
    assert json.loads(reply.data)["path"] == "/p"
    manager.clear()


def test_httpx_transport(http_server, https_server, env, no_system_dns):
    import httpx  # ci/deps.d/python.sh installs requests, urllib3 and httpx
    with httpx.Client(transport=ntmobile.http.HTTPXTransport(), timeout=10) as client:
        assert client.get(f"http://{SELF_NAME}:{HTTP_PORT}/x").json()["path"] == "/x"
    context = ssl.create_default_context(cafile=str(env.tls.ca))
    with httpx.Client(transport=ntmobile.http.HTTPXTransport(verify=context), timeout=10) as client:
        assert client.get(f"https://{SELF_NAME}:{HTTPS_PORT}/xs").json()["path"] == "/xs"


def test_create_connection_takes_socket_create_connections_arguments(http_server):
    sock = ntmobile.create_connection(
        (SELF_NAME, HTTP_PORT),
        10,
        source_address=("", 0),
        all_errors=True,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)],
    )
    with sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    with pytest.raises(ExceptionGroup):
        ntmobile.create_connection(("100.64.0.77", 80), 2, all_errors=True)


def test_async_httpx_transport(http_server, https_server, env, no_system_dns):
    import asyncio

    import httpx  # the real httpx from PyPI (ci/deps.d/python.sh)

    context = ssl.create_default_context(cafile=str(env.tls.ca))

    async def main() -> None:
        async with httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport(), timeout=10) as client:
            # Concurrent requests (several pooled connections), then one that reuses one of them.
            replies = await asyncio.gather(*(client.get(f"http://{SELF_NAME}:{HTTP_PORT}/a{i}") for i in range(4)))
            assert [r.json()["path"] for r in replies] == [f"/a{i}" for i in range(4)]
            posted = await client.post(f"http://{SELF_NAME}:{HTTP_PORT}/ap", content=b"async body")
            assert posted.json()["body"] == "async body"
        async with httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport(verify=context), timeout=10) as client:
            secure = await client.get(f"https://{SELF_NAME}:{HTTPS_PORT}/axs")
            assert secure.json()["path"] == "/axs"
            assert secure.extensions["network_stream"].get_extra_info("ssl_object") is not None
        # A certificate the client does not trust fails as httpx's ConnectError.
        async with httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport(), timeout=10) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://{SELF_NAME}:{HTTPS_PORT}/untrusted")

    asyncio.run(asyncio.wait_for(main(), 60))


def test_async_httpx_transport_reports_a_refused_connection(env):
    import asyncio

    import httpx

    async def main() -> None:
        async with httpx.AsyncClient(transport=ntmobile.http.AsyncHTTPXTransport(), timeout=10) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://{SELF_NAME}:7699/")  # nothing listens there

    asyncio.run(asyncio.wait_for(main(), 30))
