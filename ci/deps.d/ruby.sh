# Ruby binding (bindings/ruby): Debian's Ruby, headers for the C extension (mkmf), rake and
# minitest; WEBrick and Rack for the HTTP servers the tests run (lib/ntm/http_server.rb).
# Sourced by ci/deps.sh, which defines ensure_packages and log.
ensure_packages ruby ruby-dev rake ruby-minitest ruby-webrick ruby-rack
