#!/usr/bin/env bash
# The README's main command: a local NTMobile network with apps in three languages talking.
#   bash ci/demo.sh            loopback; needs no root once the dependencies are installed
#   sudo bash ci/demo.sh --netns   the same across network namespaces: the Java node behind an
#                              IPv4 NAT, the Ruby node on an IPv6-only network (through the relay)
#   bash ci/demo.sh --forward  unmodified programs instead: curl reaches a plain web server
#                              through `ntm up` (a forward and SOCKS5), then `ntm status`
# It installs what is missing (as root), builds, starts the all-in-one ntm-server (AS + DC + RS)
# with its SQLite state in a temporary directory, creates three accounts, and starts
#   bob.demo    the Python chat server   (examples/python/chat_server.py)
#   alice.demo  a Java chat client       (examples/java/ChatClient.java)
#   carol.demo  a Ruby chat client       (examples/ruby/chat_client.rb)
# The clients find bob by name through the DC and exchange messages over virtual IPv4 (alice) and
# virtual IPv6 (carol); each node prints its tunnel table (peer, virtual addresses, path
# direct/relay, real endpoint, bytes). Everything is stopped and removed at the end, also on
# failure or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
build="$NTM_BUILD_DIR"
netns=0
forward=0
for arg in "$@"; do
  case "$arg" in
    --netns) netns=1 ;;
    --forward) forward=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
steps=4
step=0
say() { step=$((step + 1)); printf '\n\033[1m[%d/%d] %s\033[0m\n' "$step" "$steps" "$*"; }
die() { printf '\ndemo: %s\n' "$*" >&2; exit 1; }

if [ "$netns" -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  die "--netns creates network namespaces and needs root (run: sudo bash ci/demo.sh --netns)"
fi

say "dependencies"
if [ "$(id -u)" -eq 0 ]; then
  bash ci/deps.sh
else
  missing=()
  for tool in cmake ninja g++ python3 java mvn ruby rake; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run as root once (sudo bash ci/demo.sh) to install them"
  [ -d "${NTM_LWIP_SOURCE_DIR:-$root/.deps/lwip-2.1.3}" ] ||
    die "lwIP source missing: run as root once (sudo bash ci/demo.sh) or bash ci/deps.sh"
  echo "not root: using the installed tools (cmake, a C++ compiler, Python, Java, Maven, Ruby)"
fi

if [ "$forward" -eq 1 ]; then
  steps=3
  say "building libntm, ntm-server and ntm into $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target ntm ntm_cli ntm-server
  say "running the forward demo on loopback"
  exec python3 ci/demo/forward.py
fi

say "building libntm, ntm-server and the C examples into $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target ntm ntm-server

say "preparing the Python, Ruby and Java bindings"
bash ci/bindings.sh python ruby java

if [ "$netns" -eq 1 ]; then
  say "running the demo across network namespaces"
  exec python3 ci/demo/netns.py
fi
say "running the demo on loopback"
exec python3 ci/demo/loopback.py
