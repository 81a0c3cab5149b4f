"""Network-namespace topologies for ntmobile's tests (the seed's test network, on demand).

    with Topology() as t:                      # a unique per-run name prefix, e.g. "ntmt3f9a1c2e"
        a = t.add_node("a", kind="nat4")       # behind its own NAT namespace
        b = t.add_node("b", kind="global4")    # directly on the "internet", IPv4 only
        c = t.add_node("c", kind="v6only")     # on the "internet", IPv6 only, no IPv4 route
        p = t.run(b, ["prog", "args"])         # a Popen (NsProcess) inside b's namespace
        t.move(a, "global4")                   # mobility: new uplink, new address, new route

Layout (every name below is prefixed with "<prefix>-"):

    inet      the "internet": bridge br0, 198.18.0.1/24 + 2001:db8::1/64 (gateway of everyone)
    srv       the servers' host (AS/DC/RS): 198.18.0.2 + 2001:db8::2, dual stack
    n-NAME    a node; its uplink is always "eth0" (default route through it)
    nat-NAME  a NAT router: "wan0" on the internet (one IPv4 address), bridge "lan0" with
              10.K.1.1/24 for the nodes behind it; nftables masquerade (optionally
              random,fully-random: a per-destination port mapping that defeats hole punching) and
              a home-router firewall (nothing unsolicited from the internet gets in)

Addresses: the n-th host on the internet gets 198.18.0.N and/or 2001:db8::N (the decimal digits
read as hex, so both look alike); a NAT's LAN is 10.K.1.0/24, nodes from 10.K.1.10.

Node kinds: "global4" (IPv4 only, or dual stack with ipv6=True), "dual" (= global4 + IPv6),
"nat4" (IPv4 behind a NAT), "v6only" (IPv6 only; no IPv4 address or route).

Everything the topology starts is recorded and undone by cleanup(): processes are stopped by
PID (SIGTERM, then SIGKILL after a bound), then the namespaces with this run's prefix are
deleted. cleanup() runs on leaving the `with` block (also on an exception), at interpreter exit
and on SIGTERM/SIGHUP (which then raise KeyboardInterrupt in the main thread). Nothing is
touched outside the namespaces with this run's prefix.

Run `python3 topology.py --cleanup PREFIX` to remove what a killed run (SIGKILL) left behind.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

INET4_NET = "198.18.0"          # the internet's IPv4 /24
INET6_NET = "2001:db8::"        # the internet's IPv6 /64 (2001:db8:0:0::/64)
INET4_GW = INET4_NET + ".1"
ROUTED_NET = "198.19.0"         # /30 links of routed NATs to the internet's router
INET6_GW = INET6_NET + "1"
SERVERS_IPV4 = INET4_NET + ".2"
SERVERS_IPV6 = INET6_NET + "2"
FIRST_HOST = 10                 # first host number handed out on the internet and on LANs
LAST_HOST = 250

KINDS = ("global4", "dual", "nat4", "v6only")

# Bounds for everything the harness waits on.
CMD_TIMEOUT_S = 15.0
LINK_READY_TIMEOUT_S = 3.0     # a new link up, carrier seen and its bridge port forwarding
TERM_GRACE_S = 3.0


class TopologyError(RuntimeError):
    pass


def _ip_cmd(args: Sequence[str], timeout: float = CMD_TIMEOUT_S, input: Optional[str] = None
            ) -> subprocess.CompletedProcess:
    """Runs one setup command (in the caller's namespace); raises with its stderr on failure."""
    try:
        r = subprocess.run(list(args), input=input, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise TopologyError(f"command timed out after {timeout} s: {' '.join(args)}") from e
    if r.returncode != 0:
        raise TopologyError(f"command failed (rc={r.returncode}): {' '.join(args)}\n"
                            f"{r.stderr.strip()}")
    return r


# ---------------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------------

class NsProcess(subprocess.Popen):
    """A Popen whose stdout/stderr lines are collected by reader threads.

    wait_line(prefix, timeout) waits for a stdout line starting with `prefix` (bounded);
    wait_exit(timeout) waits for the exit status (bounded; raises TimeoutError)."""

    def __init__(self, label: str, argv: Sequence[str], **kw):
        self.label = label
        self.argv = list(argv)
        self._cond = threading.Condition()
        self._out: list[str] = []
        self._err: list[str] = []
        self._eof = 0
        kw.setdefault("stdin", subprocess.DEVNULL)
        super().__init__(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         bufsize=1, errors="replace", **kw)
        self._threads = [threading.Thread(target=self._pump, args=(self.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.stderr, self._err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink: list) -> None:
        try:
            for line in stream:
                with self._cond:
                    sink.append(line.rstrip("\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._eof += 1
                self._cond.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._cond:
            return list(self._out)

    @property
    def err_lines(self) -> list[str]:
        with self._cond:
            return list(self._err)

    def lines_starting(self, prefix: str) -> list[str]:
        return [l for l in self.lines if l.startswith(prefix)]

    def output(self) -> str:
        """Everything the process printed so far, for assertion messages."""
        out = "\n".join(f"  {l}" for l in self.lines)
        err = "\n".join(f"  {l}" for l in self.err_lines)
        return (f"--- {self.label} (pid {self.pid}, rc {self.returncode}): "
                f"{' '.join(self.argv)[:300]}\n stdout:\n{out}\n stderr:\n{err}")

    def wait_line(self, prefix: str, timeout: float, start: int = 0) -> str:
        """The first stdout line (from index `start`) starting with `prefix`; TimeoutError with the
        process output if none comes within `timeout` s or the process ends without it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for l in self._out[start:]:
                    if l.startswith(prefix):
                        return l
                if self._eof >= 2:  # both streams closed: the process is gone
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        self.poll()
        raise TimeoutError(f"no line starting with {prefix!r} within {timeout} s\n"
                           + self.output())

    def wait_lines(self, prefix: str, count: int, timeout: float) -> list[str]:
        """The first `count` stdout lines starting with `prefix` (bounded like wait_line)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [l for l in self._out if l.startswith(prefix)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if self._eof >= 2 or left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        self.poll()
        raise TimeoutError(f"fewer than {count} lines starting with {prefix!r} within "
                           f"{timeout} s\n" + self.output())

    def wait_exit(self, timeout: float) -> int:
        try:
            rc = self.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.label} did not exit within {timeout} s\n"
                               + self.output()) from None
        # Let the readers drain what is left in the pipes (they end at EOF).
        for t in self._threads:
            t.join(timeout=2.0)
        return rc

    def send_line(self, text: str) -> None:
        assert self.stdin is not None, "start the process with stdin=subprocess.PIPE"
        self.stdin.write(text + "\n")
        self.stdin.flush()

    def stop(self, grace: float = TERM_GRACE_S) -> None:
        """SIGTERM, then SIGKILL if still running after `grace` s; this PID only."""
        if self.poll() is None:
            try:
                self.terminate()
                self.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
                try:
                    self.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            except ProcessLookupError:
                pass
        for s in (self.stdin,):
            try:
                if s:
                    s.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Topology objects
# ---------------------------------------------------------------------------------------------

@dataclass(eq=False)
class Nat:
    name: str
    ns: str
    wan_ipv4: str
    lan_net: str                 # "10.K.1" (a /24)
    symmetric: bool
    filtered: bool = True        # a home router's input-drop rule on the uplink (see add_nat)
    routed: bool = False         # one router hop from the internet bridge (see add_nat)
    next_host: int = FIRST_HOST

    @property
    def lan_gw(self) -> str:
        return f"{self.lan_net}.1"

    @property
    def lan_cidr(self) -> str:
        return f"{self.lan_net}.0/24"


@dataclass(eq=False)
class Node:
    name: str
    ns: str
    kind: str                    # global4 | dual | nat4 | v6only | servers
    ipv4: Optional[str] = None   # the node's own IPv4 (private 10.x behind a NAT)
    ipv6: Optional[str] = None
    nat: Optional[Nat] = None
    uplink: str = "eth0"
    peer_dev: Optional[str] = None     # the veth end in the internet or NAT namespace
    moves: list = field(default_factory=list)  # (monotonic time configured, kind, ipv4, ipv6)

    @property
    def public_ipv4(self) -> Optional[str]:
        """The IPv4 address the internet sees (the NAT's for nat4)."""
        return self.nat.wan_ipv4 if self.nat is not None else self.ipv4

    @property
    def has_ipv4(self) -> bool:
        return self.ipv4 is not None

    @property
    def has_ipv6(self) -> bool:
        return self.ipv6 is not None

    def __str__(self) -> str:
        return (f"{self.name}[{self.kind} v4={self.ipv4} v6={self.ipv6}"
                f"{' nat=' + self.nat.name if self.nat else ''}]")


Where = Union[Node, Nat, str]

_live: "set[Topology]" = set()
_live_lock = threading.RLock()  # re-entrant: a signal may arrive while it is held
_handlers_installed = False


def _cleanup_all() -> None:
    with _live_lock:
        live = list(_live)
    for t in live:
        try:
            t.cleanup()
        except Exception as e:  # keep cleaning the others
            print(f"[netns] cleanup of {t.prefix} failed: {e}", file=sys.stderr)


def _install_handlers() -> None:
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            _cleanup_all()
            if callable(previous):
                previous(signum, frame)
            # KeyboardInterrupt, not SystemExit: pytest records a SystemExit raised inside a
            # test as that test's failure and goes on; an interrupt ends the session.
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(sig, handler)


def _ns_names() -> list[str]:
    r = _ip_cmd(["ip", "netns", "list"])
    # Lines look like "name" or "name (id: 3)".
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def delete_prefixed(prefix: str) -> list[str]:
    """Deletes the namespaces named "<prefix>-*" (only those); returns their names."""
    if not re.fullmatch(r"[A-Za-z0-9_.]{4,40}", prefix):
        raise ValueError(f"refusing an unusual namespace prefix {prefix!r}")
    gone = []
    for name in _ns_names():
        if name.startswith(prefix + "-"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True,
                           timeout=CMD_TIMEOUT_S)
            gone.append(name)
    return gone


class Topology:
    """The seed's test network in namespaces; see the module docstring."""

    def __init__(self, prefix: Optional[str] = None, *, servers: bool = True,
                 verbose: bool = False):
        # NTM_NETNS_PREFIX_BASE lets a person running tests by hand mark their namespaces.
        base = os.environ.get("NTM_NETNS_PREFIX_BASE", "ntmt")
        self.prefix = prefix or f"{base}{secrets.token_hex(4)}"
        if not re.fullmatch(r"[A-Za-z0-9_.]{4,40}", self.prefix):
            raise ValueError(f"bad prefix {self.prefix!r}")
        self.verbose = verbose
        self._want_servers = servers
        self._namespaces: list[str] = []
        self._procs: list[NsProcess] = []
        self._lock = threading.RLock()
        self._next_inet_host = FIRST_HOST
        self._next_lan = 1
        self._next_routed_link = 0
        self._next_dev = 0
        self.nodes: dict[str, Node] = {}
        self.nats: dict[str, Nat] = {}
        self.inet_ns = self._ns("inet")
        self.servers: Optional[Node] = None
        self._built = False
        self._cleaned = False

    # ---- life cycle ----

    def __enter__(self) -> "Topology":
        self.build()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def build(self) -> None:
        if self._built:
            return
        if os.geteuid() != 0:
            raise TopologyError("network namespaces need root")
        with _live_lock:
            _live.add(self)
        _install_handlers()
        self._built = True
        try:
            self._add_ns(self.inet_ns, forwarding=True)
            self._x(self.inet_ns, "ip link add br0 type bridge stp_state 0 mcast_snooping 0")
            self._x(self.inet_ns, f"ip addr add {INET4_GW}/24 dev br0")
            self._x(self.inet_ns, f"ip -6 addr add {INET6_GW}/64 dev br0 nodad")
            self._x(self.inet_ns, "ip link set br0 up")
            if self._want_servers:
                self.servers = self._add_host("srv", "servers", ipv4=SERVERS_IPV4,
                                              ipv6=SERVERS_IPV6)
        except BaseException:
            self.cleanup()
            raise

    def cleanup(self) -> None:
        """Stops every process started here (by PID), then deletes this run's namespaces."""
        with self._lock:
            if self._cleaned:
                return
            self._cleaned = True
            procs, self._procs = self._procs, []
        for p in procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + TERM_GRACE_S
        for p in procs:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=TERM_GRACE_S)
                except subprocess.TimeoutExpired:
                    print(f"[netns] pid {p.pid} ({p.label}) did not die", file=sys.stderr)
        for ns in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                           timeout=CMD_TIMEOUT_S)
        # Anything with this run's prefix that is still there (e.g. half-created).
        try:
            delete_prefixed(self.prefix)
        except Exception as e:
            print(f"[netns] listing namespaces failed: {e}", file=sys.stderr)
        with _live_lock:
            _live.discard(self)

    def leftover_namespaces(self) -> list[str]:
        return [n for n in _ns_names() if n.startswith(self.prefix + "-")]

    # ---- low level ----

    def _ns(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def _x(self, ns: Optional[str], cmd: str, input: Optional[str] = None
           ) -> subprocess.CompletedProcess:
        argv = cmd.split()
        if ns is not None:
            if argv[0] == "ip":
                argv = ["ip", "-n", ns] + argv[1:]
            else:
                argv = ["ip", "netns", "exec", ns] + argv
        if self.verbose:
            print(f"[netns] {' '.join(argv)}", file=sys.stderr)
        return _ip_cmd(argv, input=input)

    def _sysctl(self, ns: str, settings: dict) -> None:
        args = [f"{k}={v}" for k, v in settings.items()]
        self._x(ns, "sysctl -q -w " + " ".join(args))

    def _add_ns(self, ns: str, forwarding: bool = False) -> None:
        with self._lock:
            if self._cleaned:
                raise TopologyError("topology already cleaned up")
            if ns in self._namespaces:
                raise TopologyError(f"namespace {ns} exists already")
            _ip_cmd(["ip", "netns", "add", ns])
            self._namespaces.append(ns)
        self._x(ns, "ip link set lo up")
        settings = {
            # IPv6 addresses are usable at once (no duplicate address detection), no SLAAC noise.
            "net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0,
            "net.ipv6.conf.all.accept_ra": 0, "net.ipv6.conf.default.accept_ra": 0,
            "net.ipv6.conf.default.autoconf": 0,
        }
        if forwarding:
            settings.update({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1})
        self._sysctl(ns, settings)

    def _dev(self, tag: str) -> str:
        with self._lock:
            self._next_dev += 1
            return f"{tag}{self._next_dev}"

    def _inet_host(self) -> int:
        with self._lock:
            n = self._next_inet_host
            if n > LAST_HOST:
                raise TopologyError("the internet /24 is full")
            self._next_inet_host += 1
            return n

    def _veth(self, ns_a: str, dev_a: str, ns_b: str, dev_b: str) -> None:
        self._x(None, f"ip -n {ns_a} link add {dev_a} type veth peer name {dev_b} netns {ns_b}")

    def _link_up_and_forwarding(self, bridge_ns: str, port: str, node: Node) -> None:
        """Brings the node's end of a new link up and waits (bounded) until the kernel has seen
        its carrier and the bridge port forwards - as on a real network, where the host gets its
        address (DHCP, router advertisements) only over a link that already passes frames. An
        address configured earlier makes the host's first ARP/neighbour solicitation vanish in a
        port that does not forward yet, and its first packets wait a second for the retry."""
        self._x(node.ns, f"ip link set {node.uplink} up")
        deadline = time.monotonic() + LINK_READY_TIMEOUT_S
        while True:
            ours = self._x(node.ns, f"ip -o link show dev {node.uplink}").stdout
            theirs = self._x(bridge_ns, f"ip -d -o link show dev {port}").stdout
            if " state UP " in ours and re.search(r"bridge_slave state forwarding", theirs):
                return
            if time.monotonic() > deadline:
                raise TopologyError(f"{node.name}'s new link is not up and forwarding after "
                                    f"{LINK_READY_TIMEOUT_S} s:\n{ours}\n{theirs}")
            time.sleep(0.005)

    def _uplink_to_internet(self, node: Node, ipv4: Optional[str], ipv6: Optional[str],
                            dad: bool = False) -> None:
        dev = self._dev("h")
        self._veth(self.inet_ns, dev, node.ns, node.uplink)
        self._x(self.inet_ns, f"ip link set {dev} master br0 up")
        if ipv6 and dad:
            # As on a real network: the address stays tentative (unusable) while the kernel
            # checks for a duplicate, 1-2 s after the link comes up.
            self._sysctl(node.ns, {f"net.ipv6.conf.{node.uplink}.accept_dad": 1})
            self._x(node.ns, f"ip -6 addr add {ipv6}/64 dev {node.uplink}")
        elif ipv6:
            # Before the link is up: a nodad address added to a link already up left the
            # first neighbour resolution of the servers' address to its 1 s retry in about
            # half the moves (the advertisement arrived and the entry stayed incomplete; not
            # understood). The node counts the address once the link runs.
            self._x(node.ns, f"ip -6 addr add {ipv6}/64 dev {node.uplink} nodad")
        self._link_up_and_forwarding(self.inet_ns, dev, node)
        if ipv4:
            self._x(node.ns, f"ip addr add {ipv4}/24 dev {node.uplink}")
        if ipv4:
            self._x(node.ns, f"ip route add default via {INET4_GW} dev {node.uplink}")
        if ipv6:
            self._x(node.ns, f"ip -6 route add default via {INET6_GW} dev {node.uplink}")
        node.peer_dev, node.ipv4, node.ipv6, node.nat = dev, ipv4, ipv6, None

    def _uplink_to_nat(self, node: Node, nat: Nat) -> None:
        with self._lock:
            host = nat.next_host
            if host > LAST_HOST:
                raise TopologyError(f"NAT {nat.name}'s LAN is full")
            nat.next_host += 1
        ipv4 = f"{nat.lan_net}.{host}"
        dev = self._dev("l")
        self._veth(nat.ns, dev, node.ns, node.uplink)
        self._x(nat.ns, f"ip link set {dev} master lan0 up")
        self._link_up_and_forwarding(nat.ns, dev, node)
        self._x(node.ns, f"ip addr add {ipv4}/24 dev {node.uplink}")
        self._x(node.ns, f"ip route add default via {nat.lan_gw} dev {node.uplink}")
        node.peer_dev, node.ipv4, node.ipv6, node.nat = dev, ipv4, None, nat

    def _add_host(self, suffix: str, kind: str, ipv4: Optional[str], ipv6: Optional[str]
                  ) -> Node:
        node = Node(name=suffix, ns=self._ns(suffix), kind=kind)
        self._add_ns(node.ns)
        self._uplink_to_internet(node, ipv4, ipv6)
        return node

    # ---- public API ----

    def add_nat(self, name: str, *, symmetric: bool = False, filtered: bool = True,
                routed: bool = False, lan: Optional[str] = None) -> Nat:
        """A NAT router on the internet with its own LAN bridge.

        symmetric=True maps every new destination to a new random port (masquerade
        random,fully-random), so hole punching through it fails. filtered=False leaves out the
        home router's rule that drops unsolicited input on the uplink: stock masquerade, where
        a peer's punch that arrives first creates a conntrack entry on the router itself and the
        inside host's own punch is then mapped to another port. `lan` ("10.K.1") picks the LAN
        /24; two NATs may share one (private ranges overlap in real life).

        routed=True puts the NAT one router hop away from the internet bridge: its uplink is a
        point-to-point link (198.19.K.2/30) to the internet's router instead of a port on br0,
        as on the real internet, where two home routers are never neighbours. A packet with a
        small TTL then opens the NAT's mapping and expires before it reaches another NAT."""
        self.build()
        if name in self.nats:
            raise TopologyError(f"NAT {name} exists already")
        with self._lock:
            if lan is None:
                lan = f"10.{self._next_lan}.1"
                self._next_lan += 1
        ipaddress.ip_network(f"{lan}.0/24")  # validates
        if routed:
            with self._lock:
                link = self._next_routed_link
                self._next_routed_link += 1
            if link > 63:
                raise TopologyError("out of routed NAT links")
            wan, gateway, prefix = f"{ROUTED_NET}.{4 * link + 2}", f"{ROUTED_NET}.{4 * link + 1}", 30
        else:
            wan, gateway, prefix = f"{INET4_NET}.{self._inet_host()}", INET4_GW, 24
        nat = Nat(name=name, ns=self._ns(f"nat-{name}"), wan_ipv4=wan, lan_net=lan,
                  symmetric=symmetric, filtered=filtered, routed=routed)
        self._add_ns(nat.ns, forwarding=True)
        dev = self._dev("h")
        self._veth(self.inet_ns, dev, nat.ns, "wan0")
        if routed:
            self._x(self.inet_ns, f"ip addr add {gateway}/{prefix} dev {dev}")
            self._x(self.inet_ns, f"ip link set {dev} up")
        else:
            self._x(self.inet_ns, f"ip link set {dev} master br0 up")
        self._x(nat.ns, f"ip addr add {wan}/{prefix} dev wan0")
        self._x(nat.ns, "ip link set wan0 up")
        self._x(nat.ns, f"ip route add default via {gateway} dev wan0")
        self._x(nat.ns, "ip link add lan0 type bridge stp_state 0 mcast_snooping 0")
        self._x(nat.ns, f"ip addr add {nat.lan_gw}/24 dev lan0")
        self._x(nat.ns, "ip link set lan0 up")
        masq = "masquerade random,fully-random" if symmetric else "masquerade"
        # A home router: LAN -> internet allowed and masqueraded; from the internet only replies
        # (conntrack established/related) get in - to the LAN and to the router itself. Dropping
        # unsolicited packets in `input` also keeps them from creating conntrack entries that
        # would make the masquerade pick another port (which would break hole punching).
        ruleset = f"""
table inet ntm_fw {{
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    {'iifname "wan0" ct state != established,related drop' if filtered else ''}
  }}
  chain output {{
    type filter hook output priority filter; policy accept;
  }}
}}
table ip ntm_nat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" ip saddr {nat.lan_cidr} {masq}
  }}
}}
"""
        self._x(nat.ns, "nft -f -", input=ruleset)
        self.nats[name] = nat
        return nat

    def add_node(self, name: str, kind: str = "global4", *, ipv6: Optional[bool] = None,
                 nat: Union[Nat, str, None] = None, symmetric: bool = False) -> Node:
        """A node namespace "<prefix>-n-NAME" attached as `kind` (see KINDS).

        global4: IPv4 on the internet (ipv6=True adds an IPv6 address: dual stack).
        dual:    global4 with IPv6.
        nat4:    behind `nat` (a Nat or its name); without one, behind a new NAT of its own
                 named after the node (symmetric=True makes that NAT symmetric).
        v6only:  IPv6 on the internet, no IPv4 address or route."""
        self.build()
        if kind not in KINDS:
            raise ValueError(f"unknown node kind {kind!r} (one of {KINDS})")
        if name in self.nodes:
            raise TopologyError(f"node {name} exists already")
        node = Node(name=name, ns=self._ns(f"n-{name}"), kind=kind)
        self._add_ns(node.ns)
        self.nodes[name] = node
        self._attach(node, kind, ipv6=ipv6, nat=nat, symmetric=symmetric)
        return node

    def _resolve_nat(self, nat: Union[Nat, str, None], node: Node, symmetric: bool) -> Nat:
        if isinstance(nat, Nat):
            return nat
        if isinstance(nat, str):
            if nat not in self.nats:
                raise TopologyError(f"no NAT named {nat}")
            return self.nats[nat]
        base = f"{node.name}"
        n = 1
        name = base
        while name in self.nats:
            n += 1
            name = f"{base}{n}"
        return self.add_nat(name, symmetric=symmetric)

    def _attach(self, node: Node, kind: str, *, ipv6: Optional[bool] = None,
                nat: Union[Nat, str, None] = None, symmetric: bool = False,
                dad: bool = False) -> None:
        if kind == "nat4":
            self._uplink_to_nat(node, self._resolve_nat(nat, node, symmetric))
        else:
            if nat is not None:
                raise ValueError("nat= only goes with kind='nat4'")
            host = self._inet_host()
            if kind == "v6only":
                v4, v6 = None, f"{INET6_NET}{host}"
            else:
                with_v6 = kind == "dual" or bool(ipv6)
                v4 = f"{INET4_NET}.{host}"
                v6 = f"{INET6_NET}{host}" if with_v6 else None
                if with_v6 and kind == "global4":
                    kind = "dual"
            self._uplink_to_internet(node, v4, v6, dad=dad)
        node.kind = kind

    def set_uplink_mtu(self, node: Node, mtu: int) -> None:
        """A narrow link: the MTU of the node's uplink veth, both ends (behind a NAT this also
        narrows the NAT's LAN bridge, which takes the smallest MTU of its ports)."""
        if node.peer_dev is None:
            raise TopologyError(f"{node.name} is detached")
        self._x(node.ns, f"ip link set {node.uplink} mtu {mtu}")
        where = node.nat.ns if node.nat is not None else self.inet_ns
        self._x(where, f"ip link set {node.peer_dev} mtu {mtu}")

    def drop_frag_needed(self, nat: Nat) -> None:
        """The NAT no longer sends ICMP "fragmentation needed": a path-MTU black hole for packets
        too big for its LAN (a common firewall misconfiguration)."""
        self._x(nat.ns, "nft add rule inet ntm_fw output icmp type destination-unreachable "
                        "icmp code frag-needed drop")

    def block_udp(self, where: Where, port: int, hosts: Sequence[str]) -> str:
        """Drops the UDP that `where` sends to `port` on any of `hosts` (a server unreachable
        from there, in both families). Returns a handle for unblock_udp()."""
        table = f"ntm_block_{secrets.token_hex(3)}"
        rules = "\n".join(f"    {'ip6' if ':' in h else 'ip'} daddr {h} udp dport {port} drop"
                          for h in hosts)
        ns = self.ns_of(where)
        self._x(ns, "nft -f -", input=f"""
table inet {table} {{
  chain output {{
    type filter hook output priority filter - 10; policy accept;
{rules}
  }}
}}
""")
        return f"{ns} {table}"

    def unblock_udp(self, handle: str) -> None:
        ns, table = handle.split()
        self._x(ns, f"nft delete table inet {table}")

    def detach(self, node: Node) -> None:
        """Removes the node's uplink (and so its addresses and routes): the node is offline."""
        if node.peer_dev is not None:
            self._x(node.ns, f"ip link del {node.uplink}")
        node.peer_dev, node.ipv4, node.ipv6, node.nat = None, None, None, None

    def attach(self, node: Node, target: Union[str, Nat], *, ipv6: Optional[bool] = None,
               symmetric: bool = False, dad: bool = False) -> float:
        """Connects a detached node to `target`: a kind ("global4", "dual", "v6only", "nat4" =
        behind a new NAT), a Nat, or a NAT's name. Returns time.monotonic() right after the new
        address and default route were configured (CLOCK_MONOTONIC is shared with the nodes, so
        a node can report how long after this it recovered). dad=True: the new IPv6 address
        goes through duplicate address detection (tentative for 1-2 s) as on a real network."""
        if node.peer_dev is not None:
            raise TopologyError(f"{node.name} is attached; detach or move it")
        if isinstance(target, Nat) or (isinstance(target, str) and target in self.nats):
            self._attach(node, "nat4", nat=target)
        elif target == "nat4":
            self._attach(node, "nat4", symmetric=symmetric)
        elif target in KINDS:
            self._attach(node, target, ipv6=ipv6, dad=dad)
        else:
            raise ValueError(f"move target {target!r} is neither a kind nor a NAT")
        configured = time.monotonic()
        node.moves.append((configured, node.kind, node.ipv4, node.ipv6))
        return configured

    def move(self, node: Node, target: Union[str, Nat], *, ipv6: Optional[bool] = None,
             symmetric: bool = False) -> float:
        """Mobility: deletes the node's uplink veth and attaches it to `target` (see attach)
        with a new address and default route. Returns the monotonic time of configuration."""
        self.detach(node)
        return self.attach(node, target, ipv6=ipv6, symmetric=symmetric)

    def ns_of(self, where: Where) -> str:
        if isinstance(where, (Node, Nat)):
            return where.ns
        if where in self.nodes:
            return self.nodes[where].ns
        if where in self.nats:
            return self.nats[where].ns
        if where in ("srv", "servers") and self.servers is not None:
            return self.servers.ns
        if where == "inet":
            return self.inet_ns
        if isinstance(where, str) and where.startswith(self.prefix + "-"):
            return where
        raise TopologyError(f"unknown place {where!r}")

    def run(self, where: Where, argv: Sequence[str], *, label: Optional[str] = None,
            **popen_kw) -> NsProcess:
        """Starts argv inside the namespace of `where` (ip netns exec; the PID is the program's
        own) and records it for cleanup. stdout/stderr are collected line by line."""
        ns = self.ns_of(where)
        if self._cleaned:
            raise TopologyError("topology already cleaned up")
        name = label or f"{getattr(where, 'name', where)}:{os.path.basename(argv[0])}"
        p = NsProcess(name, ["ip", "netns", "exec", ns, *argv], **popen_kw)
        with self._lock:
            self._procs.append(p)
        return p

    def exec(self, where: Where, argv: Sequence[str], *, timeout: float = CMD_TIMEOUT_S,
             check: bool = True, input: Optional[str] = None) -> subprocess.CompletedProcess:
        """Runs argv to completion inside the namespace of `where` (bounded by `timeout`)."""
        full = ["ip", "netns", "exec", self.ns_of(where), *argv]
        try:
            r = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                               input=input)
        except subprocess.TimeoutExpired as e:
            raise TopologyError(f"timed out after {timeout} s: {' '.join(full)}") from e
        if check and r.returncode != 0:
            raise TopologyError(f"failed (rc={r.returncode}): {' '.join(full)}\n"
                                f"{r.stdout}{r.stderr}")
        return r

    def describe(self) -> str:
        lines = [f"topology {self.prefix}: internet {INET4_NET}.0/24 {INET6_NET}/64"]
        if self.servers:
            lines.append(f"  servers {self.servers.ipv4} {self.servers.ipv6}")
        for nat in self.nats.values():
            lines.append(f"  nat {nat.name} wan {nat.wan_ipv4} lan {nat.lan_cidr}"
                         f"{' symmetric' if nat.symmetric else ''}"
                         f"{'' if nat.filtered else ' unfiltered'}{' routed' if nat.routed else ''}")
        for node in self.nodes.values():
            lines.append(f"  node {node}")
        return "\n".join(lines)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05,
               what: str = "condition") -> None:
    """Polls `predicate` until it is true; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def endpoint(addr: str, port: int) -> str:
    """HOST:PORT with brackets for IPv6."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cleanup", metavar="PREFIX",
                    help="delete the namespaces PREFIX-* a killed run left behind")
    ap.add_argument("--demo", action="store_true",
                    help="build one node of each kind, print the layout, clean up")
    a = ap.parse_args()
    if a.cleanup:
        for n in delete_prefixed(a.cleanup):
            print(f"deleted {n}")
    elif a.demo:
        with Topology(verbose=True) as t:
            t.add_node("g", "global4")
            t.add_node("d", "dual")
            t.add_node("n", "nat4")
            t.add_node("s", "nat4", symmetric=True)
            t.add_node("v", "v6only")
            print(t.describe())
    else:
        ap.print_help()
