#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/, docs/fuzzing.md) for as long as you like.
#   tools/fuzz.sh TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]   one target (default 600 s)
#   tools/fuzz.sh all [SECONDS]                             each target in turn
#   tools/fuzz.sh --list                                    the targets
#   tools/fuzz.sh --seeds                                   rewrite the generated seeds in fuzz/corpus
# Builds build-fuzz (clang, ASan + UBSan, -DNTM_BUILD_FUZZERS=ON) when needed. New inputs go to
# build-fuzz/fuzz-work/TARGET (kept between runs, so a long campaign can be resumed); crashes to
# build-fuzz/fuzz-artifacts/TARGET/. The committed seeds in fuzz/corpus are read, never written:
# copy a crash input there (and into a unit test) once it is fixed. Environment: NTM_FUZZ_BUILD_DIR,
# NTM_FUZZ_JOBS (libFuzzer -jobs/-workers for one target, default 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NTM_FUZZ_BUILD_DIR:-$root/build-fuzz}"
targets=(wire handshake engine stack relay control login dns server_config cli_config)
# lwIP keeps some pbuf pointers in packed structs at unaligned offsets; without use_unaligned
# LeakSanitizer takes those pbufs for leaks (docs/fuzzing.md).
export LSAN_OPTIONS="use_unaligned=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

build_fuzzers() {
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DNTM_BUILD_FUZZERS=ON \
      -DNTM_BUILD_TESTS=OFF -DNTM_BUILD_EXAMPLES=OFF -DNTM_BUILD_BENCH=OFF >/dev/null
  fi
  local wanted=()
  for t in "${targets[@]}"; do wanted+=("fuzz_$t"); done
  cmake --build "$build" -j "${NTM_BUILD_JOBS:-2}" --target "${wanted[@]}" ntm_fuzz_make_corpus
}

run_one() {
  local target="$1" seconds="$2"
  shift 2
  local work="$build/fuzz-work/$target" artifacts="$build/fuzz-artifacts/$target"
  mkdir -p "$work" "$artifacts"
  local args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "$root/fuzz/dict/$target.dict" ] && args+=(-dict="$root/fuzz/dict/$target.dict")
  local jobs="${NTM_FUZZ_JOBS:-1}"
  [ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")
  echo "== fuzz_$target for ${seconds} s (corpus $work + fuzz/corpus/$target)"
  (cd "$artifacts" && "$build/fuzz/fuzz_$target" "${args[@]}" "$@" "$work" "$root/fuzz/corpus/$target")
}

case "${1:-}" in
  ""|-h|--help) usage ;;
  --list) printf '%s\n' "${targets[@]}"; exit 0 ;;
  --seeds)
    build_fuzzers
    "$build/fuzz/ntm_fuzz_make_corpus" "$root/fuzz/corpus"
    echo "seeds written to fuzz/corpus (the config seeds are hand-written and were kept)"
    exit 0 ;;
esac

target="$1"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift
build_fuzzers
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do run_one "$t" "$seconds" "$@"; done
else
  printf '%s\n' "${targets[@]}" | grep -qx "$target" || { echo "unknown target '$target' (tools/fuzz.sh --list)" >&2; exit 2; }
  run_one "$target" "$seconds" "$@"
fi
