"""libntm's log lines arrive in Python's logging (ntmobile.<component> loggers), in order, from
the library's log thread."""

from __future__ import annotations

import logging
import threading
import time

import ntmobile


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.cond:
            self.records.append(record)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()


def test_library_lines_reach_python_logging_with_level_and_component(env):
    handler = Collect()
    logger = logging.getLogger("ntmobile")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        ntmobile.set_library_log_level("info")
        for _ in range(3):
            ntmobile.notify_network_change()
            time.sleep(0.05)  # separate changes (the node merges changes arriving together)
        with handler.cond:
            assert handler.cond.wait_for(
                lambda: sum("network changed" in r.getMessage() for r in handler.records) >= 2, timeout=10
            ), [r.getMessage() for r in handler.records]
        changed = [r for r in handler.records if "network changed" in r.getMessage()]
        assert all(r.name == "ntmobile.node" and r.levelno == logging.INFO for r in changed)
        assert all(r.name.startswith("ntmobile.") for r in handler.records)
        assert threading.current_thread().name not in handler.threads  # the library's thread
    finally:
        ntmobile.set_library_log_level("warn")
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_routing_back_to_stderr_stops_the_callbacks(env):
    handler = Collect()
    logger = logging.getLogger("ntmobile")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        ntmobile.route_library_logs(False)
        ntmobile.set_library_log_level("info")
        before = ntmobile.stats().network_changes
        ntmobile.notify_network_change()
        deadline = time.monotonic() + 10
        while ntmobile.stats().network_changes == before:  # the line was logged by then
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not handler.records
    finally:
        ntmobile.set_library_log_level("warn")
        ntmobile.route_library_logs(True)
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
