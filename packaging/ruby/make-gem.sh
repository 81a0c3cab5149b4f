#!/usr/bin/env bash
# Makes the Ruby gem, ntm-VERSION.gem: bindings/ruby plus, in ext/ntm/ntm-src/, the core, the C
# API, lwIP and nlohmann/json (packaging/stage-sources.sh). `gem install ntm-VERSION.gem` then
# compiles libntm.a from those sources and links the extension against it: no repository, no
# NTM_BUILD_DIR, nothing pointing into a build tree.
# Usage: packaging/ruby/make-gem.sh [OUT_DIR]   (default: dist/ in the repository)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
stage="$(mktemp -d -t ntm-gem.XXXXXX)"
trap 'rm -rf "$stage"' EXIT

binding="$root/bindings/ruby"
for item in ntm.gemspec Rakefile README.md VERSION LICENSE NOTICE lib; do
  cp -rL "$binding/$item" "$stage/"
done
mkdir -p "$stage/ext/ntm"
cp "$binding"/ext/ntm/*.{c,h,rb} "$stage/ext/ntm/"
bash "$root/packaging/stage-sources.sh" "$stage/ext/ntm/ntm-src"

(cd "$stage" && gem build --silent ntm.gemspec >/dev/null)
gem_file="$(cd "$stage" && ls ntm-*.gem)"
mv "$stage/$gem_file" "$out/"
echo "$out/$gem_file"
