"""Revocation reaches the data plane (issue 13 item 5): while alice and bob exchange checksummed
data through their tunnel, `ntm-server accounts disable bob` runs. Within REVOKE_BOUND_S alice
gets NTM_EVENT_PEER_REVOKED (7) for bob and tears the tunnel down (no more data from bob), bob
gets NTM_EVENT_REVOKED (8) saying why, and bob stops registering (no retry loop)."""
import subprocess
import time

from conftest import record
from field_run import DOMAIN, FieldNode, server_binary
from topology import wait_until

REVOKE_BOUND_S = 5.0


def event_time(node: FieldNode, type_: int, after: float, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in node.rows("EVENT"):
            if int(row["type"]) == type_ and row["t"] > after:
                return row
        time.sleep(0.02)
    raise AssertionError(f"{node.proc.label}: no event {type_} within {timeout} s\n" +
                         node.proc.output())


def test_disable_revokes_tunnels_and_tells_both_ends(topo, servers):
    alice = topo.add_node("alice", "global4")
    bob = topo.add_node("bob", "nat4")
    common = ["--sessions", "1", "--bytes", "16384", "--stats-ms", "200"]
    b = FieldNode(topo, bob, servers, "bob", "sessions", "server", common, timeout_s=90)
    b.wait_ready()
    a = FieldNode(topo, alice, servers, "alice", "sessions", "client",
                  common + ["--connect", f"bob.{DOMAIN}:5000", "--duration", "60",
                            "--gap-ms", "5-20", "--stall-timeout", "60"], stdin=True,
                  timeout_s=90)
    wait_until(lambda: any(int(r["v"].split(",")[0]) > 0 for r in a.rows("PROGRESS")),
               timeout=20, what="data flowing")
    t0 = time.monotonic()
    subprocess.run([server_binary("ntm-server"), "accounts", "disable", "bob", "--state",
                    servers.state], check=True, capture_output=True, timeout=30)
    peer_revoked = event_time(a, 7, t0, REVOKE_BOUND_S + 5)
    revoked = event_time(b, 8, t0, REVOKE_BOUND_S + 5)
    diag = a.proc.output() + "\n" + b.proc.output()
    assert peer_revoked["peer"] == f"bob.{DOMAIN}", diag
    assert "disabled" in revoked.get("msg", "") or "disabled" in b.proc.output(), diag
    took_a, took_b = peer_revoked["t"] - t0, revoked["t"] - t0
    record("revocation", "accounts disable -> peer's PEER_REVOKED", took_a)
    record("revocation", "accounts disable -> own REVOKED", took_b)
    assert took_a <= REVOKE_BOUND_S and took_b <= REVOKE_BOUND_S, diag

    # The tunnel is gone on both ends and no more data arrives from bob.
    time.sleep(1.0)  # data already in flight drains
    verified = a.rows("PROGRESS")[-1]["v"]
    time.sleep(2.0)
    assert a.rows("PROGRESS")[-1]["v"] == verified, "data still flows after revocation\n" + diag
    # Bob neither registers nor logs in again.
    regs = b.stats_after(time.monotonic())
    time.sleep(3.0)
    later = b.stats_after(time.monotonic())
    assert later["registrations"] == regs["registrations"], diag
    assert later["logins"] == regs["logins"], diag
    a.proc.stop()
    b.proc.stop()
