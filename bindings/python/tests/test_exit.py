"""A program exits cleanly while daemon threads are inside ntmobile calls.

CPython ends a daemon thread that takes the GIL back while the interpreter finalizes
(pthread_exit, an unwinding). The native module used to take it back in pybind11's
gil_scoped_release destructor, which is noexcept: the unwinding then called std::terminate and
the process aborted ("terminate called without an active exception", status -6) in a fraction of
the exits - an http.server on an NTM socket in a daemon thread was enough."""

from __future__ import annotations

import subprocess
import sys

RUNS = 5

# Four daemon threads accept, as fast as they can, on NTM listeners whose node has stopped (each
# accept fails at once, after releasing the GIL); the main thread returns meanwhile.
CHILD = r"""
import threading
import ntmobile

keys = ntmobile.generate_keypair()
node = ntmobile.start("solo.example", keys.private_key, virtual_ipv4="100.64.0.1",
                      listen_ipv4="127.0.0.1:0", listen_ipv6="")
servers = [ntmobile.create_server(("", 8000 + i)) for i in range(4)]
node.stop()
started = threading.Barrier(5)

def spin(server):
    started.wait()
    while True:
        try:
            server.accept()
        except OSError:
            pass

for server in servers:
    threading.Thread(target=spin, args=(server,), daemon=True).start()
started.wait()
print("SPINNING", flush=True)
"""


def test_exit_with_daemon_threads_inside_native_calls():
    for run in range(RUNS):
        result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, (
            f"run {run}: exit status {result.returncode}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr[-2000:]}")
        assert "SPINNING" in result.stdout
        assert "terminate called" not in result.stderr
