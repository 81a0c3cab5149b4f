"""A bounded smoke run of bench/cli_forward.py (the forward/SOCKS5 vs SDK throughput bench):
it runs end to end and prints every figure. The figures themselves are not judged here (CI
machines are shared); bench/README.md records measured ones."""
import os
import re
import subprocess
import sys

from conftest import REPO, build_dir


def test_forward_bench_runs_and_prints_every_figure():
    r = subprocess.run([sys.executable, os.path.join(REPO, "bench", "cli_forward.py"),
                        "--build", build_dir(), "--seconds", "0.5"],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    for row in ("SDK TCP", "ntm forward", "ntm SOCKS5", "kernel"):
        assert re.search(rf"^{row}\s+[0-9.]+ Gb/s", r.stdout, re.M), r.stdout
