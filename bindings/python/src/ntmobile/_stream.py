"""NTMSocket: a TCP socket on the node's virtual addresses that *is* a ``socket.socket``.

How: a connected virtual socket is bridged to an OS descriptor by the library
(``ntm_bridge_socket``: one end of a socketpair that library threads pump to and from the
virtual connection), and a listening one to an OS listening descriptor (``ntm_bridge_listen``).
The Python object holds that descriptor, so ``makefile``, ``sendall``, timeouts, ``selectors``,
``asyncio`` and ``ssl`` are the standard library's own code. Until it connects or listens the
object holds the virtual socket (for bind and options) and a placeholder OS descriptor whose
number is then taken over by the bridged one (``dup2``), so ``fileno()`` stays the same.

What differs from a kernel TCP socket:
- ``getsockname``/``getpeername`` report virtual addresses (recorded before bridging).
- ``connect`` completes before it returns, also on a non-blocking socket (bounded by the
  timeout when there is one); ``asyncio`` users can await :func:`ntmobile.open_connection`.
- TCP options - ``TCP_NODELAY``, ``SO_KEEPALIVE``, ``TCP_KEEPIDLE``/``KEEPINTVL``/``KEEPCNT`` -
  apply to the virtual connection at any time (``ntm_bridge_setsockopt`` once connected), as
  in the Java and Ruby bindings; a connected socket starts with ``TCP_NODELAY`` on. Other
  ``SOL_SOCKET`` options of a connected socket apply to the local descriptor (e.g.
  ``SO_RCVBUF`` sizes the bridge's buffer); other TCP options raise ``OSError(ENOPROTOOPT)``.
  A listening socket takes TCP options before ``listen``.
- Wrap connected sockets with ``ssl`` (``wrap_socket`` after ``connect``/``accept``); wrapping
  an unconnected or listening socket raises ``OSError`` (``ENOTCONN``/``EOPNOTSUPP``) saying so.
"""

from __future__ import annotations

import _socket as _csocket
import errno
import os
import select
import socket as _socket
import time
import weakref
from typing import Any, Optional

from . import _ntm
from ._resolve import resolve_address

__all__ = ["NTMSocket"]

_FRESH, _CONNECTED, _LISTENING = 0, 1, 2
_TYPE_FLAGS = getattr(_socket, "SOCK_NONBLOCK", 0) | getattr(_socket, "SOCK_CLOEXEC", 0)


def _close_ntm_quietly(fd: int) -> None:
    try:
        _ntm.close(fd)
    except OSError:
        pass


def _close_os_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _placeholder_fd() -> int:
    # Any OS socket will do: it only reserves the descriptor number until dup2 replaces it.
    return _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM).detach()


def _wait_readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000 + 0.999))))


_CONNECTION_OPTIONS = {
    (_socket.SOL_SOCKET, _socket.SO_KEEPALIVE),
    (_socket.IPPROTO_TCP, _socket.TCP_NODELAY),
    (_socket.IPPROTO_TCP, getattr(_socket, "TCP_KEEPIDLE", -1)),
    (_socket.IPPROTO_TCP, getattr(_socket, "TCP_KEEPINTVL", -1)),
    (_socket.IPPROTO_TCP, getattr(_socket, "TCP_KEEPCNT", -1)),
}


def _is_connection_option(level: int, optname: int) -> bool:
    """Options of the virtual connection itself (the bridged descriptor is a Unix socket)."""
    return (level, optname) in _CONNECTION_OPTIONS


def _timeout_arg(timeout: Optional[float]) -> float:
    # The native calls take -1 for "block"; a non-blocking socket's connect also completes
    # before returning (see the module docstring).
    return -1.0 if timeout is None or timeout == 0 else float(timeout)


class NTMSocket(_socket.socket):
    """A TCP socket over ntmobile; use it wherever a ``socket.socket`` is expected.

    ``NTMSocket(family=AF_INET, type=SOCK_STREAM, proto=0)`` needs a running node. Host names
    in addresses are node names (resolved with :func:`ntmobile.getaddrinfo`).
    """

    __slots__ = ("_ntm_fd", "_ntm_state", "_ntm_local", "_ntm_peer", "_ntm_listener", "_ntm_finalizer")

    def __init__(
        self,
        family: int = _socket.AF_INET,
        type: int = _socket.SOCK_STREAM,
        proto: int = 0,
        fileno: Optional[int] = None,
    ) -> None:
        self._ntm_fd = -1
        self._ntm_state = _FRESH
        self._ntm_local: Optional[tuple[Any, ...]] = None
        self._ntm_peer: Optional[tuple[Any, ...]] = None
        self._ntm_listener = -1
        self._ntm_finalizer: Optional["weakref.finalize[Any, Any]"] = None
        if family not in (_socket.AF_INET, _socket.AF_INET6):
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        if fileno is not None:
            # An OS descriptor that already carries a virtual connection (accept, dup).
            super().__init__(family, _socket.SOCK_STREAM, 0, fileno)
            self._ntm_state = _CONNECTED
            return
        if type & ~_TYPE_FLAGS != _socket.SOCK_STREAM:
            raise ValueError("NTMSocket is a stream socket; use NTMDatagramSocket for SOCK_DGRAM")
        ntm_fd = _ntm.socket(family, _socket.SOCK_STREAM, proto)
        try:
            placeholder = _placeholder_fd()
        except BaseException:
            _close_ntm_quietly(ntm_fd)
            raise
        # proto 0, as socket.socket(AF_INET, SOCK_STREAM) reports it.
        super().__init__(family, _socket.SOCK_STREAM, 0, placeholder)
        self._ntm_fd = ntm_fd
        self._ntm_finalizer = weakref.finalize(self, _close_ntm_quietly, ntm_fd)
        if type & getattr(_socket, "SOCK_NONBLOCK", 0):
            self.setblocking(False)

    # ---- internal -----------------------------------------------------------------------

    @classmethod
    def _ntm_from_os_fd(
        cls, fd: int, family: int, local: Optional[tuple[Any, ...]], peer: Optional[tuple[Any, ...]]
    ) -> "NTMSocket":
        sock = cls(family, _socket.SOCK_STREAM, 0, fileno=fd)
        sock._ntm_local = local
        sock._ntm_peer = peer
        # The descriptor's O_NONBLOCK must match the Python-side timeout.
        sock.settimeout(_socket.getdefaulttimeout())
        return sock

    def _ntm_check_open(self) -> None:
        if self.fileno() < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def _ntm_require_fresh(self) -> int:
        self._ntm_check_open()
        if self._ntm_state == _CONNECTED:
            raise OSError(errno.EISCONN, os.strerror(errno.EISCONN))
        if self._ntm_state == _LISTENING:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return self._ntm_fd

    def _ntm_adopt(self, os_fd: int, keep: bool = False) -> None:
        """Puts a bridged OS descriptor behind this object's descriptor number."""
        timeout = self.gettimeout()
        try:
            os.dup2(os_fd, self.fileno(), inheritable=False)
        finally:
            if not keep:
                os.close(os_fd)
        _socket.socket.settimeout(self, timeout)  # O_NONBLOCK lives in the new open file

    def _ntm_release_virtual(self) -> int:
        fd = self._ntm_fd
        self._ntm_fd = -1
        if self._ntm_finalizer is not None:
            self._ntm_finalizer.detach()
            self._ntm_finalizer = None
        return fd

    def _ntm_wildcard_local(self, local: tuple[Any, ...]) -> tuple[Any, ...]:
        if local[0] not in ("0.0.0.0", "::"):
            return local
        try:
            info = _ntm.node_info()
        except Exception:  # noqa: BLE001 - keep the wildcard if the node cannot say
            return local
        host = info["virtual_ipv6"] if self.family == _socket.AF_INET6 else info["virtual_ipv4"]
        return (host,) + tuple(local[1:]) if host else local

    # ---- connecting -----------------------------------------------------------------------

    def connect(self, address: Any) -> None:
        """Connects to a peer's virtual address (or node name); bounded by the timeout."""
        fd = self._ntm_require_fresh()
        sockaddr = resolve_address(self.family, address, _socket.SOCK_STREAM)
        _ntm.connect(fd, self.family, sockaddr, _timeout_arg(self.gettimeout()))
        local = _ntm.getsockname(fd)
        peer = _ntm.getpeername(fd)
        os_fd = _ntm.bridge_socket(self._ntm_release_virtual())  # takes the virtual socket
        self._ntm_adopt(os_fd)
        self._ntm_local, self._ntm_peer = local, peer
        self._ntm_state = _CONNECTED

    def connect_ex(self, address: Any) -> int:
        """Like connect, but returns an errno value instead of raising (0 on success)."""
        try:
            self.connect(address)
        except _socket.gaierror:
            raise
        except OSError as e:
            return e.errno if e.errno is not None else errno.EAGAIN
        return 0

    def bind(self, address: Any) -> None:
        """Binds to a virtual address (("", port) for any) before connect or listen."""
        fd = self._ntm_require_fresh()
        _ntm.bind(fd, self.family, resolve_address(self.family, address, _socket.SOCK_STREAM))

    # ---- listening ------------------------------------------------------------------------

    def listen(self, backlog: Optional[int] = None) -> None:
        """Starts accepting virtual connections; the descriptor becomes readable when one waits."""
        self._ntm_check_open()
        if self._ntm_state == _LISTENING:
            return
        fd = self._ntm_require_fresh()
        if backlog is None:
            backlog = min(_socket.SOMAXCONN, 128)
        _ntm.listen(fd, max(0, backlog))
        local = _ntm.getsockname(fd)
        os_fd = _ntm.bridge_listen(self._ntm_release_virtual())
        # The library watches the descriptor it returned to notice when listening ends, so that
        # number stays open (with the same socket) until this object closes.
        self._ntm_adopt(os_fd, keep=True)
        self._ntm_listener = os_fd
        self._ntm_finalizer = weakref.finalize(self, _close_os_quietly, os_fd)
        self._ntm_local = local
        self._ntm_state = _LISTENING

    def accept(self) -> tuple["NTMSocket", Any]:
        """Waits for a virtual connection; returns (NTMSocket, peer virtual address)."""
        self._ntm_check_open()
        if self._ntm_state != _LISTENING:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        timeout = self.gettimeout()
        if timeout is None:
            fd, peer = _ntm.bridge_accept_listener(self.fileno())
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fd, peer = _ntm.bridge_accept_listener(self.fileno())
                    break
                except BlockingIOError:
                    if timeout == 0:
                        raise
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not _wait_readable(self.fileno(), remaining):
                        raise _socket.timeout("timed out") from None
        local = self._ntm_wildcard_local(self._ntm_local or ("", 0))
        if self.family == _socket.AF_INET6 and peer is not None and len(peer) == 2:
            peer = ("::ffff:" + peer[0], peer[1], 0, 0)  # IPv4 on a dual-stack listener
        try:
            conn = NTMSocket._ntm_from_os_fd(fd, self.family, local, peer)
        except BaseException:
            os.close(fd)
            raise
        return conn, peer

    # asyncio's selector loop and socket.socket both go through accept(); _accept is the
    # low-level hook some code calls directly.
    def _accept(self) -> tuple[int, Any]:
        conn, peer = self.accept()
        return conn.detach(), peer

    # ---- addresses, options, shutdown, close ----------------------------------------------

    def getsockname(self) -> Any:
        """This end's virtual address."""
        self._ntm_check_open()
        if self._ntm_state == _FRESH:
            return _ntm.getsockname(self._ntm_fd)
        if self._ntm_local is None:
            raise OSError(errno.ENOTSUP, "virtual address unknown for this descriptor")
        return self._ntm_local

    def getpeername(self) -> Any:
        """The peer's virtual address."""
        self._ntm_check_open()
        if self._ntm_state != _CONNECTED or self._ntm_peer is None:
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
        return self._ntm_peer

    def setsockopt(self, level: int, optname: int, value: Any, optlen: Optional[int] = None) -> None:
        self._ntm_check_open()
        if value is None:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        if isinstance(value, bool):
            value = int(value)
        if self._ntm_state == _FRESH:
            _ntm.setsockopt(self._ntm_fd, level, optname, value)
            return
        if _is_connection_option(level, optname):
            if self._ntm_state == _LISTENING:
                raise OSError(errno.ENOPROTOOPT, "set TCP options of a listening NTM socket before listen()")
            _ntm.bridge_setsockopt(self.fileno(), level, optname, value)
            return
        if level != _socket.SOL_SOCKET:
            raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))
        if optlen is None:
            super().setsockopt(level, optname, value)
        else:
            super().setsockopt(level, optname, value, optlen)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> Any:
        self._ntm_check_open()
        if self._ntm_state == _FRESH:
            return _ntm.getsockopt(self._ntm_fd, level, optname, buflen)
        if _is_connection_option(level, optname):
            if self._ntm_state == _LISTENING:
                raise OSError(errno.ENOPROTOOPT, "TCP options of a listening NTM socket are set before listen()")
            return _ntm.bridge_getsockopt(self.fileno(), level, optname, buflen)
        if level != _socket.SOL_SOCKET:
            raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))
        return super().getsockopt(level, optname, buflen) if buflen else super().getsockopt(level, optname)

    def shutdown(self, how: int) -> None:
        """Shuts down reading, writing (sends FIN) or both."""
        self._ntm_check_open()
        if self._ntm_state != _CONNECTED:
            raise OSError(errno.ENOTCONN, os.strerror(errno.ENOTCONN))
        super().shutdown(how)

    def dup(self) -> "NTMSocket":
        """A second NTMSocket on the same connection (or listener)."""
        self._ntm_check_open()
        if self._ntm_state == _FRESH:
            raise OSError(errno.EOPNOTSUPP, "an NTM socket can be duplicated once connected or listening")
        sock = super().dup()
        assert isinstance(sock, NTMSocket)
        sock._ntm_state = self._ntm_state
        sock._ntm_local = self._ntm_local
        sock._ntm_peer = self._ntm_peer
        return sock

    def detach(self) -> int:
        """Gives up the OS descriptor (e.g. ``ssl`` takes it over) without closing it.

        Only a connected socket has a descriptor worth taking: before ``connect`` it is a
        placeholder, and a listener's connections must be accepted through the library. Wrapping
        such a socket with ``ssl`` (which detaches it) raises ``OSError(ENOTCONN)`` or
        ``OSError(EOPNOTSUPP)`` naming the fix, and leaves this socket closed."""
        if self._ntm_state == _CONNECTED or self.fileno() < 0:
            return super().detach()
        state = self._ntm_state
        fd = self._ntm_release_virtual()
        if fd >= 0:
            _close_ntm_quietly(fd)
        super().detach()  # whoever took the number (ssl's new socket) now closes it
        if state == _FRESH:
            raise OSError(
                errno.ENOTCONN,
                "an NTM socket is wrapped with ssl after connect(): connect first, then "
                "wrap_socket(sock, server_hostname=...) (or use ntmobile.create_connection)",
            )
        raise OSError(
            errno.EOPNOTSUPP,
            "a listening NTM socket cannot be wrapped with ssl: accept() first, then wrap each "
            "connection with wrap_socket(conn, server_side=True)",
        )

    def _real_close(self, _ss: Any = _csocket.socket) -> None:
        fd = self._ntm_release_virtual()
        listener, self._ntm_listener = self._ntm_listener, -1
        try:
            _ss.close(self)
        finally:
            if fd >= 0:
                _close_ntm_quietly(fd)
            if listener >= 0:
                _close_os_quietly(listener)
