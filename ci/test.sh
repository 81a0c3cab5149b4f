#!/usr/bin/env bash
# Runs every ntmobile test suite (the README's test command; .ci/run calls it).
#   ci/test.sh            install what is missing, build, run all suites
# Suites: the C/C++ tiers through CTest (unit, abi, integration), the same under ASan+UBSan, and
# each script in ci/suites/ (bindings, namespace tests...). Prints one line per suite and a
# closing "N passed, N failed" line; exits non-zero if any suite failed.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export NTM_ROOT="$root"
export NTM_BUILD_DIR="${NTM_BUILD_DIR:-$root/build}"
asan_dir="${NTM_ASAN_BUILD_DIR:-$root/build-asan}"
jobs="$(nproc)"

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
bash ci/deps.sh || { echo "dependency installation failed"; exit 1; }

step "build ($NTM_BUILD_DIR)"
# NTM_BUILD_STATIC: libntm.a too, which the packaging suite installs and links.
# NTM_POSTGRESQL=ON: the PostgreSQL store backend must build (and its tests run), not be skipped.
cmake -S . -B "$NTM_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNTM_WERROR=ON \
  -DNTM_BUILD_STATIC=ON -DNTM_POSTGRESQL=ON >/dev/null &&
  cmake --build "$NTM_BUILD_DIR" -j "$jobs" || { echo "build failed"; exit 1; }

passed=0
failed=0
failed_names=()
# Each suite's output is also kept in $log_dir, so the summary can repeat what failed: a CI log
# is often read from its end only.
log_dir="$NTM_BUILD_DIR/suite-logs"
mkdir -p "$log_dir"
run_suite() {
  local name="$1"
  shift
  step "suite: $name"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$log_dir/$name.log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1))
    echo "suite $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "suite $name: FAILED ($((SECONDS - start)) s)"
  fi
}

run_suite core ctest --test-dir "$NTM_BUILD_DIR" -L 'unit|abi|integration|servers' -j "$jobs" --output-on-failure --timeout 300

step "build with AddressSanitizer + UndefinedBehaviorSanitizer ($asan_dir)"
if cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNTM_SANITIZE=ON \
    -DNTM_BUILD_BENCH=OFF >/dev/null && cmake --build "$asan_dir" -j "$jobs"; then
  # integration.burst (hundreds of nodes logging in within a second, 30 s bound) measures load
  # handling, not memory safety; it runs in the core suite, and under ASan's 3-5x slowdown its
  # time bound only measures the sanitizer.
  run_suite sanitizers env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan_dir" -L 'unit|integration' -E '^integration\.burst\.' \
    -j "$jobs" --output-on-failure --timeout 600
else
  failed=$((failed + 1))
  failed_names+=("sanitizers (build)")
fi

for suite in ci/suites/*.sh; do
  [ -e "$suite" ] || continue
  run_suite "$(basename "$suite" .sh)" bash "$suite"
done

step "summary"
for name in "${failed_names[@]}"; do
  # CTest's list of failed tests, pytest's/minitest's/JUnit's failure lines: at most 30 per suite.
  log="$log_dir/${name%% *}.log"
  [ -f "$log" ] || continue
  echo "--- what failed in $name:"
  { sed -n '/The following tests FAILED/,$p' "$log"
    grep -E '^(FAILED|ERROR) |^[A-Za-z0-9_:#]+ = [0-9.]+ s = [FE]$|\[ERROR\] (Tests run|Failures|  )|FAILED:' "$log"
  } | head -n 30
done
[ "$failed" -gt 0 ] && echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
