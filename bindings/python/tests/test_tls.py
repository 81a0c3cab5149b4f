"""TLS (stdlib ssl) between the two nodes over NTM sockets, with a CA made by the test."""

from __future__ import annotations

import hashlib
import ssl

import pytest

import ntmobile
from conftest import CONTROL_PORT, PEER_NAME, PEER_V4, SELF_NAME, SELF_V4, TLS_PORT, echo_lockstep, payload


def client_context(env) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(env.tls.ca))


def test_tls_client_verifies_the_peer_and_echoes(env):
    sock = ntmobile.create_connection((PEER_NAME, TLS_PORT), timeout=20)
    with client_context(env).wrap_socket(sock, server_hostname=PEER_NAME) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        cert = tls.getpeercert()
        assert ("commonName", PEER_NAME) in (item for rdn in cert["subject"] for item in rdn)
        data = payload(4 << 20, seed=3)
        assert echo_lockstep(tls, data) == hashlib.sha256(data).hexdigest()
        with tls.makefile("rw", newline="\n") as f:
            f.write("over tls\n")
            f.flush()
            assert f.readline() == "over tls\n"


def test_tls_client_rejects_a_wrong_host_name(env):
    sock = ntmobile.create_connection((PEER_V4, TLS_PORT), timeout=20)
    with pytest.raises(ssl.SSLCertVerificationError):
        client_context(env).wrap_socket(sock, server_hostname="someone-else.example")
    sock.close()


def test_tls_server_side_on_an_accepted_ntm_socket(env):
    """We serve TLS; the peer node connects back as a TLS client verifying our certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(env.tls.self_cert), str(env.tls.self_key))
    with ntmobile.create_server(("", 7443)) as server:
        with ntmobile.create_connection((PEER_V4, CONTROL_PORT), timeout=30) as control:
            f = control.makefile("rw", newline="\n")
            f.write(f"ECHO {SELF_V4} 7443 300000 1\n")
            f.flush()
            server.settimeout(20)
            conn, _ = server.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(20)
                while chunk := tls.recv(65536):
                    tls.sendall(chunk)
            answer = f.readline().split()
            f.close()
    assert answer[0] == "OK", answer
    assert answer[1] == answer[2] and answer[3] == "300000"
    assert SELF_NAME  # the peer verified the certificate against the test CA
