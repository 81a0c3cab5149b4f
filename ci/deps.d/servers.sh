# Control-plane servers (servers/, tests/servers): SQLite 3, OpenSSL 3 and libargon2 (Argon2id
# password hashes) headers; libpq for the PostgreSQL store backend, and Debian's PostgreSQL
# server, whose initdb/pg_ctl the store tests use to start a throwaway cluster of their own
# (tests/pgtest; as root they run it as the `postgres` user the package creates). Sourced by
# ci/deps.sh, which defines ensure_packages and log (SQLite, OpenSSL and libargon2 are also in
# its base list; kept here so the servers' needs are stated where they are used).
ensure_packages libsqlite3-dev libssl-dev libargon2-dev libpq-dev postgresql
