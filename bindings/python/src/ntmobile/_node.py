"""The node: one per process. Start it with options, read its state, receive its events."""

from __future__ import annotations

import atexit
import dataclasses
import enum
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Optional, TypeVar

from . import _ntm
from ._errors import NodeStateError

__all__ = [
    "Cipher",
    "LogLevel",
    "EventType",
    "PathKind",
    "TunnelState",
    "KeyPair",
    "Peer",
    "Event",
    "NodeInfo",
    "TunnelInfo",
    "Stats",
    "Node",
    "generate_keypair",
    "public_key_from_private",
    "start",
    "stop",
    "is_running",
    "notify_network_change",
    "node_info",
    "tunnels",
    "stats",
    "version",
]


class Cipher(enum.IntEnum):
    """The AEAD that seals tunnel packets (ntm_cipher)."""

    AES_256_GCM = 1
    CHACHA20_POLY1305 = 2


class LogLevel(enum.IntEnum):
    """How much the library logs to stderr (ntm_log_level)."""

    OFF = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4


class EventType(enum.IntEnum):
    """Kinds of node event (ntm_event_type)."""

    STARTED = 1
    STOPPING = 2
    TUNNEL_UP = 3
    TUNNEL_DOWN = 4
    PATH_CHANGED = 5
    REGISTERED = 6  # control-plane mode: registered with the Direction Coordinator (again)
    PEER_REVOKED = 7  # a peer's account was disabled or deleted; its tunnel was torn down
    REVOKED = 8  # this node's account was disabled or deleted; it stopped registering
    SERVER_UNREACHABLE = 9  # control-plane mode: the DC stopped answering; the node retries


class PathKind(enum.IntEnum):
    """How a tunnel reaches its peer (ntm_path_kind)."""

    NONE = 0
    DIRECT = 1
    RELAY = 2


class TunnelState(enum.IntEnum):
    """Lifecycle of a tunnel (ntm_tunnel_state)."""

    IDLE = 0
    HANDSHAKE = 1
    UP = 2


_REDACTED = "<redacted>"
# Options that are secrets: string forms (repr, str, logging) never show their values.
_SECRET_FIELDS = frozenset({"private_key", "password"})


class KeyPair(NamedTuple):
    """An X25519 key pair as base64 text. The private key is the node's identity; the pair's
    repr never shows it."""

    private_key: str
    public_key: str

    def __repr__(self) -> str:
        return f"KeyPair(private_key={_REDACTED!r}, public_key={self.public_key!r})"


@dataclass(frozen=True)
class Peer:
    """A peer known in advance (static-peer mode, no servers needed).

    ``endpoint`` is its real UDP address ("127.0.0.1:47001", "[::1]:47001"), or None when only
    the peer starts tunnels (its address is then learnt). At least one virtual address is needed
    to reach it.
    """

    name: str
    public_key: str
    endpoint: Optional[str] = None
    virtual_ipv4: Optional[str] = None
    virtual_ipv6: Optional[str] = None


@dataclass(frozen=True)
class Event:
    """A node event, delivered to ``on_event`` on the library's event thread."""

    type: EventType
    peer_name: str
    peer_node_id: str
    endpoint: str
    path: PathKind
    message: str


@dataclass(frozen=True)
class NodeInfo:
    """This node's identity and addresses ("" where absent)."""

    node_id: str
    name: str
    public_key: str
    virtual_ipv4: str
    virtual_ipv6: str
    endpoint_ipv4: str
    endpoint_ipv6: str
    mtu: int


@dataclass(frozen=True)
class TunnelInfo:
    """One row of the tunnel table."""

    peer_name: str
    peer_node_id: str
    virtual_ipv4: str
    virtual_ipv6: str
    state: TunnelState
    path: PathKind
    endpoint: str
    local_path_id: int
    bytes_sent: int
    bytes_received: int
    packets_sent: int
    packets_received: int
    last_activity_ms: int
    session_age_ms: int
    rtt_us: int  # smoothed tunnel round-trip time; -1 if unknown
    path_mtu: int  # largest inner packet known to reach the peer; 0 while not measured


@dataclass(frozen=True)
class Stats:
    """Node-wide counters since start."""

    packets_sent: int
    packets_received: int
    bytes_sent: int
    bytes_received: int
    dropped_malformed: int
    dropped_unknown_path: int
    dropped_auth: int
    dropped_replay: int
    dropped_no_tunnel: int
    handshakes_completed: int
    handshakes_failed: int
    dropped_spoofed: int
    dropped_policy: int
    dropped_limit: int
    handshakes_initiated: int
    logins: int
    registrations: int
    network_changes: int
    resolves_sent: int
    directions_received: int
    dc_keepalives_sent: int
    dc_keepalives_missed: int
    relay_fallbacks: int
    direct_upgrades: int
    tcp_connections: int
    memory_used: int


_E = TypeVar("_E", bound=enum.IntEnum)


def _enum(kind: type[_E], value: int) -> Any:
    """The enum member, or the plain int for a value a newer library added."""
    try:
        return kind(value)
    except ValueError:
        return value


def generate_keypair() -> KeyPair:
    """A new X25519 key pair (ntm_keypair_generate)."""
    private_key, public_key = _ntm.keypair_generate()
    return KeyPair(private_key, public_key)


def public_key_from_private(private_key: str) -> str:
    """The public key that belongs to a base64 private key."""
    return _ntm.public_key_from_private(private_key)


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _ntm.version()


def is_running() -> bool:
    """True while this process's node runs."""
    return _ntm.is_running()


def notify_network_change() -> None:
    """Tell the node the host's network changed (the OS told the application first).

    The node sends path updates from its new address, registers again with the DC and makes TCP
    retransmit at once; on Linux it also notices changes by itself (netlink). Raises NTMError
    when no node runs."""
    _ntm.notify_network_change()


def node_info() -> NodeInfo:
    """Describes the running node (NodeStateError when none runs)."""
    return NodeInfo(**_ntm.node_info())


def tunnels() -> list[TunnelInfo]:
    """A snapshot of the tunnel table."""
    rows = _ntm.tunnels()
    for row in rows:
        row["state"] = _enum(TunnelState, row["state"])
        row["path"] = _enum(PathKind, row["path"])
    return [TunnelInfo(**row) for row in rows]


def stats() -> Stats:
    """The running node's counters."""
    return Stats(**_ntm.stats())


_lock = threading.Lock()
_current: Optional["Node"] = None


@dataclass(repr=False)
class Node:
    """This process's node, with the options of ``ntm_options``.

    Use it as a context manager (started on entry, stopped on exit) or call :meth:`start` and
    :meth:`stop`. A process runs one node at a time; after stop it may start again.

    Static-peer mode (no ``server``): ``name``, ``private_key`` and a virtual address are
    required and ``peers`` lists the other nodes. Control-plane mode (``server`` set): the node
    logs in to the Account Server with ``account``/``password`` (which gives it its name) and
    gets its virtual addresses from the Direction Coordinator; leave ``name`` and the virtual
    addresses unset; ``private_key`` is optional (kept in ``state_dir`` when that is set).

    ``on_event`` is called with an :class:`Event` on the library's event thread (holding the
    GIL), in order, never concurrently with itself. It must return quickly and must not stop the
    node; exceptions it raises go to ``sys.unraisablehook``.

    ``repr()`` shows every option except the secrets (``private_key``, ``password``), which read
    ``'<redacted>'`` when set.
    """

    name: Optional[str] = None
    private_key: Optional[str] = None
    virtual_ipv4: Optional[str] = None
    virtual_ipv6: Optional[str] = None
    listen_ipv4: Optional[str] = None  # None: the library default "0.0.0.0:0"; "" disables IPv4
    listen_ipv6: Optional[str] = None  # None: the library default "[::]:0"; "" disables IPv6
    peers: Iterable[Peer] = field(default_factory=tuple)
    cipher: Cipher = Cipher.AES_256_GCM
    mtu: int = 0  # 0: the default 1420
    idle_timeout_ms: int = 0  # 0: the default 180000
    log_level: LogLevel = LogLevel.WARN
    on_event: Optional[Callable[[Event], object]] = None
    server: Optional[str] = None  # the Account Server, "192.0.2.1:7800"; None: static-peer mode
    server_certificate: Optional[str] = None  # the AS's certificate (PEM text or file path)
    account: Optional[str] = None
    password: Optional[str] = None  # or a one-time enrollment token
    state_dir: Optional[str] = None  # where the node keeps its key across restarts
    direct_timeout_ms: int = 0  # hole punching time before relaying; 0: the default 1000
    memory_limit: int = 0  # the node's memory budget in bytes; 0: the default 256 MiB
    max_sockets: int = 0  # socket table size; 0: the default 16384
    max_connections_per_peer: int = 0  # 0: the default 1024
    max_socket_buffer: int = 0  # cap of a TCP socket's auto-tuned buffers; 0: the default 16 MiB
    keepalive_interval_ms: int = 0  # idle tunnel keepalives; 0: the default 25000
    start_timeout_ms: int = 0  # control-plane start-up retries; 0: the default 30000
    control_socket: Optional[str] = None  # Unix socket path of the local control API

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value is not None:
                value = _REDACTED
            parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def start(self) -> "Node":
        """Starts the node (ntm_start); returns once its virtual addresses are usable."""
        global _current
        peers = [
            (p.name, p.public_key, p.endpoint or None, p.virtual_ipv4, p.virtual_ipv6)
            for p in self.peers
        ]
        handler = _dispatcher(self.on_event) if self.on_event is not None else None
        with _lock:
            _ntm.start(
                self.name,
                self.private_key,
                self.virtual_ipv4,
                self.virtual_ipv6,
                self.listen_ipv4,
                self.listen_ipv6,
                peers,
                int(self.cipher),
                int(self.mtu),
                int(self.idle_timeout_ms),
                int(self.log_level),
                handler,
                self.server,
                self.server_certificate,
                self.account,
                self.password,
                None if self.state_dir is None else str(self.state_dir),
                int(self.direct_timeout_ms),
                int(self.memory_limit),
                int(self.max_sockets),
                int(self.max_connections_per_peer),
                int(self.max_socket_buffer),
                int(self.keepalive_interval_ms),
                int(self.start_timeout_ms),
                None if self.control_socket is None else str(self.control_socket),
            )
            _current = self
        return self

    def stop(self) -> None:
        """Stops the node (ntm_stop): closes every ntm socket; blocks up to about 2 seconds."""
        global _current
        with _lock:
            if _current is not self:
                raise NodeStateError(-3, "this node is not running")
            _ntm.stop()
            _current = None

    @property
    def running(self) -> bool:
        """True while this node runs."""
        return _current is self and _ntm.is_running()

    def info(self) -> NodeInfo:
        """Identity, virtual addresses and bound real UDP endpoints."""
        return node_info()

    def tunnels(self) -> list[TunnelInfo]:
        """A snapshot of the tunnel table: peer, path, real endpoint, counters."""
        return tunnels()

    def stats(self) -> Stats:
        """Node-wide counters."""
        return stats()

    def __enter__(self) -> "Node":
        # ``with ntmobile.start(...) as node:`` enters a node that already runs.
        return self if self.running else self.start()

    def __exit__(self, *exc_info: object) -> None:
        if self.running:
            self.stop()


def _dispatcher(on_event: Callable[[Event], object]) -> Callable[..., None]:
    def dispatch(type_: int, peer_name: str, node_id: str, endpoint: str, path: int, message: str) -> None:
        on_event(Event(_enum(EventType, type_), peer_name, node_id, endpoint, _enum(PathKind, path), message))

    return dispatch


def start(
    name: Optional[str] = None,
    private_key: Optional[str] = None,
    *,
    virtual_ipv4: Optional[str] = None,
    virtual_ipv6: Optional[str] = None,
    listen_ipv4: Optional[str] = None,
    listen_ipv6: Optional[str] = None,
    peers: Iterable[Peer] = (),
    cipher: Cipher = Cipher.AES_256_GCM,
    mtu: int = 0,
    idle_timeout_ms: int = 0,
    log_level: LogLevel = LogLevel.WARN,
    on_event: Optional[Callable[[Event], object]] = None,
    server: Optional[str] = None,
    server_certificate: Optional[str] = None,
    account: Optional[str] = None,
    password: Optional[str] = None,
    state_dir: Optional[str] = None,
    direct_timeout_ms: int = 0,
    memory_limit: int = 0,
    max_sockets: int = 0,
    max_connections_per_peer: int = 0,
    max_socket_buffer: int = 0,
    keepalive_interval_ms: int = 0,
    start_timeout_ms: int = 0,
    control_socket: Optional[str] = None,
) -> Node:
    """Starts this process's node and returns it (see :class:`Node` for the options)."""
    return Node(
        name=name,
        private_key=private_key,
        virtual_ipv4=virtual_ipv4,
        virtual_ipv6=virtual_ipv6,
        listen_ipv4=listen_ipv4,
        listen_ipv6=listen_ipv6,
        peers=tuple(peers),
        cipher=cipher,
        mtu=mtu,
        idle_timeout_ms=idle_timeout_ms,
        log_level=log_level,
        on_event=on_event,
        server=server,
        server_certificate=server_certificate,
        account=account,
        password=password,
        state_dir=state_dir,
        direct_timeout_ms=direct_timeout_ms,
        memory_limit=memory_limit,
        max_sockets=max_sockets,
        max_connections_per_peer=max_connections_per_peer,
        max_socket_buffer=max_socket_buffer,
        keepalive_interval_ms=keepalive_interval_ms,
        start_timeout_ms=start_timeout_ms,
        control_socket=control_socket,
    ).start()


def stop() -> None:
    """Stops the running node, whichever started it."""
    global _current
    with _lock:
        _ntm.stop()
        _current = None


@atexit.register
def _stop_at_exit() -> None:
    # The event thread must not call into a finalizing interpreter: stop a node left running.
    if _ntm.is_running():
        try:
            stop()
        except Exception:  # noqa: BLE001 - nothing useful to do at exit
            pass
