"""ntmobile in namespaces with what exists today: static-peer mode (no servers).

Two ntm-test-node processes in node namespaces exchange a checksummed TCP transfer (4 MiB each
way) over their virtual addresses, tunnelled between real addresses on the namespace internet
(198.18.0.0/24, 2001:db8::/64). The server knows the client only by key (no endpoint): it
learns the client's real endpoint - a NAT's public one when the client is behind a NAT - from
the handshake."""
import pytest

from netns_helpers import fields
from ntm_node import check_transfer, missing_binaries, static_tcp_transfer


@pytest.fixture(autouse=True)
def _binaries():
    missing = missing_binaries()
    if missing:
        # Not a skip: CI builds before it runs the suites, so a missing program is a failure.
        pytest.fail(f"ntmobile build not found: {missing} (build first, or set NTM_BUILD_DIR)")


@pytest.mark.parametrize("vfam", [4, 6], ids=["virtual-ipv4", "virtual-ipv6"])
def test_global4_pair_over_real_ipv4(topo, vfam):
    a = topo.add_node("a", "global4")
    b = topo.add_node("b", "global4")
    x = static_tcp_transfer(topo, b, a, real_family=4, virtual_family=vfam)
    check_transfer(x)
    assert x.ready["endpoint_v6"] in ("", "-"), x.ready  # IPv4-only listen: no IPv6 socket


@pytest.mark.parametrize("vfam", [4, 6], ids=["virtual-ipv4", "virtual-ipv6"])
def test_v6only_pair_over_real_ipv6(topo, vfam):
    a = topo.add_node("a", "v6only")
    b = topo.add_node("b", "v6only")
    x = static_tcp_transfer(topo, b, a, real_family=6, virtual_family=vfam)
    check_transfer(x)


@pytest.mark.parametrize("symmetric", [False, True], ids=["cone-nat", "symmetric-nat"])
def test_nat4_initiates_to_global4(topo, symmetric):
    a = topo.add_node("a", "nat4", symmetric=symmetric)
    b = topo.add_node("b", "global4")
    x = static_tcp_transfer(topo, b, a, real_family=4, virtual_family=4)
    check_transfer(x)
    # The tunnel really crossed the NAT: conntrack holds the node's UDP flow to the server's
    # real endpoint, answered (not UNREPLIED) at the NAT's public address.
    port = x.ready["endpoint_v4"].rpartition(":")[2]
    ct = topo.exec(a.nat, ["conntrack", "-L", "-p", "udp", "-s", a.ipv4, "-d", b.ipv4,
                           "--dport", port]).stdout
    flows = [l for l in ct.splitlines() if l.startswith("udp")]
    assert len(flows) == 1, ct
    orig, _, reply = flows[0].partition(f"src={b.ipv4} ")
    assert reply.startswith(f"dst={a.nat.wan_ipv4} ") and "[UNREPLIED]" not in flows[0], flows[0]
    private_port = fields("x " + orig)["sport"]
    public_port = fields("x " + reply)["dport"]
    if not symmetric:  # a cone masquerade keeps the node's port
        assert public_port == private_port, flows[0]
