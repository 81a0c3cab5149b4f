"""Every language's node against every other's, on loopback (tests/interop/README.md).

One ntm-server (AS + DC + RS) on 127.0.0.1 and ::1 and one server node per language stay up for
the module (conftest.py); each of the 16 ordered pairs runs one client node, in turn, against a
server's FQDN: TCP lines, 8 MiB up and down (SHA-256 checked by both ends) and 5 UDP pings, over
virtual IPv4 and IPv6, and - between the languages whose bindings ship HTTP (Java, Ruby, Python)
- one HTTP request from the client's usual HTTP library to the server's usual HTTP server, by
node name. Then a few refusals, and the servers' clean exits.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

import nodes
from loopback_servers import account_name

BYTES = 8388608
UDP_COUNT = 5
REQUESTS_PER_CONNECTION = 7  # HELLO, 3 x ECHO, UPLOAD, DOWNLOAD, QUIT
CLIENT_TIMEOUT_S = 75.0  # the client's own deadline is 60 s after its start
SERVED_TIMEOUT_S = 10.0  # the server prints SERVED once it has closed the connection
FAILING_RUN_TIMEOUT_S = 40.0  # a client that is refused at login or cannot resolve ends soon
VIRTUAL_POOLS = {"4": ipaddress.ip_network("100.64.0.0/10"),  # ntm-server's default pools
                 "6": ipaddress.ip_network("fd00:6e74:6d::/48")}
PAIRS = [(client, server) for client in nodes.LANGS for server in nodes.LANGS]


def run_client(control_plane, lang: str, *extra: str, password: str | None = None,
               timeout: float = CLIENT_TIMEOUT_S) -> tuple[nodes.NsProcess, int | None]:
    """Runs `lang`'s client node as cli-<lang> to its end (bounded); returns it and its status."""
    name = account_name("cli", lang)
    proc = nodes.start(lang, ["client", *control_plane.node_args(name, password), *extra],
                       label=f"{name} {' '.join(extra)}")
    try:
        rc = proc.wait_exit(timeout)
    except TimeoutError:
        rc = None
    finally:
        proc.stop()  # by PID; a no-op when it has exited, and it always reaps
    return proc, rc


def check_results(records: list[dict], server_lang: str, diag) -> None:
    families = sorted(r.get("family", "?") for r in records)
    assert families == ["4", "6"], f"want RESULT for families 4 and 6, got {families}\n{diag()}"
    for r in records:
        for step in ("line", "upload", "download"):
            assert r.get(step) == "ok", f"{step} not ok in {r}\n{diag()}"
        assert r.get("udp") == f"{UDP_COUNT}/{UDP_COUNT}", f"udp in {r}\n{diag()}"
        assert r.get("peer_lang") == server_lang, f"peer_lang in {r}\n{diag()}"


def check_tunnel(records: list[dict], server, diag) -> None:
    rows = [r for r in records if r.get("peer") == server.fqdn]
    assert len(rows) == 1, f"want one TUNNEL row for {server.fqdn}, got {records}\n{diag()}"
    for key in ("vip4", "vip6"):
        assert rows[0].get(key) == server.ready.get(key), (
            f"TUNNEL {key}={rows[0].get(key)} but the server's READY says "
            f"{server.ready.get(key)}\n{diag()}")
    assert rows[0].get("path") in ("direct", "relay"), f"path in {rows[0]}\n{diag()}"


def check_served(server, first_line: int, diag) -> None:
    """The server's SERVED records for this client's two connections (one per family)."""
    deadline = time.monotonic() + SERVED_TIMEOUT_S
    while len(nodes.records(server.proc, "SERVED", first_line)) < 2:
        assert time.monotonic() < deadline, f"fewer than 2 SERVED records\n{diag()}"
        assert server.proc.poll() is None, f"the server node exited\n{diag()}"
        time.sleep(0.02)
    served = nodes.records(server.proc, "SERVED", first_line)
    assert len(served) == 2, f"want 2 SERVED records, got {served}\n{diag()}"
    by_family = {}
    for s in served:
        peer = ipaddress.ip_address(s.get("peer", "?"))
        family = str(peer.version)
        by_family[family] = s
        assert peer in VIRTUAL_POOLS[family], f"SERVED peer {peer} is no virtual address\n{diag()}"
        assert str(peer) != server.ready.get(f"vip{family}"), f"SERVED peer is itself\n{diag()}"
        assert s.get("requests") == str(REQUESTS_PER_CONNECTION), f"requests in {s}\n{diag()}"
        assert s.get("bytes_in") == str(BYTES) and s.get("bytes_out") == str(BYTES), (
            f"bytes in {s}\n{diag()}")
    assert sorted(by_family) == ["4", "6"], f"SERVED families {sorted(by_family)}\n{diag()}"


@pytest.mark.parametrize("client,server", PAIRS, ids=[f"{c}->{s}" for c, s in PAIRS])
def test_pair(client, server, control_plane, server_nodes, pair_times):
    """A client node of one language completes every step with a server node of another (or
    the same) language over virtual IPv4 and IPv6, and both ends agree on what happened."""
    pair_times[(client, server)] = (None, "FAIL")
    problem = nodes.missing(client)
    assert problem is None, f"the {client} client node cannot run: {problem}"
    srv = server_nodes[server].require()
    first_line = len(srv.proc.lines)
    started = time.monotonic()
    http = client in nodes.HTTP_LANGS and server in nodes.HTTP_LANGS
    proc, rc = run_client(control_plane, client, "--peer", srv.fqdn, "--family", "both",
                          "--bytes", str(BYTES), "--udp-count", str(UDP_COUNT),
                          *(["--http-port", str(nodes.HTTP_PORT)] if http else []))
    seconds = time.monotonic() - started

    def diag() -> str:
        return nodes.tails(proc, srv.proc)

    assert rc == 0, f"client exit status {rc} (None: killed after {CLIENT_TIMEOUT_S} s)\n{diag()}"
    assert not nodes.records(proc, "FAIL"), f"FAIL records\n{diag()}"
    check_results(nodes.records(proc, "RESULT"), server, diag)
    check_tunnel(nodes.records(proc, "TUNNEL"), srv, diag)
    assert nodes.records(proc, "DONE") == [{"lang": client}], f"DONE record\n{diag()}"
    check_served(srv, first_line, diag)
    if http:
        assert nodes.records(proc, "HTTP") == [{"status": "200", "peer_lang": server, "path": "ok"}], (
            f"HTTP record\n{diag()}")
    pair_times[(client, server)] = (seconds, "ok")


@pytest.mark.parametrize("lang", nodes.LANGS)
def test_wrong_password_is_refused(lang, control_plane):
    """A client whose password the AS refuses exits 1 at once, saying so on stderr."""
    assert nodes.missing(lang) is None, nodes.missing(lang)
    proc, rc = run_client(control_plane, lang, "--peer", control_plane.fqdn("srv-c"),
                          password="not-the-password", timeout=FAILING_RUN_TIMEOUT_S)
    diag = nodes.tails(proc)
    err = "\n".join(proc.err_lines).lower()
    assert rc == 1, f"exit status {rc}\n{diag}"
    assert not nodes.records(proc, "RESULT"), diag
    assert "refused" in err or "password" in err, f"stderr does not say why\n{diag}"


@pytest.mark.parametrize("lang", nodes.LANGS)
def test_unknown_peer_fails_to_resolve(lang, control_plane):
    """Resolving an FQDN the DC does not know ends the client with FAIL step=resolve."""
    assert nodes.missing(lang) is None, nodes.missing(lang)
    proc, rc = run_client(control_plane, lang, "--peer", control_plane.fqdn("nobody"),
                          timeout=FAILING_RUN_TIMEOUT_S)
    diag = nodes.tails(proc)
    fails = nodes.records(proc, "FAIL")
    assert rc == 1, f"exit status {rc}\n{diag}"
    assert len(fails) == 1 and fails[0].get("step") == "resolve", diag
    assert fails[0].get("family") == "4" and fails[0].get("reason"), diag
    assert not nodes.records(proc, "RESULT") and not nodes.records(proc, "DONE"), diag


@pytest.mark.parametrize("lang", nodes.LANGS)
def test_bad_arguments_exit_2(lang, control_plane):
    """A bad option value exits with status 2 and names the option on stderr."""
    assert nodes.missing(lang) is None, nodes.missing(lang)
    proc, rc = run_client(control_plane, lang, "--peer", "x.interop", "--family", "5",
                          timeout=FAILING_RUN_TIMEOUT_S)
    diag = nodes.tails(proc)
    assert rc == 2, f"exit status {rc}\n{diag}"
    assert "family" in "\n".join(proc.err_lines), f"stderr does not name --family\n{diag}"
    assert not proc.lines, f"records on stdout\n{diag}"


@pytest.mark.parametrize("lang", nodes.LANGS)
def test_server_exits_0_on_sigterm(lang, control_plane):
    """A server node (a fresh one, as srv-<lang>-2) closes its node and exits 0 on SIGTERM."""
    assert nodes.missing(lang) is None, nodes.missing(lang)
    name = account_name("srv", lang) + "-2"
    control_plane.add_account(name)  # the running ntm-server reads accounts at each login
    proc = nodes.start(lang, ["server", *control_plane.node_args(name)], label=name)
    try:
        try:
            proc.wait_line("READY ", nodes.READY_TIMEOUT_S)
        except TimeoutError:
            pytest.fail(f"no READY within {nodes.READY_TIMEOUT_S} s\n{nodes.tails(proc)}")
        rc = nodes.stop(proc, how="sigterm")
    finally:
        proc.stop()  # by PID, if it is still running; always reaps
    assert rc == 0, f"exit status {rc} after SIGTERM (None: killed)\n{nodes.tails(proc)}"


def test_server_nodes_exit_0_when_stdin_ends(server_nodes):
    """Last: every server node of the module closes its node and exits 0 when its stdin ends."""
    statuses = {lang: nodes.stop(server.proc, how="stdin")
                for lang, server in server_nodes.items() if server.proc is not None}
    bad = {lang: rc for lang, rc in statuses.items() if rc != 0}
    diag = nodes.tails(*(server_nodes[lang].proc for lang in bad))
    assert not bad, f"exit statuses (None: killed): {bad}\n{diag}"
    not_up = {lang: server.problem for lang, server in server_nodes.items() if server.problem}
    assert not not_up, f"server nodes that never came up: {not_up}"
