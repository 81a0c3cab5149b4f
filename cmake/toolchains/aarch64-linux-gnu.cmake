# Cross-compiling for 64-bit ARM Linux (aarch64) on a Debian/Ubuntu x86-64 machine with
# Debian's cross toolchain and multiarch arm64 libraries (ci/deps.d/cross-aarch64.sh installs
# gcc/g++-aarch64-linux-gnu, libssl-dev:arm64, libstdc++6:arm64 and qemu-user):
#   cmake -S . -B build-aarch64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#     -DNTM_BUILD_SERVERS=OFF -DNTM_BUILD_CLI=OFF -DNTM_BUILD_BENCH=OFF
#   cmake --build build-aarch64 --target ntm ntm_unit_tests
# Multiarch puts the arm64 libraries in /usr/lib/aarch64-linux-gnu beside the host's: no
# sysroot is needed, CMake finds them through CMAKE_LIBRARY_ARCHITECTURE (header-only packages
# such as nlohmann/json and Catch2 2.x come from the host's /usr/share and /usr/lib/cmake).
# Programs it builds run under qemu-user against the multiarch arm64 run-time (libc6:arm64,
# libstdc++6:arm64, libssl3:arm64, as on a real arm64 Debian): qemu-aarch64 -L / PROGRAM
# (CMAKE_CROSSCOMPILING_EMULATOR, so ctest and catch_discover_tests use it too).
# Not `-L /usr/aarch64-linux-gnu`: that takes the loader from the cross package
# (libc6-arm64-cross, Debian 12: 2.36-8cross1) while the loader still finds libc.so.6 through
# /etc/ld.so.cache in /lib/aarch64-linux-gnu (libc6:arm64, pulled in by libssl-dev:arm64:
# 2.36-9+deb12u14). A loader and a libc of different builds share private structures, and with
# these two the first pthread_create() (and fork()'s child) loops for ever in user space: the
# "ntm_start() spins under qemu-user, nothing after rt_sigaction" of issue 15. Neither qemu
# nor ntmobile was at fault; `-L /` also overrides a QEMU_LD_PREFIX in the environment.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# strip, nm and readelf of the target (the Java jar strips libntm with this strip).
set(CMAKE_STRIP aarch64-linux-gnu-strip CACHE FILEPATH "strip for aarch64")

find_program(NTM_QEMU_AARCH64 qemu-aarch64)
if(NTM_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${NTM_QEMU_AARCH64};-L;/")
endif()

# pkg-config (FindOpenSSL asks it first) must describe the arm64 libraries, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs (compilers, python) from the host; libraries and headers of the target only.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
