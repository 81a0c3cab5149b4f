#!/usr/bin/env bash
# Runs the ntmobile benchmark against the kernel on loopback and prints a side-by-side table.
#   bench/run.sh [BUILD_DIR] [ntm-bench options, e.g. --seconds 5 --rtts 5000]
# BUILD_DIR defaults to "build"; it must already hold a build (this script builds nothing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="build"
if [[ $# -gt 0 && "$1" != -* ]]; then
  build="$1"
  shift
fi
[[ "$build" = /* ]] || build="$(pwd)/$build"
[[ -d "$build" ]] || build="$here/../$(basename "$build")"
bench="$build/bench/ntm-bench"
if [[ ! -x "$bench" ]]; then
  echo "run.sh: $bench not found; build first: cmake -S . -B build -G Ninja && cmake --build build" >&2
  exit 1
fi
echo "ntm-bench on $(uname -srm), $(nproc) CPUs, build type: $(grep -s '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" | cut -d= -f2)"
exec "$bench" run "$@"
