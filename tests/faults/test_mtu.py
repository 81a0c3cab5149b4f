"""A path-MTU black hole (issue 12 item 7): alice sits behind a NAT whose LAN link carries only
1280-byte packets; bob on the internet sends full-size tunnel datagrams (1420-byte inner packets,
1480 bytes on the wire) towards her. With ICMP "fragmentation needed" dropped by the NAT nothing
tells bob's kernel, and TCP segments of the virtual MTU never arrive. The tunnel measures its
path MTU with padded probes (tunnel/path_mtu.h) and the node lowers its virtual interface's MTU
and the connections' MSS to it. With ICMP the sender's kernel also learns the path MTU and
fragments the outer datagrams to it. Checksummed sessions echo 128 KiB bursts
both ways through the narrow link; every burst must come back intact and none may stall."""
import time

import pytest

from conftest import record
from field_run import DOMAIN, SessionsRun

LINK_MTU = 1280
# A 1280-byte IPv4 path carries inner packets of 1280 - 20 IP - 8 UDP - 32 capsule = 1220.
INNER_FITS = LINK_MTU - 20 - 8 - 32
MEASURED_BOUND_S = 3.0
STALL_BOUND_MS = 3000.0


@pytest.mark.parametrize("icmp", ["sent", "dropped"])
def test_a_narrow_link_behind_a_nat_carries_full_sessions(topo, servers, icmp):
    nat = topo.add_nat("home")
    alice = topo.add_node("alice", "nat4", nat=nat)
    bob = topo.add_node("bob", "global4")
    topo.set_uplink_mtu(alice, LINK_MTU)
    if icmp == "dropped":
        topo.drop_frag_needed(nat)
    run = SessionsRun(topo, servers, bob, alice, sessions=2, burst=131072, gap_ms="0-5",
                      duration_s=6, stall_s=8)
    t0 = time.monotonic()
    run.wait_flowing(timeout=20)
    # bob's tunnel towards alice measures its path MTU. Without ICMP only INNER_FITS bytes get
    # through; with ICMP bob's kernel may have learned the path MTU from an earlier packet and
    # fragment larger datagrams itself, so any measurement will do.
    narrow = (lambda r: 0 < int(r["path_mtu"]) <= INNER_FITS) if icmp == "dropped" else \
        (lambda r: int(r["path_mtu"]) > 0)
    row = run.server.wait_tunnel(f"alice.{DOMAIN}", MEASURED_BOUND_S + 5, narrow, "measured")
    took = row["t"] - t0
    res = run.finish()
    diag = f"path MTU measured after {took:.3f} s: {row}\n{res}\n" + run.diag()
    assert int(row["path_mtu"]) >= INNER_FITS - 20, diag  # within one probe step
    assert took < MEASURED_BOUND_S, diag
    assert int(res["alive"]) == 2 and int(res["bytes_verified"]) >= 4 * 131072, diag
    assert float(res["worst_stall_ms"]) < STALL_BOUND_MS, diag
    record("MTU black hole", f"1280-byte link, ICMP {icmp}: path MTU {row['path_mtu']} after",
           took)
    record("MTU black hole", f"1280-byte link, ICMP {icmp}: worst stall",
           float(res["worst_stall_ms"]) / 1000)
