#!/usr/bin/env bash
# The Ruby binding's suite (bindings/ruby): builds the C extension against the main build's
# libntm, out of the source tree, then runs the minitest suite (two node processes on loopback).
# Env (set by ci/test.sh): NTM_ROOT = repository root, NTM_BUILD_DIR = main build directory.
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
export NTM_RUBY_BUILD_DIR="$NTM_BUILD_DIR/bindings/ruby"
export NTM_WERROR=1 # the extension compiles without warnings

if [ ! -e "$NTM_BUILD_DIR/c-api/libntm.so" ]; then
  echo "ruby suite: $NTM_BUILD_DIR/c-api/libntm.so not found (build the repository first)" >&2
  exit 1
fi
command -v ruby >/dev/null && command -v rake >/dev/null || {
  echo "ruby suite: ruby and rake are needed (ci/deps.sh installs them)" >&2
  exit 1
}

cd "$root/bindings/ruby"
rm -rf "$NTM_RUBY_BUILD_DIR" # a clean extension build each time (it takes seconds)
echo "ruby suite: $(ruby --version); building the extension in $NTM_RUBY_BUILD_DIR"
timeout 120 rake compile
# The suite takes seconds; the bound only stops a hang from eating the CI run.
timeout 300 rake test TESTOPTS="--verbose"
