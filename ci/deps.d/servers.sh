# Control-plane servers (servers/, tests/servers): SQLite 3 and OpenSSL 3 headers. Sourced by
# ci/deps.sh, which defines ensure_packages and log (both are also in its base list; kept here so
# the servers' needs are stated where they are used).
ensure_packages libsqlite3-dev libssl-dev
