#!/usr/bin/env bash
# The documentation suite: what keeps the docs true.
#   1. docs/c-api.md is what tools/gen_c_api_doc.py makes from c-api/include/ntm.h (and the
#      header documents every declaration);
#   2. the binding-coverage check (tests/interop/check_binding_coverage.py) passes its self-test
#      (the real check runs in ci/suites/interop.sh, which has the bindings);
#   3. links and paths in README.md, docs/*.md and examples/**/README.md exist
#      (tools/check_doc_links.py; build/... paths are checked in $NTM_BUILD_DIR when it holds a
#      finished build; the bindings' build outputs need only their binding's folder, so a clean
#      checkout with nothing built passes), after the checker's own self-test.
# Env (set by ci/test.sh): NTM_ROOT = repository root, NTM_BUILD_DIR = main build directory.
# Needs only python3. Runs every step, then exits non-zero naming each one that failed.
set -uo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

command -v "$py" >/dev/null || { echo "docs suite: $py not found (ci/deps.sh installs it)" >&2; exit 1; }

failed=()
step() {
  local name="$1"
  shift
  echo "docs suite: $name"
  "$@" || failed+=("$name")
}

step "C API reference is up to date" "$py" "$root/tools/gen_c_api_doc.py" --check
step "binding-coverage check self-test" "$py" "$root/tests/interop/check_binding_coverage.py" --self-test
step "doc link checker self-test" "$py" "$root/tools/check_doc_links.py" --self-test
link_args=()
if [ -e "$build/c-api/libntm.so" ]; then
  link_args=(--build-dir "$build")
else
  echo "docs suite: no finished build in $build: build/... paths are not checked against one"
fi
step "links and paths in the docs" "$py" "$root/tools/check_doc_links.py" "${link_args[@]}"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'docs suite: FAILED:' >&2
  printf ' [%s]' "${failed[@]}" >&2
  printf '\n' >&2
  [[ " ${failed[*]} " == *"up to date"* ]] &&
    echo "  the C API reference: run python3 tools/gen_c_api_doc.py and commit docs/c-api.md" >&2
  exit 1
fi
echo "docs suite: passed"
