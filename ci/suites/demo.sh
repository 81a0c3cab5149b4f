#!/usr/bin/env bash
# The demo's own check: runs the conversation of the README's main command (ci/demo.sh) against
# the main build - on loopback, and across network namespaces (NAT + IPv6-only through the relay;
# root, as in CI). Each driver exits 0 only when both clients received each other's line through
# the Python chat server and every node stopped cleanly; they clean up after themselves.
# Env from ci/test.sh: NTM_ROOT, NTM_BUILD_DIR.
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
[ -x "$NTM_BUILD_DIR/servers/ntm-server" ] || {
  echo "demo suite: $NTM_BUILD_DIR/servers/ntm-server not found (build first)" >&2
  exit 1
}
bash "$root/ci/bindings.sh" python ruby java
echo "demo suite: loopback"
timeout --kill-after=10 300 python3 "$root/ci/demo/loopback.py"
echo "demo suite: unmodified programs through ntm (ci/demo.sh --forward)"
timeout --kill-after=10 120 python3 "$root/ci/demo/forward.py"
if [ "$(id -u)" -ne 0 ]; then
  echo "demo suite: FAILED - the namespace demo needs root (CI runs as root); not skipping" >&2
  exit 1
fi
echo "demo suite: network namespaces"
timeout --kill-after=10 300 python3 "$root/ci/demo/netns.py"
echo "demo suite: passed"
