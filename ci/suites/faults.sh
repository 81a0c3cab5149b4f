#!/usr/bin/env bash
# The fault suite (tests/faults, issue 12): sessions in namespaces across idle periods past the
# timeout, servers killed (-9) and restarted, the DC unreachable during a move, both ends moving,
# a path-MTU black hole, plain-masquerade NATs, a flapping link and interface churn; every case
# checks the data and bounds the recovery time. Plus a short smoke of bench/soak.py.
#   ci/suites/faults.sh [PYTEST-ARGS...]      (run as root; NTM_BUILD_DIR = build directory)
# Budget: about 4 minutes (each case is bounded in time and count; the whole run is cut at 7 min).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

fail() { echo "faults suite: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root to create network namespaces (CI runs as root); not skipping"
for tool in ip nft conntrack ss; do
  command -v "$tool" >/dev/null || fail "'$tool' not found: run ci/deps.sh (ci/deps.d/netns.sh)"
done
"$py" -m pytest --version >/dev/null 2>&1 || fail "pytest not found for $py: run ci/deps.sh"

export PYTHONDONTWRITEBYTECODE=1
start=$SECONDS
timeout --kill-after=30 420 "$py" -m pytest -p no:cacheprovider -q -rfEs --durations=5 \
  "$root/tests/faults" "$@"
rc=$?
if [ "$rc" -eq 0 ]; then
  # The soak's smoke: 30 s of random moves, flaps and idle gaps under checksummed sessions.
  timeout --kill-after=10 150 "$py" "$root/bench/soak.py" --minutes 0.5 --seed 1 || rc=1
fi
case $rc in
  0) echo "faults suite: passed ($((SECONDS - start)) s)" ;;
  5) echo "faults suite: FAILED - pytest collected no tests" ;;
  124 | 137) echo "faults suite: FAILED - timed out" ;;
  *) echo "faults suite: FAILED (pytest exit $rc)" ;;
esac
[ "$rc" -eq 0 ]
