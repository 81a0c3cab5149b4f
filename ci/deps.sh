#!/usr/bin/env bash
# Prepares a fresh Debian bookworm machine (as root) to build and test ntmobile.
# Idempotent and quick when everything is already present.
#   ci/deps.sh            system packages + the lwIP source
# The lwIP 2.1.3 source is unpacked into .deps/lwip-2.1.3 (never committed).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps_dir="${NTM_DEPS_DIR:-$root/.deps}"

log() { printf '[deps] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "installing system packages needs root; run as root or install: $*"
    exit 1
  fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

# Installs the Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root "${missing[@]}"
  apt_update_once
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Adds a deb-src entry mirroring the machine's first Debian source, if there is none.
ensure_deb_src() {
  if grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  need_root deb-src
  local uri suite
  uri="$(grep -rhs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -m1 debian | awk '{print $2}')"
  suite="$(grep -rhs '^Suites:' /etc/apt/sources.list.d/*.sources | head -1 | awk '{print $2}')"
  if [ -z "$uri" ]; then
    uri="$(grep -hs '^deb ' /etc/apt/sources.list | grep -m1 debian | awk '{print $2}')"
    suite="$(grep -hs '^deb ' /etc/apt/sources.list | grep -m1 debian | awk '{print $3}')"
  fi
  [ -n "$uri" ] || { log "no Debian apt source found to derive a deb-src entry from"; exit 1; }
  log "adding deb-src entry for $uri $suite"
  cat >/etc/apt/sources.list.d/ntm-deb-src.sources <<SRC
Types: deb-src
URIs: $uri
Suites: ${suite:-bookworm}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_updated=0
}

# Fetches the pristine upstream lwIP 2.1.3 tarball from Debian's source package and unpacks it.
ensure_lwip_source() {
  local dest="$deps_dir/lwip-2.1.3"
  [ -f "$dest/src/Filelists.cmake" ] && return 0
  ensure_deb_src
  apt_update_once
  local tmp
  tmp="$(mktemp -d)"
  log "fetching Debian's lwip source package"
  (cd "$tmp" && apt-get source --download-only -qq lwip >/dev/null 2>&1)
  local orig
  orig="$(ls "$tmp"/lwip_2.1.3*.orig.tar.* 2>/dev/null | head -1)"
  [ -n "$orig" ] || { log "lwip 2.1.3 orig tarball not found in Debian's source package"; exit 1; }
  mkdir -p "$deps_dir"
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  tar -xf "$orig" -C "$dest.partial" --strip-components=1
  mv "$dest.partial" "$dest"
  rm -rf "$tmp"
  log "lwIP source ready in $dest"
}

ensure_packages build-essential cmake ninja-build pkg-config libssl-dev libsqlite3-dev libargon2-dev catch2 \
  python3 iproute2 xz-utils binutils patch check
ensure_lwip_source

# Each binding (and each test tier with needs of its own) adds its dependencies in ci/deps.d/;
# those scripts use ensure_packages and log from here.
for extra in "$root"/ci/deps.d/*.sh; do
  [ -e "$extra" ] || continue
  # shellcheck source=/dev/null
  source "$extra"
done
log "ready"
