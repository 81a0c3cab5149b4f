"""The node API: keys, info, tunnel snapshot, stats, events, lifecycle."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
import threading
import time

import ntmobile
from conftest import ECHO_PORT, PEER_NAME, PEER_V4, PEER_V6, SELF_NAME, SELF_V4, SELF_V6


def test_version_matches_the_header():
    assert re.fullmatch(r"\d+\.\d+\.\d+", ntmobile.version())
    from ntmobile import _ntm

    assert ntmobile.version().split(".")[0] == str(_ntm.HEADER_VERSION[0])


def test_keypair_generation_and_public_key_derivation():
    keys = ntmobile.generate_keypair()
    assert len(keys.private_key) == 44 and len(keys.public_key) == 44
    assert ntmobile.public_key_from_private(keys.private_key) == keys.public_key
    assert ntmobile.generate_keypair() != keys


def test_node_info_reports_identity_and_addresses(env):
    info = env.node.info()
    assert info.name == SELF_NAME
    assert info.virtual_ipv4 == SELF_V4 and info.virtual_ipv6 == SELF_V6
    assert re.fullmatch(r"[0-9a-f]{16}", info.node_id)
    assert re.fullmatch(r"127\.0\.0\.1:\d+", info.endpoint_ipv4)
    assert info.endpoint_ipv6 == ""
    assert info.mtu == 1420
    assert env.node.running and ntmobile.is_running()


def test_getaddrinfo_returns_socket_module_shapes(env):
    entries = ntmobile.getaddrinfo(PEER_NAME, ECHO_PORT, type=socket.SOCK_STREAM)
    assert [(e[0], e[4]) for e in entries] == [
        (socket.AF_INET, (PEER_V4, ECHO_PORT)),
        (socket.AF_INET6, (PEER_V6, ECHO_PORT, 0, 0)),
    ]
    family, kind, proto, canon, _ = entries[0]
    assert isinstance(family, socket.AddressFamily) and kind is socket.SOCK_STREAM
    assert proto == socket.IPPROTO_TCP and canon == ""
    assert ntmobile.getaddrinfo(PEER_NAME, None, socket.AF_INET6, flags=socket.AI_CANONNAME)[0][3] == PEER_NAME
    assert ntmobile.getaddrinfo(SELF_NAME, "7", socket.AF_INET, socket.SOCK_DGRAM) == [
        (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP, "", (SELF_V4, 7))
    ]
    assert ntmobile.getaddrinfo(PEER_V6, 80)[0][4] == (PEER_V6, 80, 0, 0)


def test_tunnel_snapshot_shows_the_peer_up_with_traffic(env):
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        sock.sendall(b"count me")
        assert sock.recv(100) == b"count me"
    rows = {t.peer_name: t for t in env.node.tunnels()}
    bob = rows[PEER_NAME]
    assert bob.state is ntmobile.TunnelState.UP
    assert bob.path is ntmobile.PathKind.DIRECT
    assert bob.endpoint == env.peer_info["endpoint_ipv4"]
    assert bob.virtual_ipv4 == PEER_V4 and bob.virtual_ipv6 == PEER_V6
    assert bob.bytes_sent > 0 and bob.bytes_received > 0 and bob.packets_received > 0
    assert bob.peer_node_id == env.peer_info["node_id"]
    stats = env.node.stats()
    assert stats.handshakes_completed >= 1 and stats.packets_received > 0
    assert stats.dropped_auth == 0


def test_events_arrive_on_the_library_thread(env):
    # Traffic makes sure the tunnel came up at least once.
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10):
        pass
    assert env.events.wait_for(
        lambda evs: any(e.type is ntmobile.EventType.TUNNEL_UP and e.peer_name == PEER_NAME for e in evs),
        timeout=10,
    )
    first = env.events.events[0]
    assert first.type is ntmobile.EventType.STARTED and first.peer_name == ""
    up = next(e for e in env.events.events if e.type is ntmobile.EventType.TUNNEL_UP)
    assert up.peer_node_id == env.peer_info["node_id"] and up.path is ntmobile.PathKind.DIRECT
    assert threading.main_thread().name not in env.events.threads


def test_lifecycle_in_a_fresh_process():
    """Context manager, stop, start again with other options, callback errors, stop events."""
    code = textwrap.dedent(
        """
        import sys, threading, ntmobile
        key = ntmobile.generate_keypair().private_key
        seen, unraisable = [], []
        sys.unraisablehook = lambda u: unraisable.append(u.exc_value)
        def on_event(e):
            seen.append(e.type)
            raise RuntimeError("handler bug")
        with ntmobile.Node("a.example", key, virtual_ipv4="100.64.1.1", listen_ipv4="127.0.0.1:0",
                           listen_ipv6="", on_event=on_event) as node:
            assert node.running and node.info().virtual_ipv4 == "100.64.1.1"
            sock = ntmobile.socket(ntmobile.AF_INET, ntmobile.SOCK_DGRAM)
        assert not node.running and not ntmobile.is_running()
        try:
            sock.recv(1)  # stop closed every ntm socket
        except OSError as e:
            assert e.errno == 9, e
        else:
            raise SystemExit("socket survived stop")
        assert seen[0] == ntmobile.EventType.STARTED and seen[-1] == ntmobile.EventType.STOPPING, seen
        assert unraisable and isinstance(unraisable[0], RuntimeError)
        node = ntmobile.start("b.example", key, virtual_ipv6="fd00::b", listen_ipv4="",
                              listen_ipv6="[::1]:0", cipher=ntmobile.Cipher.CHACHA20_POLY1305, mtu=1280)
        info = node.info()
        assert info.name == "b.example" and info.virtual_ipv6 == "fd00::b" and info.mtu == 1280
        assert info.endpoint_ipv6.startswith("[::1]:") and info.virtual_ipv4 == ""
        ntmobile.stop()
        # A node left running at exit is stopped by the atexit hook.
        ntmobile.start("c.example", key, virtual_ipv4="100.64.1.3", listen_ipv4="127.0.0.1:0",
                       listen_ipv6="", on_event=lambda e: None)
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr


def test_package_ships_its_library_and_type_information():
    import importlib.resources
    import os

    import ntmobile._ntm as native

    files = importlib.resources.files("ntmobile")
    assert (files / "py.typed").is_file()
    assert (files / "_ntm.pyi").is_file()
    folder = os.path.dirname(native.__file__)
    # The SONAME (docs/api-stability.md): libntm.so.MAJOR.MINOR before 1.0, libntm.so.MAJOR after.
    major, minor = native.HEADER_VERSION[0], native.HEADER_VERSION[1]
    soname = f"libntm.so.{major}.{minor}" if major == 0 else f"libntm.so.{major}"
    assert os.path.isfile(os.path.join(folder, soname))
    with open(f"/proc/{os.getpid()}/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "libntm.so" in line}
    assert loaded == {os.path.join(folder, soname)}, loaded


def test_a_network_change_keeps_an_open_connection_working(env):
    """ntm_notify_network_change: path updates go out, and the TCP session carries on."""
    with ntmobile.create_connection((PEER_V4, ECHO_PORT), timeout=10) as sock:
        sock.sendall(b"before")
        assert sock.recv(100) == b"before"
        handshakes = env.node.stats().handshakes_completed
        ntmobile.notify_network_change()
        sock.sendall(b"after the change")
        assert sock.recv(100) == b"after the change"
        # The path update is a new handshake from (here: the same) address; wait for it, bounded.
        deadline = time.monotonic() + 5
        while env.node.stats().handshakes_completed <= handshakes:
            assert time.monotonic() < deadline, "no path-update handshake completed"
            time.sleep(0.01)
