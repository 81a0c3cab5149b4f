# The ntm command-line node (cli/, tests/cli, run by ci/suites/cli.sh): CLI11 and nlohmann-json
# to build it (nlohmann-json also for libntm's control API), and the unmodified programs its
# tests drive through it: curl, socat, netcat. Sourced by ci/deps.sh, which defines
# ensure_packages and log.
ensure_packages libcli11-dev nlohmann-json3-dev curl socat netcat-openbsd
