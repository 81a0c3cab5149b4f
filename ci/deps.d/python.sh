# Python binding (bindings/python): the PyPI packages pip needs to build ntmobile without build
# isolation (scikit-build-core, pybind11) and to test it (pytest; cryptography makes the test CA).
# Sourced by ci/deps.sh, which defines ensure_packages and log. The interpreter is whichever
# python3 is first on PATH (CMake, Ninja and a C++ compiler come from ci/deps.sh itself).
ensure_python_packages() {
  local py="${NTM_PYTHON:-python3}"
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    ensure_packages python3-pip python3-venv python3-dev
  fi
  # name==import-name pairs; install only those that cannot be imported (or are too old).
  local missing=()
  "$py" - <<'PY' || missing=(x)
import importlib.metadata as md, sys
need = {"scikit-build-core": (0, 10), "pybind11": (2, 12), "pytest": (7, 0), "cryptography": (41, 0)}
bad = []
for name, low in need.items():
    try:
        v = tuple(int(p) for p in md.version(name).split(".")[:2])
    except (md.PackageNotFoundError, ValueError):
        bad.append(name)
        continue
    if v < low:
        bad.append(name)
if bad:
    print(" ".join(bad))
    sys.exit(1)
PY
  [ ${#missing[@]} -eq 0 ] && return 0
  log "pip install scikit-build-core pybind11 pytest cryptography"
  # Debian's own python3 refuses pip into the system site (PEP 668) unless told otherwise.
  "$py" -m pip install -q --disable-pip-version-check --break-system-packages \
    "scikit-build-core>=0.10" "pybind11>=2.12" "pytest>=7" "cryptography>=41" 2>/dev/null ||
    "$py" -m pip install -q --disable-pip-version-check \
      "scikit-build-core>=0.10" "pybind11>=2.12" "pytest>=7" "cryptography>=41"
}
ensure_python_packages
