#!/usr/bin/env bash
# Copies what building libntm needs - and nothing of the repository around it - into DEST, for the
# packages that compile the core on the user's machine (the Python sdist: ntm-src/, the Ruby gem:
# ext/ntm/ntm-src/):
#   VERSION LICENSE NOTICE CMakeLists.txt cmake/ core/ c-api/ patches/   from this repository
#   third_party/lwip-2.1.3/        lwIP's COPYING and the src/ folders cmake/lwip.cmake compiles,
#                                  with ntmobile's patches (patches/lwip) applied already and
#                                  listed in its ntm-patches.txt, so building from a package needs
#                                  no patch tool (from NTM_LWIP_SOURCE_DIR, default
#                                  .deps/lwip-2.1.3: ci/deps.sh)
#   third_party/nlohmann_json/     nlohmann/json's headers and licence (from NTM_JSON_INCLUDE,
#                                  default /usr/include: Debian's nlohmann-json3-dev)
# Neither third-party tree is ever committed; they are copied when a package is made.
# Usage: packaging/stage-sources.sh DEST
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:?usage: stage-sources.sh DEST}"
lwip="${NTM_LWIP_SOURCE_DIR:-$root/.deps/lwip-2.1.3}"
json="${NTM_JSON_INCLUDE:-/usr/include}"
fail() { printf '[stage-sources] %s\n' "$*" >&2; exit 1; }

[ -f "$lwip/src/include/lwip/opt.h" ] || fail "no lwIP 2.1.3 source in $lwip (run ci/deps.sh)"
[ -f "$json/nlohmann/json.hpp" ] || fail "no nlohmann/json.hpp in $json (apt-get install nlohmann-json3-dev)"

mkdir -p "$dest"
# The repository's own files: in a git checkout, those git does not ignore (no build output).
for item in VERSION LICENSE NOTICE CMakeLists.txt cmake core c-api patches; do
  [ -e "$root/$item" ] || fail "$root/$item missing"
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard -- "$item" |
      (cd "$root" && xargs -0 -r cp --parents -t "$dest")
  else
    cp -r "$root/$item" "$dest/"
  fi
done

# lwIP's src/core, src/api and src/include, patched here with the same script the build uses.
cmake -DLWIP_SOURCE="$lwip" -DLWIP_PATCHES="$root/patches/lwip" \
  -DLWIP_OUT="$dest/third_party/lwip-2.1.3" -P "$root/cmake/lwip_patch.cmake" >/dev/null ||
  fail "the lwIP patches do not apply to $lwip"

mkdir -p "$dest/third_party/nlohmann_json/include"
cp -r "$json/nlohmann" "$dest/third_party/nlohmann_json/include/"
if [ -f /usr/share/doc/nlohmann-json3-dev/copyright ] && [ "$json" = /usr/include ]; then
  cp /usr/share/doc/nlohmann-json3-dev/copyright "$dest/third_party/nlohmann_json/LICENSE"
elif [ -f "$json/../LICENSE.MIT" ]; then
  cp "$json/../LICENSE.MIT" "$dest/third_party/nlohmann_json/LICENSE"
else
  fail "no licence file for nlohmann/json next to $json"
fi
