"""asyncio streams over NTM sockets: asyncio's own transports on the bridged descriptors."""

from __future__ import annotations

import asyncio
import hashlib

import ntmobile
from conftest import CONTROL_PORT, ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6, SELF_V4, payload


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_asyncio_client_over_an_ntm_socket(env):
    async def client() -> None:
        sock = ntmobile.create_connection((PEER_V6, ECHO_PORT), timeout=10)
        reader, writer = await asyncio.open_connection(sock=sock)
        assert writer.get_extra_info("peername")[:2] == (PEER_V6, ECHO_PORT)
        data = payload(1 << 20, seed=7)
        writer.write(data)
        await writer.drain()
        echoed = await reader.readexactly(len(data))
        assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
        writer.write(b"one line\n")
        assert await reader.readline() == b"one line\n"
        writer.close()
        await writer.wait_closed()

    run(client())


def test_asyncio_server_serves_the_peer_and_an_asyncio_client_drives_it(env):
    async def main() -> None:
        served: list[tuple] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            served.append(writer.get_extra_info("peername"))
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        listener = ntmobile.create_server(("", 7400))
        server = await asyncio.start_server(handle, sock=listener)
        async with server:
            assert server.sockets[0].getsockname() == ("0.0.0.0", 7400)
            # The asyncio client: our control connection, asking the peer node to dial back.
            reader, writer = await ntmobile.open_connection(PEER_NAME, CONTROL_PORT, timeout=10)
            writer.write(f"ECHO {SELF_V4} 7400 2000000 0\n".encode())
            await writer.drain()
            answer = (await reader.readline()).decode().split()
            writer.close()
            await writer.wait_closed()
        assert answer[0] == "OK", answer
        assert answer[1] == answer[2] and answer[3] == "2000000"
        assert served and served[0][0] == PEER_V4

    run(main())


def test_ntmobile_start_server_helper(env):
    async def main() -> None:
        async def handle(reader, writer) -> None:
            data = await reader.readexactly(5)
            writer.write(data.upper())
            await writer.drain()
            writer.close()

        server = await ntmobile.start_server(handle, "", 7401)
        async with server:
            reader, writer = await ntmobile.open_connection(PEER_V4, CONTROL_PORT, timeout=10)
            writer.write(f"ECHO {SELF_V4} 7401 5 0\n".encode())
            await writer.drain()
            # The peer sends 5 pseudo-random bytes; our handler echoes them "upper-cased".
            answer = (await reader.readline()).decode().split()
            writer.close()
        assert answer[0] == "OK" and answer[3] == "5", answer
        data = payload(5, seed=5)
        import hashlib as h

        assert answer[2] == h.sha256(data.upper()).hexdigest()

    run(main())


def test_open_connection_with_ssl_checks_the_certificate_against_the_node_name(env):
    import ssl

    from conftest import TLS_PORT

    async def main() -> None:
        context = ssl.create_default_context(cafile=str(env.tls.ca))
        reader, writer = await ntmobile.open_connection(PEER_NAME, TLS_PORT, ssl=context, timeout=20)
        cert = writer.get_extra_info("peercert")
        assert ("commonName", PEER_NAME) in (item for rdn in cert["subject"] for item in rdn)
        writer.write(b"tls line\n")
        assert await reader.readline() == b"tls line\n"
        writer.close()
        await writer.wait_closed()

    run(main())


def test_sock_connect_resolves_node_names_through_the_node(env, monkeypatch):
    import socket as socket_module

    def no_dns(*args, **kwargs):
        raise AssertionError(f"system DNS asked: {args}")

    monkeypatch.setattr(socket_module, "getaddrinfo", no_dns)

    async def main() -> None:
        sock = ntmobile.socket()
        sock.setblocking(False)
        await ntmobile.sock_connect(sock, (PEER_NAME, ECHO_PORT))
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(sock, b"via sock_connect")
        assert await loop.sock_recv(sock, 100) == b"via sock_connect"
        sock.close()

    run(main())
