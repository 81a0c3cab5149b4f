# frozen_string_literal: true

require_relative "lib/ntm/version"

Gem::Specification.new do |spec|
  spec.name = "ntm"
  spec.version = NTM::VERSION
  spec.summary = "ntmobile for Ruby: stable virtual IPv4/IPv6 addresses, NTMTCPSocket < TCPSocket"
  spec.description = <<~TEXT
    Ruby binding of ntmobile. Each process is a node with stable virtual IPv4/IPv6 addresses,
    carried in encrypted UDP tunnels. NTMTCPSocket, NTMTCPServer and NTMUDPSocket are
    subclasses of Ruby's TCPSocket, TCPServer and UDPSocket over real descriptors, so gets, puts,
    read, write, IO.select and the rest work unchanged. A C extension over libntm's C ABI (ntm.h).
  TEXT
  spec.authors = ["ntmobile maintainers"]
  spec.required_ruby_version = ">= 3.0"
  spec.files = Dir["lib/**/*.rb", "ext/ntm/*.{c,h,rb}", "README.md", "Rakefile"]
  spec.require_paths = ["lib"]
  # Builds against libntm: set NTM_BUILD_DIR (a build directory with c-api/libntm.so) or pass
  # --with-ntm-include / --with-ntm-lib (see ext/ntm/extconf.rb).
  spec.extensions = ["ext/ntm/extconf.rb"]
  spec.metadata["rubygems_mfa_required"] = "true"
end
