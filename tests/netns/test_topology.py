"""Self-tests of the namespace topology (no ntmobile code): reachability, NAT behaviour,
IPv6-only isolation, symmetric mapping, hole punching, mobility and clean-up."""
import subprocess
import sys

import pytest

from netns_helpers import echo_server, fields, send, udp
from topology import SERVERS_IPV4, SERVERS_IPV6, Topology, delete_prefixed, endpoint


def reply_of(line: str) -> dict:
    assert line.startswith("REPLY "), f"expected a reply, got: {line}"
    return fields(line)


def host_of(ep: str) -> str:
    return ep[1:].partition("]")[0] if ep.startswith("[") else ep.rpartition(":")[0]


def port_of(ep: str) -> int:
    return int(ep.rpartition(":")[2])


def test_global4_and_servers_reach_each_other(topo):
    g = topo.add_node("g", "global4")
    assert g.ipv4.startswith("198.18.0.") and g.ipv6 is None
    echo, (srv_ep,) = echo_server(topo, topo.servers, [f"{SERVERS_IPV4}:0"])
    (r,) = send(topo, g, srv_ep)
    # No NAT: the server sees the node's own address.
    assert host_of(reply_of(r)["observed"]) == g.ipv4

    echo_g, (g_ep,) = echo_server(topo, g, [f"{g.ipv4}:0"])
    (r,) = send(topo, topo.servers, g_ep)
    assert host_of(reply_of(r)["observed"]) == SERVERS_IPV4
    # global4 has no IPv6 by default.
    (r,) = send(topo, g, endpoint(SERVERS_IPV6, 9), tries=1, wait=0.2)
    assert r.startswith("SENDERR") and "ENETUNREACH" in r, r


def test_dual_stack_node_reaches_servers_over_both_families(topo):
    d = topo.add_node("d", "global4", ipv6=True)
    assert d.kind == "dual" and d.ipv6.startswith("2001:db8::")
    echo, (ep4, ep6) = echo_server(topo, topo.servers,
                                   [f"{SERVERS_IPV4}:0", endpoint(SERVERS_IPV6, 0)])
    (r4,) = send(topo, d, ep4)
    (r6,) = send(topo, d, ep6)
    assert host_of(reply_of(r4)["observed"]) == d.ipv4
    assert host_of(reply_of(r6)["observed"]) == d.ipv6
    echo_d, (d6,) = echo_server(topo, d, [endpoint(d.ipv6, 0)])
    (r,) = send(topo, topo.servers, d6)
    assert host_of(reply_of(r)["observed"]) == SERVERS_IPV6


def test_nat4_reaches_servers_masqueraded(topo):
    n = topo.add_node("n", "nat4")
    assert n.ipv4.startswith("10.") and n.nat is not None
    echo, (srv_ep,) = echo_server(topo, topo.servers, [f"{SERVERS_IPV4}:0"])
    (r,) = send(topo, n, srv_ep, bind=f"{n.ipv4}:40000")
    observed = reply_of(r)["observed"]
    # The server sees the NAT's public address, never the private one.
    assert host_of(observed) == n.nat.wan_ipv4 == n.public_ipv4
    # A plain (non-symmetric) masquerade keeps the source port when it is free.
    assert port_of(observed) == 40000
    ct = topo.exec(n.nat, ["conntrack", "-L", "-p", "udp", "-s", n.ipv4])
    assert f"src={n.ipv4}" in ct.stdout and f"dst={n.nat.wan_ipv4}" in ct.stdout, ct.stdout


def test_unsolicited_traffic_does_not_reach_nat4(topo):
    n = topo.add_node("n", "nat4")
    echo_n, (n_ep,) = echo_server(topo, n, [f"{n.ipv4}:4000"])
    # To the NAT's public address at the node's port: dropped by the NAT (no mapping).
    (r1,) = send(topo, topo.servers, f"{n.nat.wan_ipv4}:4000", tries=2, wait=0.5)
    assert r1.startswith("NOREPLY"), r1
    # The private address is not routed on the internet at all.
    (r2,) = send(topo, topo.servers, f"{n.ipv4}:4000", tries=1, wait=0.5)
    assert r2.startswith(("NOREPLY", "SENDERR")), r2
    assert echo_n.lines_starting("RECV") == [], echo_n.output()
    # Positive control: the same echo answers from inside its LAN (the NAT's own side).
    (r3,) = send(topo, n.nat, n_ep)
    assert host_of(reply_of(r3)["observed"]) == n.nat.lan_gw
    assert len(echo_n.lines_starting("RECV")) == 1


def test_v6only_has_no_ipv4_at_all(topo):
    v = topo.add_node("v", "v6only")
    assert v.ipv4 is None and v.ipv6.startswith("2001:db8::")
    addrs = topo.exec(v, ["ip", "-4", "-o", "addr", "show"]).stdout
    assert [l.split()[3] for l in addrs.splitlines()] == ["127.0.0.1/8"], addrs
    routes = topo.exec(v, ["ip", "-4", "route", "show", "table", "all"]).stdout
    assert all(" dev lo " in l + " " for l in routes.splitlines()), routes
    assert "default" not in routes, routes
    get = topo.exec(v, ["ip", "-4", "route", "get", SERVERS_IPV4], check=False)
    assert get.returncode != 0 and "unreachable" in get.stderr.lower(), get
    (r,) = send(topo, v, f"{SERVERS_IPV4}:9", tries=1, wait=0.2)
    assert r.startswith("SENDERR") and "ENETUNREACH" in r, r
    # ...but IPv6 works both ways.
    echo, (ep6,) = echo_server(topo, topo.servers, [endpoint(SERVERS_IPV6, 0)])
    (r,) = send(topo, v, ep6)
    assert host_of(reply_of(r)["observed"]) == v.ipv6
    echo_v, (v6,) = echo_server(topo, v, [endpoint(v.ipv6, 0)])
    (r,) = send(topo, topo.servers, v6)
    assert host_of(reply_of(r)["observed"]) == SERVERS_IPV6


@pytest.mark.parametrize("symmetric", [False, True], ids=["cone", "symmetric"])
def test_mapping_per_destination(topo, symmetric):
    """One socket behind the NAT, two server sockets: a symmetric NAT shows them different
    source ports, a plain masquerade the same one."""
    n = topo.add_node("n", "nat4", symmetric=symmetric)
    assert n.nat.symmetric == symmetric
    echo, eps = echo_server(topo, topo.servers, [f"{SERVERS_IPV4}:0", f"{SERVERS_IPV4}:0"])
    r = send(topo, n, *eps)
    observed = [reply_of(l)["observed"] for l in r]
    assert {host_of(o) for o in observed} == {n.nat.wan_ipv4}
    # The server-side view agrees with what the replies carried.
    seen = sorted(fields(l)["from"] for l in echo.wait_lines("RECV", 2, timeout=5))
    assert seen == sorted(observed), echo.output()
    ports = {port_of(o) for o in observed}
    if symmetric:
        assert len(ports) == 2, f"symmetric NAT reused a port: {observed}"
    else:
        assert len(ports) == 1, f"cone NAT changed the port: {observed}"


def punch_pair(topo, a, b, seconds=3.0):
    echo, (srv_ep,) = echo_server(topo, topo.servers, [f"{SERVERS_IPV4}:0"])
    pa = udp(topo, a, "punch", "--server", srv_ep, "--time", str(seconds),
             stdin=subprocess.PIPE)
    pb = udp(topo, b, "punch", "--server", srv_ep, "--time", str(seconds),
             stdin=subprocess.PIPE)
    ma = pa.wait_line("MAPPED", timeout=5).split()[1]
    mb = pb.wait_line("MAPPED", timeout=5).split()[1]
    pa.send_line(f"PEER {mb}")
    pb.send_line(f"PEER {ma}")
    assert pa.wait_exit(seconds + 5) == 0 and pb.wait_exit(seconds + 5) == 0
    da = fields(pa.wait_line("DONE", 1))
    db = fields(pb.wait_line("DONE", 1))
    return da["got"] == "1", db["got"] == "1", (pa, pb)


def test_hole_punching_works_between_two_cone_nats(topo):
    a = topo.add_node("a", "nat4")
    b = topo.add_node("b", "nat4")
    got_a, got_b, procs = punch_pair(topo, a, b)
    assert got_a and got_b, "\n".join(p.output() for p in procs)
    # Each side got the other's packets from the other NAT's public address.
    assert host_of(fields(procs[0].wait_line("GOT", 1))["from"]) == b.nat.wan_ipv4
    assert host_of(fields(procs[1].wait_line("GOT", 1))["from"]) == a.nat.wan_ipv4


def test_hole_punching_fails_through_a_symmetric_nat(topo):
    a = topo.add_node("a", "nat4")
    b = topo.add_node("b", "nat4", symmetric=True)
    got_a, got_b, procs = punch_pair(topo, a, b, seconds=2.0)
    assert not got_a and not got_b, "\n".join(p.output() for p in procs)


def test_move_between_nats_and_networks(topo):
    n1 = topo.add_nat("home")
    n2 = topo.add_nat("cafe")
    m = topo.add_node("m", "nat4", nat="home")
    echo, (ep4, ep6) = echo_server(topo, topo.servers,
                                   [f"{SERVERS_IPV4}:0", endpoint(SERVERS_IPV6, 0)], seconds=30)

    def observed4():
        (r,) = send(topo, m, ep4)
        return host_of(reply_of(r)["observed"])

    assert observed4() == n1.wan_ipv4
    old_ip = m.ipv4
    t0 = topo.move(m, "cafe")
    assert m.nat is n2 and m.ipv4.startswith(n2.lan_net + ".") and m.ipv4 != old_ip
    assert m.moves[-1][0] == t0
    # The old address is gone from the node, only the new one is there.
    addrs = topo.exec(m, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
    assert old_ip not in addrs and m.ipv4 in addrs, addrs
    assert observed4() == n2.wan_ipv4

    topo.move(m, "v6only")
    assert m.ipv4 is None and m.nat is None
    (r,) = send(topo, m, ep4, tries=1, wait=0.2)
    assert "ENETUNREACH" in r, r
    (r,) = send(topo, m, ep6)
    assert host_of(reply_of(r)["observed"]) == m.ipv6

    topo.move(m, "global4")
    assert observed4() == m.ipv4
    topo.detach(m)
    assert topo.exec(m, ["ip", "-o", "link", "show", "eth0"], check=False).returncode != 0
    topo.attach(m, n1)
    assert observed4() == n1.wan_ipv4
    # The NAT namespaces hold no leftover veth ends of earlier attachments.
    lan_ports = topo.exec(n2, ["ip", "-o", "link", "show", "master", "lan0"]).stdout
    assert lan_ports.strip() == "", lan_ports


def test_cleanup_after_an_exception_inside_with():
    t = Topology()
    proc = None
    with pytest.raises(RuntimeError, match="boom"):
        with t:
            t.add_node("a", "nat4")
            t.add_node("b", "v6only")
            # A process that would outlive the test by far if nobody stopped it.
            proc = t.run("a", [sys.executable, "-c", "import time; time.sleep(120)"])
            assert t.leftover_namespaces(), "namespaces were not created"
            raise RuntimeError("boom")
    assert proc is not None and proc.poll() is not None, "the started process still runs"
    assert t.leftover_namespaces() == []
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert t.prefix not in names
    with pytest.raises(Exception):
        t.add_node("c", "global4")  # a cleaned-up topology refuses new work


def test_cleanup_on_sigterm(tmp_path):
    """A driver killed with SIGTERM still removes its namespaces and stops its processes."""
    script = tmp_path / "driver.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(__import__('os').path.dirname(__file__))!r})\n"
        "from topology import Topology\n"
        "t = Topology().__enter__()\n"
        "t.add_node('a', 'nat4')\n"
        "p = t.run('a', [sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('UP', t.prefix, p.pid, flush=True)\n"
        "time.sleep(60)\n")
    d = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    prefix = None
    try:
        line = d.stdout.readline().split()
        assert line and line[0] == "UP", line
        prefix, child = line[1], int(line[2])
        d.terminate()
        assert d.wait(timeout=15) != 0
    finally:
        if d.poll() is None:
            d.kill()
            d.wait(timeout=5)
        if prefix is not None:
            leaked = delete_prefixed(prefix)  # only if the driver failed to clean up
    assert not leaked, f"the driver left {leaked}"
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert prefix not in names, names
    try:
        with open(f"/proc/{child}/stat") as f:
            state = f.read().split(")")[-1].split()[0]
        assert state == "Z", f"child {child} still running (state {state})"
    except FileNotFoundError:
        pass
