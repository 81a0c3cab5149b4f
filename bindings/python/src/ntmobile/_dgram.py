"""NTMDatagramSocket: a UDP socket on the node's virtual addresses.

It has the ``socket.socket`` methods a UDP program uses (bind, connect, send/sendto,
recv/recvfrom/recv_into/recvfrom_into, timeouts, options, shutdown, close, ``with``) and calls
the virtual socket directly (each blocking call releases the GIL).

``fileno()`` gives it an OS descriptor: the first call starts libntm's datagram bridge
(``ntm_bridge_datagram``), a SOCK_SEQPACKET descriptor that is readable when a datagram waits,
so ``select``, ``selectors`` and asyncio (``loop.create_datagram_endpoint(..., sock=s)``, or
:func:`ntmobile.create_datagram_endpoint`) can wait for datagrams. From then on receives read
that descriptor; sends still go straight to the virtual socket (they never wait for long, so
the descriptor is always writable).
"""

from __future__ import annotations

import errno
import io
import os
import select
import socket as _socket
import warnings
from typing import Any, Optional

from . import _ntm
from ._resolve import resolve_address

__all__ = ["NTMDatagramSocket"]

_TYPE_FLAGS = getattr(_socket, "SOCK_NONBLOCK", 0) | getattr(_socket, "SOCK_CLOEXEC", 0)
_BufferLike = Any


class NTMDatagramSocket:
    """A UDP socket over ntmobile. ``NTMDatagramSocket(family=AF_INET)`` needs a running node."""

    def __init__(self, family: int = _socket.AF_INET, type: int = _socket.SOCK_DGRAM, proto: int = 0) -> None:
        self._fd = -1
        self._os_fd = -1  # the datagram bridge's descriptor, once fileno() asked for one
        if family not in (_socket.AF_INET, _socket.AF_INET6):
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        if type & ~_TYPE_FLAGS != _socket.SOCK_DGRAM:
            raise ValueError("NTMDatagramSocket is a datagram socket; use NTMSocket for SOCK_STREAM")
        self._family = _socket.AddressFamily(family)
        self._proto = proto
        self._timeout: Optional[float] = _socket.getdefaulttimeout()
        if type & getattr(_socket, "SOCK_NONBLOCK", 0):
            self._timeout = 0.0
        self._fd = _ntm.socket(family, _socket.SOCK_DGRAM, proto)

    # ---- properties like socket.socket's ---------------------------------------------------

    @property
    def family(self) -> _socket.AddressFamily:
        return self._family

    @property
    def type(self) -> _socket.SocketKind:
        return _socket.SOCK_DGRAM

    @property
    def proto(self) -> int:
        return self._proto

    def fileno(self) -> int:
        """The OS descriptor to wait on (readable when a datagram waits); the first call starts
        the datagram bridge. -1 once closed, like ``socket.socket``."""
        if self._fd < 0:
            return -1
        if self._os_fd < 0:
            self._os_fd = _ntm.bridge_datagram(self._fd)
        return self._os_fd

    def _live_fd(self) -> int:
        if self._fd < 0:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return self._fd

    def _wait(self) -> float:
        return -1.0 if self._timeout is None else self._timeout

    # ---- timeouts ------------------------------------------------------------------------

    def settimeout(self, value: Optional[float]) -> None:
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    # ---- addresses -----------------------------------------------------------------------

    def bind(self, address: Any) -> None:
        _ntm.bind(self._live_fd(), self._family, resolve_address(self._family, address, _socket.SOCK_DGRAM))

    def connect(self, address: Any) -> None:
        """Sets the default destination (and only source) of datagrams."""
        sockaddr = resolve_address(self._family, address, _socket.SOCK_DGRAM)
        _ntm.connect(self._live_fd(), self._family, sockaddr, -1.0)

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except _socket.gaierror:
            raise
        except OSError as e:
            return e.errno or errno.EINVAL
        return 0

    def getsockname(self) -> Any:
        return _ntm.getsockname(self._live_fd())

    def getpeername(self) -> Any:
        return _ntm.getpeername(self._live_fd())

    # ---- data ----------------------------------------------------------------------------

    def send(self, data: _BufferLike, flags: int = 0) -> int:
        return _ntm.send(self._live_fd(), data, flags, self._wait())

    def sendall(self, data: _BufferLike, flags: int = 0) -> None:
        self.send(data, flags)

    def sendto(self, data: _BufferLike, flags_or_address: Any, address: Any = None) -> int:
        """sendto(data, address) or sendto(data, flags, address)."""
        if address is None:
            flags, address = 0, flags_or_address
        else:
            flags = flags_or_address
        sockaddr = resolve_address(self._family, address, _socket.SOCK_DGRAM)
        return _ntm.sendto(self._live_fd(), data, flags, self._family, sockaddr, self._wait())

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._os_fd >= 0:
            return self._bridged(_ntm.bridge_recvfrom, bufsize, flags)[0]
        return _ntm.recv(self._live_fd(), bufsize, flags, self._wait())

    def recv_into(self, buffer: _BufferLike, nbytes: int = 0, flags: int = 0) -> int:
        if self._os_fd >= 0:
            return self._bridged(_ntm.bridge_recvfrom_into, buffer, nbytes, flags)[0]
        return _ntm.recv_into(self._live_fd(), buffer, nbytes, flags, self._wait())

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, Any]:
        if self._os_fd >= 0:
            return self._bridged(_ntm.bridge_recvfrom, bufsize, flags)
        return _ntm.recvfrom(self._live_fd(), bufsize, flags, self._wait())

    def recvfrom_into(self, buffer: _BufferLike, nbytes: int = 0, flags: int = 0) -> tuple[int, Any]:
        if self._os_fd >= 0:
            return self._bridged(_ntm.bridge_recvfrom_into, buffer, nbytes, flags)
        return _ntm.recvfrom_into(self._live_fd(), buffer, nbytes, flags, self._wait())

    def _bridged(self, receive: Any, *args: Any) -> Any:
        """A receive from the bridge's descriptor, waiting (in C, without the GIL) with the
        socket's timeout."""
        self._live_fd()
        return receive(self._os_fd, *args, self._wait())

    def _wait_readable(self, timeout: Optional[float]) -> bool:
        poller = select.poll()
        poller.register(self._os_fd, select.POLLIN)
        return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999))))

    def poll(self, events: int = 0x001, timeout: Optional[float] = None) -> int:
        """Waits up to ``timeout`` seconds (None: forever) for ``select.POLLIN``/``POLLOUT``;
        returns the events that are ready (0 on timeout)."""
        if self._os_fd >= 0:
            self._live_fd()
            if events & select.POLLOUT:  # sends never wait on the bridge
                return select.POLLOUT | (select.POLLIN if events & select.POLLIN and self._wait_readable(0) else 0)
            return select.POLLIN if self._wait_readable(timeout) else 0
        ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = _ntm.poll([(self._live_fd(), events)], ms)
        return ready[0][1] if ready else 0

    # ---- options, shutdown, close --------------------------------------------------------

    def setsockopt(self, level: int, optname: int, value: Any, optlen: Optional[int] = None) -> None:
        if value is None:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        _ntm.setsockopt(self._live_fd(), level, optname, value)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> Any:
        return _ntm.getsockopt(self._live_fd(), level, optname, buflen)

    def shutdown(self, how: int) -> None:
        _ntm.shutdown(self._live_fd(), how)

    def close(self) -> None:
        """Closes the socket; a call blocked on it in another thread returns with EBADF."""
        fd, self._fd = self._fd, -1
        os_fd, self._os_fd = self._os_fd, -1
        if fd >= 0:
            try:
                _ntm.close(fd)  # with a bridge: waits until its thread closed the socket
            except OSError:
                pass  # already closed by the node stopping
        if os_fd >= 0:
            os.close(os_fd)

    def detach(self) -> int:
        raise io.UnsupportedOperation("an NTM datagram socket cannot be detached from its virtual socket")

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __enter__(self) -> "NTMDatagramSocket":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)
            self.close()

    def __repr__(self) -> str:
        state = " [closed]" if self._fd < 0 else ""
        bridge = f", fd={self._os_fd}" if self._os_fd >= 0 else ""
        text = f"<ntmobile.NTMDatagramSocket{state} ntm_fd={self._fd}{bridge}, family={self._family!s}, type=SocketKind.SOCK_DGRAM, proto={self._proto}"
        if self._fd >= 0:
            try:
                text += f", laddr={self.getsockname()}"
            except OSError:
                pass
        return text + ">"
