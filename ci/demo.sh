#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs a small NTMobile
# network on loopback - two nodes in static-peer mode exchanging messages over their virtual
# IPv4 and IPv6 addresses - then cleans up. Needs no root once dependencies are installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${NTM_BUILD_DIR:-$root/build}"
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "installing dependencies (ci/deps.sh)"
if [ "$(id -u)" -eq 0 ]; then bash ci/deps.sh; else echo "(not root: assuming dependencies are installed)"; fi

say "building into $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target ntm-keygen ntm-echo-server ntm-echo-client

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "making a key pair per node"
read -r BOB_PRIV BOB_PUB < <("$build/examples/c/ntm-keygen")
read -r ALICE_PRIV ALICE_PUB < <("$build/examples/c/ntm-keygen")
echo "bob.demo   public key $BOB_PUB"
echo "alice.demo public key $ALICE_PUB"

# A free UDP port for bob's real endpoint on loopback.
port="$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

say "starting bob.demo (virtual 100.64.0.2 / fd00:6e74:6d::2, real 127.0.0.1:$port), echoing TCP port 7000"
"$build/examples/c/ntm-echo-server" --name bob.demo --key "$BOB_PRIV" \
  --vip4 100.64.0.2 --vip6 fd00:6e74:6d::2 --listen "127.0.0.1:$port" \
  --peer "alice.demo,$ALICE_PUB,,100.64.0.1,fd00:6e74:6d::1" --port 7000 \
  2>"$work/server.log" &
server_pid=$!

client() {
  "$build/examples/c/ntm-echo-client" --name alice.demo --key "$ALICE_PRIV" \
    --vip4 100.64.0.1 --vip6 fd00:6e74:6d::1 --listen 127.0.0.1:0 \
    --peer "bob.demo,$BOB_PUB,127.0.0.1:$port,100.64.0.2,fd00:6e74:6d::2" \
    --connect bob.demo:7000 --show-tunnels "$@"
}

say "alice.demo -> bob.demo over virtual IPv4"
for attempt in 1 2 3 4 5; do
  if client "hello bob, this is alice over virtual IPv4"; then break; fi
  [ "$attempt" -eq 5 ] && { echo "demo failed; server log:"; cat "$work/server.log"; exit 1; }
  echo "(server not ready yet, retrying)"
  sleep 0.5
done

say "alice.demo -> bob.demo over virtual IPv6"
client -6 "hello bob, this is alice over virtual IPv6"

say "done: both messages went through encrypted tunnels over UDP on loopback"
