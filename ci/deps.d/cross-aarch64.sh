# linux-aarch64 libntm for the Java jar (ci/suites/packaging.sh; docs/install.md): Debian's
# cross toolchain, OpenSSL's arm64 headers and libraries (multiarch: beside the host's, in
# /usr/lib/aarch64-linux-gnu; apt keeps libssl-dev:amd64 and :arm64 at one version), and
# qemu-user to run the aarch64 unit tests and two_nodes.c. Those run against the multiarch arm64
# run-time (libc6:arm64's loader and libc, libstdc++6:arm64), never the cross package's loader
# beside libc6:arm64's libc (they hang: cmake/toolchains/aarch64-linux-gnu.cmake says why).
# Sourced by ci/deps.sh, which defines ensure_packages, need_root, log and apt_updated.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  need_root "dpkg --add-architecture arm64"
  log "dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  apt_updated=0 # the arm64 package lists are needed now
fi
ensure_packages gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu \
  libssl-dev:arm64 libc6:arm64 libstdc++6:arm64 qemu-user
