"""The servers' operator view: `ntm-server status` against the running server, the Prometheus
endpoint (off by default, here on loopback), JSON logs with timestamps, host names as
addresses, `accounts list --json` and `--version` on every program. A real node (`ntm up`)
logs in (once with a wrong password), registers and gets counted; hostile datagrams get
counted as drops by reason."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import urllib.request

import pytest

from conftest import (COMMAND_TIMEOUT_S, NtmUp, build_dir, free_port, ntm_program,
                      server_program, wait_until)
from topology import NsProcess


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)


def test_every_program_reports_its_version():
    for prog in ("ntm-server", "ntm-as", "ntm-dc", "ntm-rs"):
        r = run(os.path.join(build_dir(), "servers", prog), "--version")
        assert r.returncode == 0 and re.fullmatch(rf"{prog} \d+\.\d+\.\d+\n", r.stdout), r
    r = run(ntm_program(), "--version")
    assert r.returncode == 0 and r.stdout.startswith("ntm "), r


class Server:
    def __init__(self, tmp: str) -> None:
        self.state = os.path.join(tmp, "state")
        self.as_port, self.dc_port, self.rs_port, self.metrics_port = (
            free_port(), free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM), free_port())
        self.password = "pw-" + os.urandom(4).hex()
        r = run(server_program(), "accounts", "add", "alice", "--password", self.password,
                "--state", self.state)
        assert r.returncode == 0, r.stderr
        # "localhost" is a host name, resolved at start.
        self.process = NsProcess("ntm-server", [
            server_program(), "run", "--state", self.state, "--domain", "example",
            "--listen-as", f"localhost:{self.as_port}", "--listen-dc", f"127.0.0.1:{self.dc_port}",
            "--listen-rs", f"127.0.0.1:{self.rs_port}", "--metrics", f"127.0.0.1:{self.metrics_port}",
            "--log-level", "info", "--log-format", "json"])
        self.process.wait_line("ntm-server: RS on", timeout=20)

    def status(self) -> dict:
        r = run(server_program(), "status", "--json", "--state", self.state)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return r.read().decode()


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory(prefix="ntm-cli-servers-") as tmp:
        s = Server(tmp)
        s.tmp = tmp
        try:
            yield s
        finally:
            s.process.stop()
        assert s.process.returncode == 0, s.process.output()


def node_conf(server: Server, password: str) -> tuple[str, str]:
    conf = os.path.join(server.tmp, f"node-{password}.conf")
    sock = os.path.join(server.tmp, f"node-{password}.sock")
    with open(conf, "w") as f:
        f.write(f"server = localhost:{server.as_port}\n"
                f"server-cert = {server.state}/as-tls.pem\naccount = alice\n"
                f"password = {password}\ncontrol-socket = {sock}\nlisten = 127.0.0.1:0\n")
    return conf, sock


def test_status_metrics_and_logs_count_what_happened(server):
    s = server.status()
    assert s["program"] == "ntm-server" and s["domain"] == "example" and s["uptime_s"] >= 0
    assert s["as"]["logins_ok"] == 0 and s["dc"]["nodes_registered"] == 0

    # A wrong password: the node says why and exits 1; the AS counts a failed login.
    conf, _ = node_conf(server, "wrong")
    r = subprocess.run([ntm_program(), "up", "-c", conf], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "cannot start the node" in r.stderr, r.stderr
    # The right one: logged in and registered (the AS address is a host name here too).
    conf, sock = node_conf(server, server.password)
    node = NtmUp("alice", conf, sock)
    try:
        node.wait_ready()
        wait_until(lambda: server.status()["dc"]["nodes_registered"] == 1, 10, "registered")
        # Hostile datagrams: garbage to the DC and to the RS.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for _ in range(3):
                u.sendto(b"\xff" * 40, ("127.0.0.1", server.dc_port))
                u.sendto(b"\xee" * 40, ("127.0.0.1", server.rs_port))
        wait_until(lambda: server.status()["dc"]["dropped"]["malformed"] >= 3
                   and server.status()["rs"]["dropped"]["malformed"] >= 3, 10, "drops counted")
        s = server.status()
        assert s["as"]["logins"]["ok"] == 1 and s["as"]["logins"]["bad_credentials"] == 1
        assert s["as"]["login_failures"] == 1
        assert s["dc"]["registrations"] == 1
        # The human-readable form says the same.
        text = run(server_program(), "status", "--state", server.state).stdout
        assert "logins ok 1, failed 1 (bad_credentials 1)" in text, text
        assert "nodes registered 1" in text and "malformed" in text, text
        # Prometheus: the same counters.
        m = server.metrics()
        assert 'ntm_as_logins_total{result="bad_credentials"} 1' in m
        assert "ntm_dc_nodes_registered 1" in m
        assert re.search(r'^ntm_dc_dropped_total\{reason="malformed"\} [3-9]', m, re.M), m
        assert re.search(r'^ntm_rs_dropped_total\{reason="malformed"\} [3-9]', m, re.M), m
        assert "# TYPE ntm_rs_relays_active gauge" in m
    finally:
        assert node.stop() == 0
    # JSON log lines with a timestamp, level and program.
    logs = [json.loads(l) for l in server.process.err_lines if l.startswith("{")]
    assert logs, server.process.output()
    assert all({"time", "level", "program", "message"} <= set(l) for l in logs)
    # A failed login is a warning (rate-limited), naming the account and why.
    assert any(l["level"] == "warn" and "failed login for 'alice'" in l["message"]
               and "bad credentials" in l["message"] for l in logs), logs


def test_status_without_a_running_server_says_so(tmp_path):
    r = run(server_program(), "status", "--state", str(tmp_path))
    assert r.returncode == 1 and "no server is running" in r.stderr, r.stderr


def test_metrics_endpoint_is_off_by_default_and_unknown_paths_are_404(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/other", timeout=10)
    assert e.value.code == 404


def test_accounts_list_json(server):
    r = run(server_program(), "accounts", "list", "--json", "--state", server.state)
    assert r.returncode == 0, r.stderr
    (a,) = json.loads(r.stdout)
    assert a["name"] == "alice" and a["kind"] == "password" and a["disabled"] is False
    assert re.fullmatch(r"[0-9a-f]{16}", a["node_id"])


def test_a_host_name_that_does_not_resolve_is_a_configuration_error(tmp_path):
    r = run(server_program(), "run", "--state", str(tmp_path), "--listen-dc",
            "no-such-host.invalid:7801")
    assert r.returncode == 2 and "no-such-host.invalid" in r.stderr, r.stderr


def test_a_silent_as_is_reported_while_waiting_and_then_as_timed_out(server):
    # An "AS" that accepts TCP connections (the kernel does) but never speaks TLS.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        conf = os.path.join(server.tmp, "silent.conf")
        with open(conf, "w") as f:
            f.write(f"server = 127.0.0.1:{silent.getsockname()[1]}\n"
                    f"server-cert = {server.state}/as-tls.pem\naccount = alice\n"
                    f"password = x\nstart-timeout = 3000\n"
                    f"control-socket = {server.tmp}/silent.sock\n")
        r = subprocess.run([ntm_program(), "up", "-c", conf], capture_output=True, text=True,
                           timeout=90)
    assert r.returncode == 1, r.stderr
    assert "still waiting for the AS at 127.0.0.1:" in r.stderr, r.stderr
    assert "timed out" in r.stderr and "unknown TLS error" not in r.stderr, r.stderr
