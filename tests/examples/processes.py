"""Child processes for the examples' tests: output captured line by line, bounded waits on it,
and a registry that stops every process by PID (SIGTERM, then SIGKILL) and reaps it, also when
a test fails."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from typing import Optional, Sequence


class Proc:
    """One running program; its stdout and stderr are collected by two reader threads."""

    def __init__(self, label: str, argv: Sequence[str], env: dict[str, str], cwd: str) -> None:
        self.label = label
        self.argv = list(argv)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        )
        self._readers = [
            threading.Thread(target=self._collect, args=(self.popen.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._collect, args=(self.popen.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _collect(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first stdout line matching ``pattern``; fails after ``timeout`` seconds or when
        the process exits without printing it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.stdout:
                    if (found := regex.search(line)) is not None:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._reading()):
                    raise AssertionError(f"{self.label}: no stdout line matching {pattern!r} "
                                         f"within {timeout:g} s\n{self.describe()}")
                self._changed.wait(min(left, 0.2))

    def _reading(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def finish(self, timeout: float) -> int:
        """Waits for the process to exit on its own (killing it after ``timeout``); returns the
        exit status once all its output is collected."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.label}: still running after {timeout:g} s\n{self.describe()}") from None
        self._join_readers()
        return self.popen.returncode

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``; returns the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._join_readers()
        return self.popen.returncode

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._join_readers()

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(5)

    def describe(self) -> str:
        status = self.popen.poll()
        with self._changed:
            out, err = "\n".join(self.stdout), "\n".join(self.stderr)
        return (f"--- {self.label} (pid {self.pid}, {'running' if status is None else f'exit {status}'})\n"
                f"$ {' '.join(self.argv)}\n--- stdout:\n{out}\n--- stderr:\n{err}\n")


class ProcessGroup:
    """The processes one test started; ``stop_all`` ends whatever still runs."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.env = env
        self.cwd = cwd
        self.procs: list[Proc] = []

    def start(self, label: str, argv: Sequence[str]) -> Proc:
        proc = Proc(label, argv, self.env, self.cwd)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop(timeout=10)

    def describe(self, only: Optional[Sequence[Proc]] = None) -> str:
        return "\n".join(proc.describe() for proc in (only or self.procs))
