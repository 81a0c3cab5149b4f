# Python binding (bindings/python): the PyPI packages pip needs to build ntmobile without build
# isolation (scikit-build-core, pybind11) and to test it (pytest; cryptography makes the test
# CA; requests, urllib3 and httpx are the HTTP clients ntmobile.http adapts, run by the tests). Sourced by ci/deps.sh, which defines ensure_packages and log. The interpreter is the
# python3 first on PATH (or NTM_PYTHON); CMake, Ninja and the compilers come from ci/deps.sh.
ntm_python="${NTM_PYTHON:-python3}"
if ! "$ntm_python" -m pip --version >/dev/null 2>&1; then
  ensure_packages python3-pip python3-venv python3-dev
fi
# Quick when present: install only if one is missing or older than needed.
if ! "$ntm_python" - >/dev/null 2>&1 <<'PY'
import importlib.metadata as md
need = {"scikit-build-core": (0, 10), "pybind11": (2, 12), "pytest": (7, 0), "cryptography": (41, 0),
        "requests": (2, 31), "urllib3": (2, 0), "httpx": (0, 27)}
for name, low in need.items():
    version = tuple(int(p) for p in md.version(name).split(".")[:2])
    assert version >= low, name
PY
then
  log "pip install scikit-build-core pybind11 pytest cryptography requests urllib3 httpx"
  ntm_pip_packages=("scikit-build-core>=0.10" "pybind11>=2.12" "pytest>=7" "cryptography>=41"
    "requests>=2.31" "urllib3>=2" "httpx>=0.27,<0.29")
  # Debian's own python3 refuses pip into its site-packages (PEP 668) unless told otherwise.
  "$ntm_python" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    --break-system-packages "${ntm_pip_packages[@]}" 2>/dev/null ||
    "$ntm_python" -m pip install -q --disable-pip-version-check "${ntm_pip_packages[@]}"
fi
