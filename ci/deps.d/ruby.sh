# Ruby binding (bindings/ruby): Debian's Ruby, headers for the C extension (mkmf), rake and
# minitest. Sourced by ci/deps.sh, which defines ensure_packages and log.
ensure_packages ruby ruby-dev rake ruby-minitest
