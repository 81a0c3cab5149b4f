"""`ntm up` on loopback in static-peer mode: two nodes (alice, bob), real programs on each side
(curl, socat, Python's http.server and urllib, plain sockets), both directions, bytes checked.
Needs no root and no servers; the control-plane and NAT cases are in test_netns.py."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (COMMAND_TIMEOUT_S, HalfCloseServer, NtmUp, UdpEcho, free_port,
                      half_close_roundtrip, keypair, ntm_program, sha256_file, wait_until)

BLOB_SIZE = 4 << 20
LOCAL = "127.0.0.1"


class Net:
    """Alice and bob with every kind of service; ports are picked free at set-up."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.web_dir = os.path.join(tmp, "www")
        os.makedirs(self.web_dir)
        self.blob = os.path.join(self.web_dir, "blob.bin")
        with open(self.blob, "wb") as f:
            f.write(os.urandom(BLOB_SIZE))
        self.blob_sha = sha256_file(self.blob)
        self.ports = {k: free_port() for k in (
            "web", "alice_udp", "bob_udp", "fwd_web", "fwd_half", "fwd_udp", "socks", "http",
            "dns", "bob_fwd_web", "reload")}
        self.ports["dns"] = free_port(socket.SOCK_DGRAM)
        self.ports["fwd_udp"] = free_port(socket.SOCK_DGRAM)
        # Real services: one web server (served to both sides), a half-close echo, a UDP echo.
        self.web = subprocess.Popen(
            ["python3", "-m", "http.server", str(self.ports["web"]), "--bind", LOCAL,
             "--directory", self.web_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: listening(self.ports["web"]), 15, "http.server listening")
        self.half = HalfCloseServer()
        self.udp = UdpEcho()
        a_priv, a_pub = keypair()
        b_priv, b_pub = keypair()
        p = self.ports
        self.alice_conf = os.path.join(tmp, "alice.conf")
        self.alice_sock = os.path.join(tmp, "alice.sock")
        self.alice_base = f"""# alice: forwards into bob, proxies, DNS
name = alice.example
key = {a_priv}
vip4 = 100.64.0.1
vip6 = fd00:6e74:6d::1
listen = {LOCAL}:{p['alice_udp']}
peer = bob.example,{b_pub},{LOCAL}:{p['bob_udp']},100.64.0.2,fd00:6e74:6d::2
control-socket = {self.alice_sock}
forward {LOCAL}:{p['fwd_web']} -> bob.example:80
forward tcp {LOCAL}:{p['fwd_half']} -> bob.example:7000
forward udp {LOCAL}:{p['fwd_udp']} -> bob.example:7
socks5 = {LOCAL}:{p['socks']}
http-proxy = {LOCAL}:{p['http']}
dns = {LOCAL}:{p['dns']}
expose 8080 -> {LOCAL}:{p['web']}
"""
        with open(self.alice_conf, "w") as f:
            f.write(self.alice_base)
        bob_conf = os.path.join(tmp, "bob.conf")
        self.bob_sock = os.path.join(tmp, "bob.sock")
        with open(bob_conf, "w") as f:
            f.write(f"""name = bob.example
key = {b_priv}
vip4 = 100.64.0.2
vip6 = fd00:6e74:6d::2
listen = {LOCAL}:{p['bob_udp']}
peer = alice.example,{a_pub},{LOCAL}:{p['alice_udp']},100.64.0.1,fd00:6e74:6d::1
control-socket = {self.bob_sock}
expose 80 -> {LOCAL}:{p['web']}
expose 7000 -> {LOCAL}:{self.half.port}
expose udp 7 -> {LOCAL}:{self.udp.port}
forward {LOCAL}:{p['bob_fwd_web']} -> alice.example:8080
""")
        self.bob = NtmUp("bob", bob_conf, self.bob_sock)
        self.bob.wait_ready()
        self.alice = NtmUp("alice", self.alice_conf, self.alice_sock)
        self.alice.wait_ready()

    def close(self) -> dict:
        rcs = {"alice": self.alice.stop(), "bob": self.bob.stop()}
        self.web.terminate()
        self.web.wait(timeout=10)
        self.half.close()
        self.udp.close()
        return rcs


@pytest.fixture(scope="module")
def net():
    with tempfile.TemporaryDirectory(prefix="ntm-cli-test-") as tmp:
        n = Net(tmp)
        try:
            yield n
        finally:
            rcs = n.close()
        # A clean SIGTERM stop: status 0 and the control socket removed.
        assert rcs == {"alice": 0, "bob": 0}, rcs
        assert not os.path.exists(n.alice_sock) and not os.path.exists(n.bob_sock)


def curl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", str(int(timeout)), *args],
                          capture_output=True, timeout=timeout + 10)


def curl_sha(*args: str) -> str:
    r = curl("-o", "-", *args)
    assert r.returncode == 0, r.stderr.decode()
    return hashlib.sha256(r.stdout).hexdigest()


# ---- TCP: forward, expose, proxies ------------------------------------------------------------

def test_curl_through_a_forward_gets_the_file(net):
    assert curl_sha(f"http://{LOCAL}:{net.ports['fwd_web']}/blob.bin") == net.blob_sha


def test_the_other_direction_bob_reaches_alices_exposed_port(net):
    assert curl_sha(f"http://{LOCAL}:{net.ports['bob_fwd_web']}/blob.bin") == net.blob_sha


def test_curl_socks5_hostname_resolves_peer_names_through_the_node(net):
    assert curl_sha("--socks5-hostname", f"{LOCAL}:{net.ports['socks']}",
                    "http://bob.example/blob.bin") == net.blob_sha
    # A virtual address works too, and IPv6 virtual addresses.
    assert curl_sha("--socks5", f"{LOCAL}:{net.ports['socks']}",
                    "http://100.64.0.2/blob.bin") == net.blob_sha
    assert curl_sha("--socks5-hostname", f"{LOCAL}:{net.ports['socks']}",
                    "http://[fd00:6e74:6d::2]/blob.bin") == net.blob_sha


def test_socks5_reports_a_refused_connection(net):
    r = curl("--socks5-hostname", f"{LOCAL}:{net.ports['socks']}", "http://bob.example:81/",
             timeout=20)
    assert r.returncode == 97, r.stderr  # curl: "connection to proxy closed" / refused by proxy
    r = curl("--socks5-hostname", f"{LOCAL}:{net.ports['socks']}", "http://nobody.example/",
             timeout=20)
    assert r.returncode == 97, r.stderr


def test_http_proxy_plain_and_connect(net):
    proxy = f"http://{LOCAL}:{net.ports['http']}"
    assert curl_sha("-x", proxy, "http://bob.example/blob.bin") == net.blob_sha
    assert curl_sha("-p", "-x", proxy, "http://bob.example/blob.bin") == net.blob_sha
    r = curl("-x", proxy, "-o", "/dev/null", "-w", "%{http_code}", "http://nobody.example/",
             timeout=20)
    assert r.stdout == b"502", r


def test_python_urllib_through_the_http_proxy(net):
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": f"http://{LOCAL}:{net.ports['http']}"}))
    with opener.open("http://bob.example/blob.bin", timeout=60) as r:
        assert hashlib.sha256(r.read()).hexdigest() == net.blob_sha


def test_half_close_is_passed_on_both_ways(net):
    payload = os.urandom(1 << 20)
    answer = half_close_roundtrip(LOCAL, net.ports["fwd_half"], payload)
    assert answer == hashlib.sha256(payload).hexdigest()


def test_socat_sends_a_file_and_gets_the_answer_after_its_end_of_stream(net, tmp_path):
    data = tmp_path / "data"
    data.write_bytes(os.urandom(300_000))
    r = subprocess.run(["socat", "-t", "30", "-", f"TCP:{LOCAL}:{net.ports['fwd_half']}"],
                       stdin=open(data, "rb"), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == hashlib.sha256(data.read_bytes()).hexdigest()


def test_many_connections_at_once(net):
    url = f"http://{LOCAL}:{net.ports['fwd_web']}/blob.bin"

    def fetch(_):
        with urllib.request.urlopen(url, timeout=120) as r:
            return hashlib.sha256(r.read()).hexdigest()
    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(fetch, range(64)))
    assert results == [net.blob_sha] * 64


# ---- UDP ------------------------------------------------------------------------------------

def test_udp_forward_echoes_datagrams(net):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for i in range(20):
            msg = os.urandom(1 + i * 50)
            s.sendto(msg, (LOCAL, net.ports["fwd_udp"]))
            assert s.recvfrom(65535)[0] == msg


def test_socks5_udp_associate(net):
    with socket.create_connection((LOCAL, net.ports["socks"]), timeout=10) as ctl:
        ctl.sendall(b"\x05\x01\x00")
        assert ctl.recv(2) == b"\x05\x00"
        ctl.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        reply = ctl.recv(10)
        assert reply[:2] == b"\x05\x00" and reply[3] == 1, reply
        relay = (socket.inet_ntoa(reply[4:8]), struct.unpack(">H", reply[8:10])[0])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            name = b"bob.example"
            for i in range(5):
                msg = b"datagram %d " % i + os.urandom(100)
                u.sendto(b"\x00\x00\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", 7)
                         + msg, relay)
                data = u.recv(65535)
                # RSV FRAG, then the source: IPv4 100.64.0.2 port 7.
                assert data[:4] == b"\x00\x00\x00\x01", data[:10]
                assert data[4:8] == socket.inet_aton("100.64.0.2")
                assert struct.unpack(">H", data[8:10])[0] == 7
                assert data[10:] == msg


# ---- DNS ------------------------------------------------------------------------------------

def dns_query(port: int, name: str, qtype: int) -> tuple[int, list[bytes]]:
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(q, (LOCAL, port))
        r = s.recv(1500)
    assert struct.unpack(">H", r[:2])[0] == qid
    rcode = r[3] & 0x0F
    ancount = struct.unpack(">H", r[6:8])[0]
    at = len(q)
    answers = []
    for _ in range(ancount):
        rdlen = struct.unpack(">H", r[at + 10:at + 12])[0]
        answers.append(r[at + 12:at + 12 + rdlen])
        at += 12 + rdlen
    return rcode, answers


def test_dns_answers_peer_names(net):
    p = net.ports["dns"]
    assert dns_query(p, "bob.example", 1) == (0, [socket.inet_aton("100.64.0.2")])
    assert dns_query(p, "BOB.example", 28) == (
        0, [socket.inet_pton(socket.AF_INET6, "fd00:6e74:6d::2")])
    assert dns_query(p, "alice.example", 1) == (0, [socket.inet_aton("100.64.0.1")])
    assert dns_query(p, "nobody.example", 1) == (3, [])   # NXDOMAIN
    assert dns_query(p, "www.elsewhere.test", 1) == (5, [])  # REFUSED: not our domain


# ---- inspecting ----------------------------------------------------------------------------

def test_status_json_shows_the_tunnel_and_counters(net):
    curl_sha(f"http://{LOCAL}:{net.ports['fwd_web']}/blob.bin")
    s = net.alice.status()
    assert s["node"]["name"] == "alice.example"
    assert s["node"]["mode"] == "static-peer"
    assert s["node"]["virtual_ipv4"] == "100.64.0.1"
    (t,) = [t for t in s["tunnels"] if t["peer"] == "bob.example"]
    assert t["state"] == "up" and t["path"] == "direct"
    assert t["endpoint"] == f"{LOCAL}:{net.ports['bob_udp']}"
    assert t["bytes_received"] >= BLOB_SIZE and t["last_handshake_ms"] >= 0
    assert s["stats"]["handshakes_completed"] >= 1 and "dc_keepalives_sent" in s["stats"]
    assert any(e["type"] == "tunnel_up" for e in s["events"])


def test_status_and_peers_print_the_tunnel_table(net):
    out = net.alice.ctl("status").stdout
    assert "alice.example" in out and "PEER" in out
    row = [l for l in out.splitlines() if l.startswith("bob.example")]
    assert row and " up " in row[0] and "direct" in row[0], out
    peers = net.alice.ctl("peers").stdout
    assert any(l.startswith("bob.example") for l in peers.splitlines()), peers
    rows = json.loads(net.alice.ctl("peers", "--json").stdout)
    assert [r["peer"] for r in rows] == ["bob.example"]


def test_ping_measures_the_tunnel_round_trip(net):
    r = net.alice.ctl("ping", "bob.example", "-c", "3", "-i", "50", "--json")
    answers = json.loads(r.stdout)
    assert len(answers) == 3
    for a in answers:
        assert a["path"] == "direct" and 0 < a["rtt_us"] < 2_000_000, a
    out = net.alice.ctl("ping", "fd00:6e74:6d::2", "-c", "1").stdout
    assert out.startswith("pong from bob.example (fd00:6e74:6d::2) via direct"), out
    # The RTT of the tunnel row is known (handshake and ping samples).
    (t,) = net.alice.status()["tunnels"]
    assert t["rtt_us"] > 0
    bad = net.alice.ctl("ping", "nobody.example", "-c", "1", check=False)
    assert bad.returncode == 1 and "unknown peer" in bad.stderr


def test_control_socket_is_owner_only(net):
    mode = os.stat(net.alice_sock).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_control_api_answers_a_bad_request_with_an_error(net):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(net.alice_sock)
        s.sendall(b'{"command":"fly"}\n')
        reply = json.loads(s.makefile().read())
    assert "unknown command" in reply["error"]


# ---- reload and configuration errors --------------------------------------------------------

def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((LOCAL, port)) == 0


def test_sighup_adds_and_removes_forwards(net):
    port = net.ports["reload"]
    assert not listening(port)
    with open(net.alice_conf, "a") as f:
        f.write(f"forward {LOCAL}:{port} -> bob.example:80\n")
    net.alice.hup()
    wait_until(lambda: listening(port), 10, "the added forward listening")
    assert curl_sha(f"http://{LOCAL}:{port}/blob.bin") == net.blob_sha
    # Unchanged rules keep running; a broken file keeps the running rules.
    with open(net.alice_conf, "a") as f:
        f.write("forward nonsense\n")
    net.alice.hup()
    wait_until(lambda: net.alice.log_has("keeping the running rules"), 10, "reload refused")
    assert listening(port)
    with open(net.alice_conf, "w") as f:
        f.write(net.alice_base)
    net.alice.hup()
    wait_until(lambda: not listening(port), 10, "the removed forward closed")
    assert curl_sha(f"http://{LOCAL}:{net.ports['fwd_web']}/blob.bin") == net.blob_sha


def test_bad_config_names_the_line_and_exits_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("name = x.example\nforward 127.0.0.1:99999 -> bob.example:80\n")
    r = subprocess.run([ntm_program(), "up", "-c", str(conf)], capture_output=True, text=True,
                       timeout=COMMAND_TIMEOUT_S)
    assert r.returncode == 2
    assert f"{conf}:2:" in r.stderr and "99999" in r.stderr, r.stderr
    r = subprocess.run([ntm_program(), "up", "--name", "x.example"], capture_output=True,
                       text=True, timeout=COMMAND_TIMEOUT_S)
    assert r.returncode == 2 and "key" in r.stderr, r.stderr


def test_status_without_a_node_says_so(tmp_path):
    r = subprocess.run([ntm_program(), "status", "--socket", str(tmp_path / "none.sock")],
                       capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    assert r.returncode == 1 and "is 'ntm up' running?" in r.stderr
