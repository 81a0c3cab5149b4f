# The fuzz targets (fuzz/, run by ci/suites/fuzz.sh and tools/fuzz.sh): clang and its runtime
# libraries (libFuzzer, ASan, UBSan), which clang only recommends. Sourced by ci/deps.sh, which
# defines ensure_packages and log.
ensure_packages clang libclang-rt-14-dev
