#!/usr/bin/env bash
# Makes the three language bindings usable by programs outside their own test suites (the demo,
# the interop suite, the examples' tests), against the libntm of a finished build:
#   Python  pip-installs the ntmobile package, linked to $NTM_BUILD_DIR/c-api/libntm.so (without
#           a build, the package builds and ships its own libntm)
#   Ruby    compiles the C extension into bindings/ruby/tmp (where the examples look for it)
#   Java    packages bindings/java/target/ntmobile-<version>.jar, carrying this build's libntm
#           (JNA sits next to it in target/lib, named in the jar's manifest)
# Usage: ci/bindings.sh [python] [ruby] [java]   (none given: all three)
# Ruby programs then run with -I bindings/ruby/lib -I bindings/ruby/tmp/lib (the examples add
# these themselves); Java ones with -cp bindings/java/target/ntmobile-<version>.jar.
# Each step is incremental (pip, make and Maven reuse their build folders). Exits non-zero, naming
# the binding, when one fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NTM_BUILD_DIR:-$root/build}"
py="${NTM_PYTHON:-python3}"
say() { printf '[bindings] %s\n' "$*"; }
fail() { printf '[bindings] %s\n' "$*" >&2; exit 1; }

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(python ruby java)
have_build() { [ -e "$build/c-api/libntm.so" ]; }
need_build() { have_build || fail "$1: $build/c-api/libntm.so not found: build first (cmake --build $build)"; }

python_binding() {
  local args=(--disable-pip-version-check --root-user-action=ignore -q)
  # scikit-build-core and pybind11 are installed by ci/deps.d/python.sh: no isolated download.
  if "$py" -c "import scikit_build_core, pybind11" 2>/dev/null; then args+=(--no-build-isolation); fi
  # Debian's own python3 refuses pip installs into its site-packages (PEP 668) unless told.
  if "$py" -c "import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['stdlib'], 'EXTERNALLY-MANAGED')))"; then
    args+=(--break-system-packages)
  fi
  if have_build; then
    say "python: pip install bindings/python (libntm from $build)"
    export NTM_LIBNTM="$build/c-api/libntm.so"
  else
    say "python: pip install bindings/python (no $build: the package builds libntm itself)"
    unset NTM_LIBNTM
  fi
  "$py" -m pip install "${args[@]}" "$root/bindings/python" || fail "python: pip install failed"
}

ruby_binding() {
  need_build ruby
  say "ruby: compiling the extension into bindings/ruby/tmp"
  (cd "$root/bindings/ruby" && NTM_BUILD_DIR="$build" NTM_RUBY_BUILD_DIR="$root/bindings/ruby/tmp" \
    rake compile >/dev/null) || fail "ruby: rake compile failed"
}

java_binding() {
  need_build java
  say "java: mvn package (bindings/java/target)"
  (cd "$root/bindings/java" && mvn -q -B -ntp package -DskipTests -Dntm.native.dir="$build/c-api") || fail "java: mvn package failed"
  ls "$root"/bindings/java/target/ntmobile-*.jar >/dev/null 2>&1 || fail "java: no jar in bindings/java/target"
}

for binding in "${wanted[@]}"; do
  case "$binding" in
    python) python_binding ;;
    ruby) ruby_binding ;;
    java) java_binding ;;
    *) fail "unknown binding '$binding' (python, ruby or java)" ;;
  esac
done
say "ready: ${wanted[*]}"
