"""`ntm up` across network namespaces in control-plane mode: ntm-server (AS+DC+RS) on the
namespace internet, alice behind a stock masquerade NAT, bob on the IPv4 internet, carol
IPv6-only (so alice reaches her through the relay). Unmodified programs on each side - curl,
Python's http.server, a half-close echo - talk through forwards, exposes and the SOCKS5 proxy,
both directions; `ntm status` / `ntm ping` report the paths (direct through the NAT, relay to
the IPv6-only node). Needs root (namespaces); cleans up after itself even when it fails."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import tempfile

import pytest

from conftest import NtmUp, ntm_program, server_program, wait_until

if os.geteuid() != 0:
    pytest.fail("tests/cli/test_netns.py creates network namespaces and needs root "
                "(CI runs as root)", pytrace=False)

from topology import SERVERS_IPV4, SERVERS_IPV6, Topology, endpoint  # noqa: E402

DOMAIN = "example"
AS_PORT, DC_PORT, RS_PORT = 7800, 7801, 7802
WEB_PORT = 8000            # python http.server inside each node namespace (loopback)
BLOB_SIZE = 2 << 20


def start_servers(t: Topology, state: str, accounts: dict[str, str]):
    for name, password in accounts.items():
        subprocess.run([server_program(), "accounts", "add", name, "--password", password,
                        "--state", state], check=True, capture_output=True, timeout=30)
    argv = [server_program(), "run", "--state", state, "--domain", DOMAIN]
    for ip in (SERVERS_IPV4, f"[{SERVERS_IPV6}]"):
        argv += ["--listen-as", f"{ip}:{AS_PORT}", "--listen-dc", f"{ip}:{DC_PORT}",
                 "--listen-rs", f"{ip}:{RS_PORT}"]
    p = t.run(t.servers, argv, label="ntm-server")

    def listening() -> bool:
        assert p.poll() is None, "ntm-server exited\n" + p.output()
        tcp = t.exec(t.servers, ["ss", "-Hltn"]).stdout
        udp = t.exec(t.servers, ["ss", "-Hlun"]).stdout
        return f":{AS_PORT} " in tcp and f":{DC_PORT} " in udp and f":{RS_PORT} " in udp
    wait_until(listening, 15, "ntm-server listening")
    return p


def test_unmodified_programs_across_a_nat_and_to_an_ipv6_only_node():
    with tempfile.TemporaryDirectory(prefix="ntm-cli-netns-") as tmp, \
            Topology(prefix="ntmcli" + secrets.token_hex(3)) as t:
        os.chmod(tmp, 0o755)
        alice = t.add_node("alice", kind="nat4")
        bob = t.add_node("bob", kind="global4")
        carol = t.add_node("carol", kind="v6only")
        state = os.path.join(tmp, "servers")
        passwords = {n: "pw-" + secrets.token_hex(6) for n in ("alice", "bob", "carol")}
        start_servers(t, state, passwords)
        cert = os.path.join(state, "as-tls.pem")
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        blob = os.urandom(BLOB_SIZE)
        with open(os.path.join(www, "blob.bin"), "wb") as f:
            f.write(blob)
        blob_sha = hashlib.sha256(blob).hexdigest()
        for node in (alice, bob, carol):  # each serves the file on its own loopback
            t.run(node, ["python3", "-m", "http.server", str(WEB_PORT), "--bind", "127.0.0.1",
                         "--directory", www], label=f"{node.name}:http.server")
        for node in (alice, bob, carol):
            wait_until(lambda: f":{WEB_PORT} " in t.exec(node, ["ss", "-Hltn"]).stdout, 15,
                       f"http.server listening in {node.name}")

        def up(node, server_ip: str, lines: str) -> NtmUp:
            conf = os.path.join(tmp, f"{node.name}.conf")
            with open(conf, "w") as f:
                f.write(f"server = {endpoint(server_ip, AS_PORT)}\nserver-cert = {cert}\n"
                        f"account = {node.name}\npassword = {passwords[node.name]}\n"
                        f"state = {tmp}/{node.name}-state\n"
                        f"control-socket = {tmp}/{node.name}.sock\n"
                        f"expose 80 -> 127.0.0.1:{WEB_PORT}\n" + lines)
            n = NtmUp(node.name, conf, f"{tmp}/{node.name}.sock",
                      prefix=["ip", "netns", "exec", node.ns])
            nodes.append(n)
            n.wait_ready()
            return n

        nodes: list[NtmUp] = []
        try:
            b = up(bob, SERVERS_IPV4, "forward 127.0.0.1:9001 -> alice.example:80\n")
            c = up(carol, SERVERS_IPV6, "")
            a = up(alice, SERVERS_IPV4, "forward 127.0.0.1:9000 -> bob.example:80\n"
                                        "socks5 = 127.0.0.1:1080\ndns = 127.0.0.1:5353\n")

            def curl_sha(where, *args: str) -> str:
                r = subprocess.run(["ip", "netns", "exec", where.ns, "curl", "-sS",
                                    "--max-time", "60", "-o", "-", *args],
                                   capture_output=True, timeout=90)
                assert r.returncode == 0, r.stderr.decode() + a.process.output()
                return hashlib.sha256(r.stdout).hexdigest()

            # alice (behind the NAT) -> bob through a forward, and by name through SOCKS5.
            assert curl_sha(alice, "http://127.0.0.1:9000/blob.bin") == blob_sha
            assert curl_sha(alice, "--socks5-hostname", "127.0.0.1:1080",
                            "http://bob.example/blob.bin") == blob_sha
            # bob -> alice: into the NATed node through her exposed port.
            assert curl_sha(bob, "http://127.0.0.1:9001/blob.bin") == blob_sha
            # alice -> carol (IPv6-only): only the relay joins IPv4 and IPv6.
            assert curl_sha(alice, "--socks5-hostname", "127.0.0.1:1080",
                            "http://carol.example/blob.bin") == blob_sha

            status = a.status()
            assert status["node"]["mode"] == "control-plane"
            assert status["node"]["name"] == f"alice.{DOMAIN}"
            rows = {r["peer"]: r for r in status["tunnels"]}
            assert rows[f"bob.{DOMAIN}"]["state"] == "up"
            assert rows[f"bob.{DOMAIN}"]["path"] == "direct"
            assert rows[f"carol.{DOMAIN}"]["path"] == "relay"
            assert status["stats"]["logins"] >= 1 and status["stats"]["registrations"] >= 1
            assert status["stats"]["resolves_sent"] >= 1
            table = a.ctl("status").stdout
            assert f"bob.{DOMAIN}" in table and "direct" in table and "relay" in table, table

            ping_bob = json.loads(a.ctl("ping", f"bob.{DOMAIN}", "-c", "2", "-i", "20",
                                        "--json").stdout)
            assert all(p["path"] == "direct" and p["rtt_us"] > 0 for p in ping_bob), ping_bob
            ping_carol = json.loads(a.ctl("ping", f"carol.{DOMAIN}", "-c", "1", "--json").stdout)
            assert ping_carol[0]["path"] == "relay", ping_carol
            # The DNS responder answers with the DC's addresses.
            r = t.exec(alice, ["python3", "-c", DNS_QUERY, "bob.example"])
            assert r.stdout.strip() == rows[f"bob.{DOMAIN}"]["virtual_ipv4"], r

            # ntm netcheck: alice's stock NAT keeps one mapping per socket (the DC and the RS
            # see the same address and port); bob has no NAT; carol has no IPv4 route.
            nc_a = json.loads(a.ctl("netcheck", "--json").stdout)
            v4 = nc_a["ipv4"]
            assert v4["available"] and v4["nat"] == "yes", nc_a
            assert v4["mapping"] == "endpoint-independent", nc_a
            assert {s["role"] for s in v4["servers"] if s["reachable"]} == {"as", "dc", "rs"}, nc_a
            assert v4["path_mtu"] == 1500, nc_a
            assert v4["local"].startswith(alice.ipv4 + ":"), nc_a
            nc_b = json.loads(b.ctl("netcheck", "--json").stdout)
            assert nc_b["ipv4"]["nat"] == "none", nc_b
            nc_c = json.loads(c.ctl("netcheck", "--json").stdout)
            assert not nc_c["ipv4"]["available"] and "no route" in nc_c["ipv4"]["reason"], nc_c
            assert nc_c["ipv6"]["available"] and nc_c["ipv6"]["nat"] == "none", nc_c
            assert nc_c["ipv6"]["mapping"] == "endpoint-independent", nc_c
            # A narrow link in front of the servers: only probes of at most 1280 bytes get there.
            t.set_uplink_mtu(t.servers, 1280)
            nc_b = json.loads(b.ctl("netcheck", "--json").stdout)
            assert nc_b["ipv4"]["path_mtu"] == 1280, nc_b
            text = b.ctl("netcheck").stdout
            assert "IPv4  local" in text and "no NAT" in text and "path MTU 1280" in text, text
        finally:
            rcs = [n.stop() for n in nodes]
        assert rcs == [0] * len(nodes), [n.process.output() for n in nodes]


# A DNS A query to 127.0.0.1:5353, printing the first address of the answer.
DNS_QUERY = r"""
import socket, struct, sys
name = sys.argv[1]
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)
s.sendto(q, ("127.0.0.1", 5353)); r = s.recv(1500)
assert r[3] & 15 == 0 and struct.unpack(">H", r[6:8])[0] >= 1, r
print(socket.inet_ntoa(r[len(q) + 12:len(q) + 16]))
"""
