#!/usr/bin/env bash
# Makes the self-contained Python sdist, dist/ntmobile-VERSION.tar.gz: bindings/python plus, in
# ntm-src/, the core, the C API, lwIP and nlohmann/json (packaging/stage-sources.sh), so that
# `pip install ntmobile-VERSION.tar.gz` builds with only a C++ compiler, CMake and OpenSSL's
# headers on the machine - no repository, no lwIP download, no apt.
# Usage: packaging/python/make-sdist.sh [OUT_DIR]   (default: dist/ in the repository)
# Needs scikit-build-core in NTM_PYTHON (default python3): ci/deps.d/python.sh installs it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
py="${NTM_PYTHON:-python3}"
stage="$(mktemp -d -t ntm-sdist.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

# The binding as pip sees it (links resolved: VERSION, LICENSE, NOTICE), without build output
# or tests (they need the repository's test peers).
binding="$root/bindings/python"
for item in pyproject.toml CMakeLists.txt README.md VERSION LICENSE NOTICE src; do
  cp -rL "$binding/$item" "$stage/"
done
find "$stage/src" -name __pycache__ -prune -exec rm -rf {} +
bash "$root/packaging/stage-sources.sh" "$stage/ntm-src"

# scikit-build-core's own sdist hook: it writes PKG-INFO from pyproject.toml.
sdist="$(cd "$stage" && "$py" -c 'import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))' "$out" | tail -n 1)"
echo "$out/$sdist"
