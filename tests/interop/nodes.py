"""How to start each language's interop node (tests/interop/README.md), in one place.

    argv, env = nodes.command("java", ["client", "--server", ...])   # any runner (netns too)
    proc = nodes.start("ruby", ["server", ...], label="srv-ruby")     # a local process

Languages and what they need (NTM_BUILD_DIR names the build directory, default <repo>/build):
    c       <build>/tests/interop/ntm-interop-node (built with the project)
    java    the binding's jar bindings/java/target/ntmobile-*.jar (ci/bindings.sh java) and
            NTM_LIBRARY=<build>/c-api; tests/interop/java/*.java are compiled once per process
            into a temporary folder (a JVM then starts in ~0.4 s instead of ~1.2 s in
            source-file mode, which compiles on every start)
    ruby    ruby -I bindings/ruby/lib -I bindings/ruby/tmp/lib (ci/bindings.sh ruby)
    python  this interpreter with the ntmobile package installed (ci/bindings.sh python)

Processes are tests/netns's NsProcess (a Popen whose stdout/stderr lines are collected by
threads; wait_line / wait_exit / stop by PID), run here without a namespace.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
NETNS_DIR = os.path.join(REPO, "tests", "netns")
if NETNS_DIR not in sys.path:
    sys.path.insert(0, NETNS_DIR)

from netns_helpers import fields  # noqa: E402  (re-exported: "WORD k=v ..." -> dict)
from topology import NsProcess  # noqa: E402

LANGS = ("c", "java", "ruby", "python")
# The languages whose interop nodes speak HTTP (--http-port): their binding ships HTTP clients
# and servers (C has none; its nodes skip the HTTP step).
HTTP_LANGS = ("java", "ruby", "python")
HTTP_PORT = 8080
JAVA_COMPILE_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 40.0  # log in + register + listen; a JVM start on a busy 2-core host
TAIL_LINES = 30  # lines of stdout and of stderr per process in tails()
STOP_TIMEOUT_S = 15.0  # a node closes within ~2 s (ntm_stop) plus its runtime's exit

__all__ = ["LANGS", "READY_TIMEOUT_S", "REPO", "build_dir", "command", "missing", "start",
           "records", "fields", "end_stdin", "stop", "tails", "NsProcess"]


def build_dir() -> str:
    return os.environ.get("NTM_BUILD_DIR") or os.path.join(REPO, "build")


def _c_program() -> str:
    return os.path.join(build_dir(), "tests", "interop", "ntm-interop-node")


def _java_jar() -> Optional[str]:
    jars = sorted(glob.glob(os.path.join(REPO, "bindings", "java", "target", "ntmobile-*.jar")))
    jars = [j for j in jars if not j.endswith(("-sources.jar", "-javadoc.jar"))]
    return jars[-1] if jars else None


def _java_classpath(jar: str) -> str:
    """The jar and the HTTP libraries its package step copied next to it (target/http-lib)."""
    http_lib = os.path.join(os.path.dirname(jar), "http-lib", "*")
    return f"{jar}{os.pathsep}{http_lib}"


def _java_sources() -> list[str]:
    return sorted(glob.glob(os.path.join(HERE, "java", "*.java")))


def _ruby_node() -> str:
    return os.path.join(HERE, "ruby", "interop_node.rb")


def _python_node() -> str:
    return os.path.join(HERE, "python", "interop_node.py")


@functools.lru_cache(maxsize=None)
def _imports_ntmobile() -> bool:
    """True if this interpreter can import ntmobile (probed once, in a child process, so the
    test process itself never loads libntm)."""
    probe = subprocess.run([sys.executable, "-c", "import ntmobile"], capture_output=True,
                           timeout=30)
    return probe.returncode == 0


def missing(lang: str) -> Optional[str]:
    """What keeps `lang`'s node from running (and how to fix it), or None."""
    if lang == "c":
        program = _c_program()
        return None if os.access(program, os.X_OK) else f"{program} not built (cmake --build)"
    if lang == "java":
        if not _java_sources():
            return f"no {HERE}/java/*.java"
        if _java_jar() is None:
            return "no bindings/java/target/ntmobile-*.jar (bash ci/bindings.sh java)"
        if not os.path.exists(os.path.join(build_dir(), "c-api", "libntm.so")):
            return f"no {build_dir()}/c-api/libntm.so (build first)"
        return None if shutil.which("javac") else "javac not found"
    if lang == "ruby":
        if not os.path.exists(_ruby_node()):
            return f"no {_ruby_node()}"
        compiled = glob.glob(os.path.join(REPO, "bindings", "ruby", "tmp", "lib", "**", "*.so"),
                             recursive=True)
        return None if compiled else "Ruby extension not compiled (bash ci/bindings.sh ruby)"
    if lang == "python":
        if not _imports_ntmobile():
            return "the ntmobile package is not installed (bash ci/bindings.sh python)"
        return None
    raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")


class _JavaClasses:
    """tests/interop/java/*.java compiled once per process into a temporary folder."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dir: Optional[str] = None

    def folder(self, jar: str) -> str:
        with self._lock:
            if self._dir is None:
                out = tempfile.mkdtemp(prefix="ntm-interop-java-")
                atexit.register(shutil.rmtree, out, True)
                r = subprocess.run(["javac", "-nowarn", "-cp", _java_classpath(jar), "-d", out,
                                    *_java_sources()],
                                   capture_output=True, text=True, timeout=JAVA_COMPILE_TIMEOUT_S)
                if r.returncode != 0:
                    raise RuntimeError(f"javac of tests/interop/java failed:\n{r.stdout}{r.stderr}")
                self._dir = out
            return self._dir


_java_classes = _JavaClasses()


def command(lang: str, args: Sequence[str]) -> tuple[list[str], dict]:
    """argv and environment that run `lang`'s interop node with `args` (role and options)."""
    env = dict(os.environ)
    if lang == "c":
        prefix = [_c_program()]
    elif lang == "java":
        jar = _java_jar()
        if jar is None:
            raise RuntimeError(missing("java"))
        classes = _java_classes.folder(jar)
        env["NTM_LIBRARY"] = os.path.join(build_dir(), "c-api")
        prefix = ["java", "-cp", f"{_java_classpath(jar)}{os.pathsep}{classes}", "InteropNode"]
    elif lang == "ruby":
        ruby = os.path.join(REPO, "bindings", "ruby")
        prefix = ["ruby", "-I", os.path.join(ruby, "lib"), "-I", os.path.join(ruby, "tmp", "lib"),
                  _ruby_node()]
    elif lang == "python":
        prefix = [sys.executable, _python_node()]
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
    return prefix + list(args), env


def start(lang: str, args: Sequence[str], label: Optional[str] = None) -> NsProcess:
    """Starts `lang`'s node as a local process. A server gets a stdin pipe (it runs until the
    pipe ends); a client gets /dev/null."""
    argv, env = command(lang, args)
    stdin = subprocess.PIPE if args and args[0] == "server" else subprocess.DEVNULL
    return NsProcess(label or f"{lang}-{args[0] if args else 'node'}", argv, env=env, stdin=stdin)


def records(proc: NsProcess, word: str, start: int = 0) -> list[dict]:
    """The fields of every stdout record `word k=v ...` (from stdout line `start` on)."""
    return [fields(line) for line in proc.lines[start:] if line.startswith(word + " ")]


def end_stdin(proc: NsProcess) -> None:
    """End of file on a server node's stdin: it closes its node and exits with status 0."""
    if proc.stdin is not None and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass


def stop(proc: NsProcess, how: str = "stdin", timeout: float = STOP_TIMEOUT_S) -> Optional[int]:
    """Asks a node to end (how: "stdin" closes its stdin, "sigterm" sends SIGTERM), waits for it
    (bounded) and returns its exit status; None if it had to be killed. Always reaps it."""
    if proc.poll() is None:
        if how == "sigterm":
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        else:
            end_stdin(proc)
        try:
            return proc.wait_exit(timeout)
        except TimeoutError:
            proc.stop()  # SIGKILL after a grace period; this PID only
            return None
    end_stdin(proc)
    return proc.wait_exit(timeout)


def command_line(proc: NsProcess) -> str:
    """The process's argv with the password left out."""
    argv = list(proc.argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--password":
            argv[i + 1] = "***"
    return " ".join(argv)


def tails(*procs: NsProcess) -> str:
    """The last lines of each process's stdout and stderr, for assertion messages."""
    parts = []
    for proc in procs:
        out = "\n".join(f"    {line}" for line in proc.lines[-TAIL_LINES:])
        err = "\n".join(f"    {line}" for line in proc.err_lines[-TAIL_LINES:])
        parts.append(f"--- {proc.label} (pid {proc.pid}, rc {proc.returncode}): "
                     f"{command_line(proc)}\n  stdout (tail):\n{out}\n"
                     f"  stderr (tail):\n{err}")
    return "\n".join(parts)
