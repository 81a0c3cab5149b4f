#!/usr/bin/env bash
# The Java binding's suite: JUnit 5 through Maven Surefire (bindings/java), against the libntm of
# the main build. Run by ci/test.sh after the build (NTM_ROOT, NTM_BUILD_DIR set); also runnable
# alone from the repository root after a build. Exits non-zero on any failure.
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build="${NTM_BUILD_DIR:-$root/build}"

if [ ! -e "$build/c-api/libntm.so" ]; then
  echo "java suite: $build/c-api/libntm.so is missing (build first)" >&2
  exit 1
fi
cd "$root/bindings/java"
# -B: plain log; Surefire prints the "Tests run: N, Failures: N ..." summary. The timeout only
# guards against a hang (the suite takes well under a minute).
exec timeout --kill-after=30 600 \
  mvn -B -ntp test -Dntm.native.dir="$build/c-api"
