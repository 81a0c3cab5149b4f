#!/usr/bin/env bash
# Python binding suite (bindings/python): installs the ntmobile package with pip, linked against
# the main build's libntm (NTM_BUILD_DIR/c-api/libntm.so; without one, the package builds libntm
# itself from the repository), then runs its pytest tests (two nodes: this process and a peer
# process, over loopback only). Exits non-zero on failure; prints pytest's summary.
# Environment from ci/test.sh: NTM_ROOT (repository root), NTM_BUILD_DIR (main build).
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build_dir="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"

# The package, linked to the main build's libntm (or building its own without one).
NTM_BUILD_DIR="$build_dir" NTM_PYTHON="$py" bash "$root/ci/bindings.sh" python

cd "$root/bindings/python"
# A bound on the whole run: every test also bounds its own waits.
exec timeout 600 "$py" -m pytest -q -p no:cacheprovider tests
