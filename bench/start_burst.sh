#!/usr/bin/env bash
# Start-up burst (issue 12 item 9): N ntm-start-node processes started within about a second
# against one AS + DC (embedded, the real Argon2id password cost), all of which must be ready -
# logged in and registered - within 30 s. CI runs the same test with 200 nodes
# (integration.burst); this runs 500 by default. Prints the BURST line with the figures:
# all_ready_s (the last node ready, from the first spawn), start_ms p50/p90/max (ntm_start()
# per node), the AS's answers (ok, busy, overloaded) and the DC's registrations.
#   bench/start_burst.sh [BUILD_DIR] [NODES]
set -euo pipefail
build="${1:-build}"
nodes="${2:-500}"
ulimit -n 65536 2>/dev/null || true
NTM_BURST_NODES="$nodes" "$build/tests/integration/ntm_burst_tests" 2>/dev/null | grep -E '^BURST|passed|failed'
