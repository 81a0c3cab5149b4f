#!/usr/bin/env bash
# The fuzz smoke (fuzz/, docs/fuzzing.md): builds the libFuzzer targets with clang, ASan and
# UBSan in their own folder, then runs each for a short fixed time from its committed seeds
# (which include every input that once crashed a decoder). Fails on any crash, sanitizer report,
# leak, timeout or out-of-memory. Prints each target's executions and exec/s.
# Long campaigns are for tools/fuzz.sh, outside CI.
# Environment: NTM_ROOT, NTM_FUZZ_BUILD_DIR (default build-fuzz), NTM_FUZZ_SECONDS (20 each).
set -euo pipefail
root="${NTM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
build="${NTM_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${NTM_FUZZ_SECONDS:-20}"
targets=(wire handshake engine stack relay control login dns server_config cli_config)
# lwIP keeps some pbuf pointers in packed structs at unaligned offsets; without use_unaligned
# LeakSanitizer takes those pbufs for leaks (docs/fuzzing.md).
export LSAN_OPTIONS="use_unaligned=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

command -v clang++ >/dev/null || { echo "fuzz suite: clang++ is needed (ci/deps.sh installs it)" >&2; exit 1; }
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DNTM_BUILD_FUZZERS=ON \
  -DNTM_BUILD_TESTS=OFF -DNTM_BUILD_EXAMPLES=OFF -DNTM_BUILD_BENCH=OFF >/dev/null
wanted=()
for t in "${targets[@]}"; do wanted+=("fuzz_$t"); done
cmake --build "$build" -j "$(nproc)" --target "${wanted[@]}"

scratch="$(mktemp -d -t ntm-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t/new" "$scratch/$t/artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$scratch/$t/artifacts/")
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  # New inputs go to a scratch folder: the committed seeds are read, never changed.
  status=0
  "$build/fuzz/fuzz_$t" "${args[@]}" "$scratch/$t/new" "$root/fuzz/corpus/$t" \
    >"$scratch/$t/log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t/log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/$t/log" | tail -1)"
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz_$t: FAILED (exit $status) after ${execs:-?} executions; its log:"
    tail -n 60 "$scratch/$t/log"
    for crash in "$scratch/$t/artifacts"/*; do
      [ -e "$crash" ] && { echo "input $(basename "$crash") (base64):"; base64 -w0 "$crash"; echo; }
    done
  else
    echo "fuzz_$t: ok, ${execs:-?} executions in ${seconds} s (${rate:-?} exec/s)"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz suite: crashes in ${failed[*]}"; exit 1; }
