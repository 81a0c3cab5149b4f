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
    read, write, IO.select and the rest work unchanged. A C extension over libntm's C ABI (ntm.h);
    the gem carries libntm's sources and compiles them when it is installed (needs a C++20
    compiler, CMake >= 3.22 and OpenSSL 3's headers).
  TEXT
  spec.authors = ["the ntmobile authors"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/ntmobile/ntmobile"
  spec.required_ruby_version = ">= 3.0"
  spec.requirements = ["a C++20 compiler, CMake >= 3.22, OpenSSL 3 development files (libssl-dev)"]
  # ext/ntm/ntm-src/ (libntm's sources, lwIP, nlohmann/json) is there only in a gem made by
  # packaging/ruby/make-gem.sh; built from the repository, extconf.rb links the build's libntm.
  spec.files = Dir["lib/**/*.rb", "ext/ntm/*.{c,h,rb}", "ext/ntm/ntm-src/**/*", "README.md",
                   "Rakefile", "VERSION", "LICENSE", "NOTICE"].select { |f| File.file?(f) }
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/ntm/extconf.rb"]
  spec.metadata["rubygems_mfa_required"] = "true"
  spec.metadata["source_code_uri"] = "https://github.com/ntmobile/ntmobile/tree/main/bindings/ruby"
  spec.metadata["changelog_uri"] = "https://github.com/ntmobile/ntmobile/blob/main/CHANGELOG.md"
  spec.metadata["documentation_uri"] =
    "https://github.com/ntmobile/ntmobile/blob/main/docs/getting-started-ruby.md"
end
