"""pytest fixtures for the examples' tests: the launcher (Java examples compiled once per
session), a per-test process group that stops its processes by PID even when the test fails,
and a module-wide ntm-server on loopback for the control-plane scenarios."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from launch import REPO, ControlPlane, Launcher, build_dir, compile_java  # noqa: E402
from processes import ProcessGroup  # noqa: E402


def _interrupt(signum, frame):
    # ci/suites/examples.sh bounds the run with timeout(1), which sends SIGTERM: turned into
    # KeyboardInterrupt, it still runs the fixtures' teardown, which stops every child by PID.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


class LazyJavaLauncher(Launcher):
    """Compiles examples/java on the first Java command only, so a run that needs no Java
    program does not pay for javac."""

    def __init__(self, classes: Path) -> None:
        super().__init__(None)
        self._classes = classes

    def command(self, language: str, program: str, args: list[str]) -> list[str]:
        if language == "java" and self.java_classes is None:
            compile_java(self._classes)
            self.java_classes = self._classes
        return super().command(language, program, args)


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher]:
    with tempfile.TemporaryDirectory(prefix="ntm-examples-java-") as classes:
        yield LazyJavaLauncher(Path(classes))


@pytest.fixture
def procs() -> Iterator[ProcessGroup]:
    env = dict(os.environ)
    env["NTM_LIBRARY"] = str(build_dir() / "c-api")  # the Java binding's libntm
    env["PYTHONUNBUFFERED"] = "1"
    group = ProcessGroup(env, str(REPO))
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane(["srv", "alice", "carol", "recv", "dave"])
    try:
        yield plane
    finally:
        plane.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ntm-examples-") as folder:
        yield Path(folder)

