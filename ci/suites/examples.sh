#!/usr/bin/env bash
# The examples suite (tests/examples): the chat and file-transfer examples of C, Java, Python and
# Ruby run against each other on loopback - static-peer mode in every role, a control-plane
# scenario with ntm-server - plus the Java and Ruby echo examples. Needs a finished build (the C
# examples and ntm-server); prepares the three bindings with ci/bindings.sh, then runs pytest.
# Exits non-zero on a failure, or when no test ran or any was skipped.
# Environment from ci/test.sh: NTM_ROOT (repository root), NTM_BUILD_DIR (main build).
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

for needed in c-api/libntm.so servers/ntm-server examples/c/ntm-chat-server examples/c/ntm-file-sender; do
  if [ ! -e "$NTM_BUILD_DIR/$needed" ]; then
    echo "examples suite: $NTM_BUILD_DIR/$needed not found (build the repository first)" >&2
    exit 1
  fi
done
for tool in java javac ruby; do
  command -v "$tool" >/dev/null || { echo "examples suite: $tool is needed (ci/deps.sh installs it)" >&2; exit 1; }
done

bash "$root/ci/bindings.sh"

cd "$root"
report="$(mktemp -t ntm-examples-junit.XXXXXX.xml)"
trap 'rm -f "$report"' EXIT
# The module takes a few minutes at most on two busy cores; every test also bounds its own waits.
status=0
timeout 600 "$py" -m pytest -q -p no:cacheprovider --durations=5 --junitxml="$report" tests/examples || status=$?
[ "$status" -eq 0 ] || exit "$status"
# pytest exits 0 when every test was skipped: a run that tested nothing is not a pass.
"$py" - "$report" <<'EOF'
import sys
import xml.etree.ElementTree as ET

suite = ET.parse(sys.argv[1]).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
tests, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
if tests == 0 or skipped > 0:
    sys.exit(f"examples suite: {tests} tests, {skipped} skipped - every test must run")
EOF
