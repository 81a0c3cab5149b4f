"""Exceptions for the node calls of the C ABI (the NTM_E* codes).

Socket calls raise the standard exceptions instead: ``OSError`` subclasses built from the C ABI's
errno (``ConnectionRefusedError``, ``TimeoutError``, ``BlockingIOError`` ...) and
``socket.gaierror`` for names that do not resolve.
"""

from __future__ import annotations

__all__ = [
    "NTMError",
    "InvalidArgumentError",
    "NodeStateError",
    "NotFoundError",
    "NodeIOError",
    "UnsupportedError",
    "AuthenticationError",
    "ServerUnreachableError",
    "error_for",
]

# The codes of ntm_error_code in ntm.h.
OK = 0
ERROR = -1
EINVAL = -2
ESTATE = -3
ENOMEM = -4
EIO = -5
ENOTFOUND = -6
EVERSION = -7
EBUFS = -8
EUNSUPPORTED = -9
EAUTH = -10
EUNREACHABLE = -11


class NTMError(Exception):
    """A node call failed. ``code`` is the negative NTM_E* code, ``message`` the library's text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message or f"ntm error {code}")
        self.code = code
        self.message = message


class InvalidArgumentError(NTMError, ValueError):
    """An option or argument is invalid (NTM_EINVAL, NTM_EVERSION); the message names it."""


class NodeStateError(NTMError, RuntimeError):
    """Not allowed now (NTM_ESTATE): e.g. starting while a node runs, or info while stopped."""


class NotFoundError(NTMError, LookupError):
    """The name, peer or item does not exist (NTM_ENOTFOUND)."""


class _OSErrorKind(NTMError, OSError):
    # An NTMError that is also an OSError (so `except OSError` catches it); errno stays None.
    def __init__(self, code: int, message: str) -> None:
        NTMError.__init__(self, code, message)

    def __str__(self) -> str:
        return self.message


class NodeIOError(_OSErrorKind):
    """An operating-system call failed (NTM_EIO), e.g. binding the real UDP port."""


class AuthenticationError(_OSErrorKind, PermissionError):
    """The Account Server refused the credentials or the account is disabled (NTM_EAUTH)."""


class ServerUnreachableError(_OSErrorKind, ConnectionError):
    """A server (AS, DC) could not be reached or did not answer (NTM_EUNREACHABLE)."""


class UnsupportedError(NTMError, NotImplementedError):
    """Not supported by this build or platform (NTM_EUNSUPPORTED)."""


_BY_CODE: dict[int, type[NTMError]] = {
    EINVAL: InvalidArgumentError,
    EVERSION: InvalidArgumentError,
    ESTATE: NodeStateError,
    ENOTFOUND: NotFoundError,
    EIO: NodeIOError,
    EUNSUPPORTED: UnsupportedError,
    EAUTH: AuthenticationError,
    EUNREACHABLE: ServerUnreachableError,
}


def error_for(code: int, message: str) -> NTMError:
    """The exception for an NTM_E* code (called by the native module)."""
    if code == ENOMEM:
        return NTMError(code, message or "out of memory")
    return _BY_CODE.get(code, NTMError)(code, message)
