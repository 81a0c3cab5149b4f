#!/usr/bin/env bash
# The benchmark tools' suite: the WAN emulator's self-check, and short bounded smokes of the
# benchmarks (their full runs live outside CI: bench/README.md).
#   1. bench/netem/test_netem.py: ntm-netem delays, drops, reorders and rate-limits as told
#      (loopback, ~20 s);
#   2. bench/netem/pps.py smoke: the packet-rate benchmark runs and prints its table (~3 s);
#   3. bench/wan.py smoke (root: namespaces): one RTT, no loss, one stream, 2 s per stack (~20 s).
# Env (set by ci/test.sh): NTM_ROOT, NTM_BUILD_DIR. Budget: about 2 minutes; each step is bounded
# by `timeout`. Runs every step, then exits non-zero naming each one that failed.
set -uo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

"$py" -m pytest --version >/dev/null 2>&1 || { echo "bench suite: pytest not found for $py: run ci/deps.sh" >&2; exit 1; }

failed=()
step() {
  local name="$1"
  shift
  local start=$SECONDS
  echo "bench suite: $name"
  if "$@"; then
    echo "bench suite: $name: ok ($((SECONDS - start)) s)"
  else
    echo "bench suite: $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

step "WAN emulator self-check" timeout --kill-after=10 180 \
  "$py" -m pytest -p no:cacheprovider -q -rfEs "$root/bench/netem/test_netem.py"
step "WAN emulator packet-rate smoke" timeout --kill-after=10 60 \
  "$py" "$root/bench/netem/pps.py" --build "$NTM_BUILD_DIR" --seconds 0.5
if [ "$(id -u)" -eq 0 ]; then
  step "WAN comparison smoke" timeout --kill-after=30 300 \
    "$py" "$root/bench/wan.py" --build "$NTM_BUILD_DIR" --rtts 10 --losses 0 --streams 1 \
    --seconds 2
else
  echo "bench suite: WAN comparison smoke needs root (namespaces): FAILED, not skipped"
  failed+=("WAN comparison smoke (needs root)")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "bench suite: FAILED: ${failed[*]}"
  exit 1
fi
echo "bench suite: passed"
