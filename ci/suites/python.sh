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

if [ -e "$build_dir/c-api/libntm.so" ]; then
  export NTM_LIBNTM="$build_dir/c-api/libntm.so"
else
  echo "python suite: no $build_dir/c-api/libntm.so; the package builds libntm from source"
  unset NTM_LIBNTM
fi

# scikit-build-core and pybind11 come from ci/deps.d/python.sh; build without isolation then
# (no download, and the persistent build folder bindings/python/build/ is reused).
pip_args=(--disable-pip-version-check --root-user-action=ignore -q)
if "$py" -c "import scikit_build_core, pybind11" 2>/dev/null; then
  pip_args+=(--no-build-isolation)
fi
# Debian's own python3 refuses pip installs into its site-packages (PEP 668) unless told.
if "$py" -c "import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['stdlib'], 'EXTERNALLY-MANAGED')))"; then
  pip_args+=(--break-system-packages)
fi
echo "python suite: pip install $root/bindings/python"
"$py" -m pip install "${pip_args[@]}" "$root/bindings/python"

cd "$root/bindings/python"
# A bound on the whole run: every test also bounds its own waits.
exec timeout 600 "$py" -m pytest -q -p no:cacheprovider tests
