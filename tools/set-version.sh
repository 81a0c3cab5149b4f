#!/usr/bin/env bash
# Sets the project's one version (VERSION) and the places that must state it literally: ntm.h's
# NTM_VERSION_* macros (C callers compare them with ntm_version()), the Java POM, and the jar
# names in the docs. The Python package and the Ruby gem read VERSION themselves; CMake reads it
# and refuses a header that disagrees; tests/abi/check_versions.py checks the rest.
# Usage: tools/set-version.sh MAJOR.MINOR.PATCH   (then add a CHANGELOG.md section)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
new="${1:?usage: set-version.sh MAJOR.MINOR.PATCH}"
[[ "$new" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || { echo "not MAJOR.MINOR.PATCH: $new" >&2; exit 2; }
old="$(cat "$root/VERSION")"
echo "$new" >"$root/VERSION"
sed -i -E "s/^(#define NTM_VERSION_MAJOR )[0-9]+/\1${BASH_REMATCH[1]}/;
           s/^(#define NTM_VERSION_MINOR )[0-9]+/\1${BASH_REMATCH[2]}/;
           s/^(#define NTM_VERSION_PATCH )[0-9]+/\1${BASH_REMATCH[3]}/" "$root/c-api/include/ntm.h"
# The project's own <version> is the first one in the POM (dependencies come later).
sed -i "0,/<version>$old<\/version>/s//<version>$new<\/version>/" "$root/bindings/java/pom.xml"
grep -rl --include='*.md' --include='*.java' "ntmobile-$old\.jar" "$root" --exclude-dir=.deps \
  --exclude-dir='build*' --exclude-dir=target | xargs -r sed -i "s/ntmobile-$old\.jar/ntmobile-$new.jar/g"
echo "version $old -> $new; regenerate docs/c-api.md (tools/gen_c_api_doc.py) and add a CHANGELOG entry"
