#!/usr/bin/env bash
# Interop suite (tests/interop): the same interop node in C, Java, Ruby and Python, every client
# language against every server language through one ntm-server on loopback (test_loopback.py),
# the seed paper's experiment in network namespaces (test_seed_netns.py; root), a check that
# no binding leaves out a function of ntm.h (check_binding_coverage.py), and a short smoke of
# bench/bindings.py (every binding's client against the C server, 8 MiB, 50 round trips: it
# must run and print its table; the figures are not judged here).
#   ci/suites/interop.sh [PYTEST-ARGS...]
# Environment from ci/test.sh: NTM_ROOT (repository root), NTM_BUILD_DIR (the finished build,
# which holds ntm-server and the C node). Prepares the Python, Ruby and Java bindings against
# that build (ci/bindings.sh). Exits non-zero on any failure, also when no test ran.
set -uo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

fail() { echo "interop suite: $*" >&2; exit 1; }

for program in servers/ntm-server tests/interop/ntm-interop-node c-api/libntm.so; do
  [ -e "$NTM_BUILD_DIR/$program" ] ||
    fail "$NTM_BUILD_DIR/$program not found: build first (cmake --build $NTM_BUILD_DIR)"
done
for tool in java javac ruby ss timeout; do
  command -v "$tool" >/dev/null || fail "'$tool' not found: run ci/deps.sh"
done
"$py" -m pytest --version >/dev/null 2>&1 || fail "pytest not found for $py: run ci/deps.sh"
# The seed experiment (test_seed_netns.py) needs network namespaces; a suite that skipped it
# would pass without testing it. (Run the loopback module alone with pytest as any user.)
[ "$(id -u)" -eq 0 ] || fail "needs root for the namespace tests (CI runs as root); not skipping"
coverage="$root/tests/interop/check_binding_coverage.py"
[ -e "$coverage" ] || fail "$coverage is missing"

echo "interop suite: preparing the bindings (ci/bindings.sh)"
bash "$root/ci/bindings.sh" || fail "ci/bindings.sh failed (see above)"

echo "interop suite: binding coverage of ntm.h"
"$py" "$coverage" || fail "check_binding_coverage.py failed: a binding leaves out part of ntm.h"

# No bytecode or cache files in the source tree. A hard bound on the whole run: SIGTERM first
# (pytest's fixtures stop the nodes and servers by PID), SIGKILL 30 s later if it does not end.
export PYTHONDONTWRITEBYTECODE=1
timeout --kill-after=30 600 "$py" -m pytest -p no:cacheprovider -q -rfEs --durations=5 \
  "$root/tests/interop" "$@"
rc=$?
if [ "$rc" -eq 0 ]; then
  timeout --kill-after=10 300 "$py" "$root/bench/bindings.py" --build "$NTM_BUILD_DIR" \
    --mib 8 --rtts 50 --warmup 20 --rounds 1 || rc=$?
  [ "$rc" -eq 0 ] || echo "interop suite: bench/bindings.py smoke failed (exit $rc)"
fi
case $rc in
  0) echo "interop suite: passed" ;;
  5) echo "interop suite: FAILED - pytest collected no tests" ;;
  124 | 137) echo "interop suite: FAILED - timed out" ;;
  *) echo "interop suite: FAILED (pytest exit $rc)" ;;
esac
[ "$rc" -eq 0 ]
