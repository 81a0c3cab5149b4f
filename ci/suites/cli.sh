#!/usr/bin/env bash
# The `ntm` command-line node (tests/cli): forwards, SOCKS5/HTTP proxies, DNS, the control API
# and reload on loopback (static-peer mode), then across network namespaces with ntm-server
# (control-plane mode, a NAT; root, as in CI). Real programs (curl, socat, Python's http.server
# and urllib) on both ends; bytes checked.
# Budget: about 1 minute (loopback ~10 s; namespaces ~30 s); hard bound 300 s.
#   ci/suites/cli.sh [PYTEST-ARGS...]      (NTM_BUILD_DIR = build directory)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

fail() { echo "cli suite: $*" >&2; exit 1; }

[ -x "$NTM_BUILD_DIR/cli/ntm" ] || fail "$NTM_BUILD_DIR/cli/ntm not found (build first)"
for tool in curl socat; do
  command -v "$tool" >/dev/null || fail "'$tool' not found: run ci/deps.sh (ci/deps.d/cli.sh)"
done
"$py" -m pytest --version >/dev/null 2>&1 || fail "pytest not found for $py: run ci/deps.sh"
[ "$(id -u)" -eq 0 ] || fail "the namespace tests need root (CI runs as root); not skipping"

export PYTHONDONTWRITEBYTECODE=1
start=$SECONDS
timeout --kill-after=30 300 "$py" -m pytest -p no:cacheprovider -q -rfEs --durations=5 \
  "$root/tests/cli" "$@"
rc=$?
case $rc in
  0) echo "cli suite: passed in $((SECONDS - start)) s (budget 300 s)" ;;
  5) echo "cli suite: FAILED - pytest collected no tests" ;;
  124 | 137) echo "cli suite: FAILED - timed out (300 s)" ;;
  *) echo "cli suite: FAILED (pytest exit $rc)" ;;
esac
[ "$rc" -eq 0 ]
