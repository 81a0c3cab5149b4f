#!/usr/bin/env bash
# The packaging suite: builds the artifacts a user installs and uses each one the way a user
# would, from a temporary folder outside the clone (docs/install.md). This part: C/C++ -
# `cmake --install` of the main build into a prefix (then moved: it is relocatable); its
# ntm-server and ntm run; a CMake project (find_package(ntm CONFIG)) and a Makefile + pkg-config
# project build against it and run, against libntm.so and (when built) libntm.a.
# Environment from ci/test.sh: NTM_ROOT (repository root), NTM_BUILD_DIR (main build).
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build="$(cd "${NTM_BUILD_DIR:-$root/build}" && pwd)"
version="$(cat "$root/VERSION")"
soversion="$(echo "$version" | awk -F. '$1 == 0 {print $1 "." $2; next} {print $1}')"
say() { printf '[packaging] %s\n' "$*"; }
fail() { printf '[packaging] FAILED: %s\n' "$*" >&2; exit 1; }

for needed in c-api/libntm.so servers/ntm-server cli/ntm; do
  [ -e "$build/$needed" ] || fail "$build/$needed not found (build the repository first)"
done
for tool in pkg-config readelf; do
  command -v "$tool" >/dev/null || fail "$tool is needed (ci/deps.sh installs it)"
done

work="$(mktemp -d -t ntm-packaging.XXXXXX)"
case "$work/" in "$root"/*) fail "the temporary folder $work is inside the clone" ;; esac
trap 'rm -rf "$work"' EXIT
cd "$work"
jobs="${NTM_JOBS:-2}"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs" MAKEFLAGS="-j$jobs"

# ---- C / C++ --------------------------------------------------------------------------------
say "C: cmake --install $build --prefix $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/usr" # a moved prefix must still work (relative .pc and CMake files)
prefix="$work/usr"
for file in include/ntm.h "lib/libntm.so.$soversion" lib/libntm.so lib/pkgconfig/ntm.pc \
    lib/cmake/ntm/ntmConfig.cmake lib/cmake/ntm/ntmConfigVersion.cmake lib/cmake/ntm/ntmTargets.cmake \
    bin/ntm-server bin/ntm share/man/man1/ntm-server.1 share/man/man1/ntm.1 \
    share/doc/ntmobile/LICENSE share/doc/ntmobile/NOTICE share/doc/ntmobile/docs/install.md; do
  [ -e "$prefix/$file" ] || fail "cmake --install did not install $file"
done
# (outputs go through files: `cmd | grep -q` can fail on SIGPIPE under pipefail)
readelf -d "$prefix/lib/libntm.so" >"$work/dynamic.txt"
grep -q "SONAME.*\[libntm.so.$soversion\]" "$work/dynamic.txt" || fail "SONAME is not libntm.so.$soversion"
[ "$("$prefix/bin/ntm-server" --version)" = "ntm-server $version" ] || fail "ntm-server --version"
[ "$(env -u LD_LIBRARY_PATH "$prefix/bin/ntm" --version)" = "ntm $version (libntm $version)" ] ||
  fail "the installed ntm does not run on the installed libntm"

for kind in cmake pkgconfig; do
  mkdir -p "$work/consumer-$kind"
  cp -r "$root/tests/packaging/consumer-$kind/." "$root/tests/packaging/consumer.c" "$work/consumer-$kind/"
done
say "C: a CMake project: find_package(ntm CONFIG) -> ntm::ntm"
(cd "$work/consumer-cmake" && cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" >/dev/null &&
  cmake --build build >/dev/null && env -u LD_LIBRARY_PATH build/consumer) ||
  fail "CMake consumer"
say "C: a Makefile project: pkg-config --cflags --libs ntm"
(cd "$work/consumer-pkgconfig" && PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -s >/dev/null &&
  env -u LD_LIBRARY_PATH ./consumer) || fail "pkg-config consumer"

if [ -e "$prefix/lib/libntm.a" ]; then # NTM_BUILD_STATIC=ON (ci/test.sh builds it)
  say "C: the same two projects against libntm.a (ntm::ntm_static, pkg-config --static)"
  (cd "$work/consumer-cmake" && cmake -S . -B build-static -DCMAKE_PREFIX_PATH="$prefix" \
    -DNTM_CONSUMER_STATIC=ON >/dev/null && cmake --build build-static >/dev/null &&
    readelf -d build-static/consumer >dynamic.txt && ! grep -q libntm dynamic.txt &&
    build-static/consumer) ||
    fail "CMake consumer of libntm.a"
  (cd "$work/consumer-pkgconfig" && make -s clean && PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
    make -s LDLIBS="$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --static --libs ntm | sed 's/-lntm/-l:libntm.a/')" >/dev/null &&
    readelf -d consumer >dynamic.txt && ! grep -q libntm dynamic.txt && ./consumer) ||
    fail "pkg-config --static consumer of libntm.a"
else
  say "C: no libntm.a in this build (configure with -DNTM_BUILD_STATIC=ON to try it too)"
fi

say "C: ok"
