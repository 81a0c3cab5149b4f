#!/usr/bin/env bash
# Network-namespace tests (tests/netns): the topology's self-tests, ntmobile in static-peer mode
# across the namespace internet, and the seed's Table 1 matrix once ntm-server exists.
#   ci/suites/netns.sh [PYTEST-ARGS...]      (run as root; NTM_BUILD_DIR = build directory)
# Every test creates namespaces with its own unique prefix and removes them (and stops its
# processes) even when it fails. Exits non-zero on any failure, also when no test ran.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

fail() { echo "netns suite: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root to create network namespaces (CI runs as root); not skipping"
for tool in ip nft conntrack ss; do
  command -v "$tool" >/dev/null || fail "'$tool' not found: run ci/deps.sh (ci/deps.d/netns.sh)"
done
"$py" -m pytest --version >/dev/null 2>&1 || fail "pytest not found for $py: run ci/deps.sh"
ip netns add "ntmprobe$$" 2>/dev/null && ip netns del "ntmprobe$$" ||
  fail "'ip netns add' does not work here"

# No bytecode or cache files in the source tree. A hard bound on the whole run: SIGTERM lets
# the harness clean up (it handles SIGTERM), SIGKILL 30 s later if it does not end.
export PYTHONDONTWRITEBYTECODE=1
timeout --kill-after=30 420 "$py" -m pytest -p no:cacheprovider -q -rfEs --durations=5 \
  "$root/tests/netns" "$@"
rc=$?
case $rc in
  0) echo "netns suite: passed" ;;
  5) echo "netns suite: FAILED - pytest collected no tests" ;;
  124 | 137) echo "netns suite: FAILED - timed out" ;;
  *) echo "netns suite: FAILED (pytest exit $rc)" ;;
esac
[ "$rc" -eq 0 ]
