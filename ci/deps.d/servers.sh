# Control-plane servers (servers/, tests/servers): SQLite 3, OpenSSL 3 and libargon2 (Argon2id
# password hashes) headers. Sourced by
# ci/deps.sh, which defines ensure_packages and log (both are also in its base list; kept here so
# the servers' needs are stated where they are used).
ensure_packages libsqlite3-dev libssl-dev libargon2-dev
