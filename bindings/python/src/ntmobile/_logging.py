"""The library's log lines in Python's ``logging``: on import, ntmobile routes libntm's lines
(which otherwise go to stderr) to the loggers ``ntmobile.<component>`` - ``ntmobile.node``,
``ntmobile.tunnel``, ``ntmobile.control``... - at the matching level. Which lines the library
produces is set by ``Node(log_level=...)`` (default warnings and errors) or
:func:`set_library_log_level`; configure handlers and filters with ``logging`` as usual.
``ntmobile.route_library_logs(False)`` sends them back to stderr."""

from __future__ import annotations

import atexit
import logging

from . import _ntm

__all__ = ["route_library_logs", "set_library_log_level"]

#: ntm_log_level -> logging level.
LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_NAMES = {"off": 0, "error": 1, "warn": 2, "warning": 2, "info": 3, "debug": 4}


def _deliver(level: int, component: str, message: str) -> None:
    name = f"ntmobile.{component}" if component else "ntmobile"
    logging.getLogger(name).log(LEVELS.get(level, logging.INFO), "%s", message)


def route_library_logs(enabled: bool = True) -> None:
    """Routes libntm's log lines to ``logging`` (the default) or, with False, to stderr."""
    _ntm.set_log_callback(_deliver if enabled else None)


def set_library_log_level(level: "int | str") -> None:
    """Which lines libntm logs from now on: "off", "error", "warn", "info", "debug" (or the
    ntm_log_level number). ``Node(log_level=...)`` sets it again when the node starts."""
    if isinstance(level, str):
        level = _NAMES[level.lower()]
    _ntm.set_log_level(int(level))


route_library_logs(True)
# Registered before the node's own atexit stop (so it runs after it): the stop's last lines
# still reach logging, then the library goes back to stderr before the interpreter finalizes.
atexit.register(route_library_logs, False)
