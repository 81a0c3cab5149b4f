# frozen_string_literal: true

# ntmobile for Ruby: stable virtual IPv4/IPv6 addresses for this process (one "node"), and socket
# classes that are Ruby's own socket classes over them.
#
#   require "ntm"
#   NTM.start(name: "alice.example", private_key: key, virtual_ipv4: "100.64.0.1",
#             peers: [{ name: "bob.example", public_key: bob_pub, endpoint: "192.0.2.7:4500",
#                       virtual_ipv4: "100.64.0.2" }]) { |event| puts event }
#   sock = NTMTCPSocket.new("bob.example", 7000)   # a TCPSocket: gets/puts/read/IO.select...
#   NTM.stop
require "socket"
require "io/wait"
require "ipaddr"

require_relative "ntm/version"
begin
  require "ntm/ntm_ext"
rescue LoadError => e
  # `ruby extconf.rb && make` inside ext/ntm leaves the library there.
  local = File.expand_path("../ext/ntm/ntm_ext.so", __dir__)
  raise e unless File.exist?(local)

  require local
end
require_relative "ntm/address"
require_relative "ntm/node"
require_relative "ntm/logging"
require_relative "ntm/tcp_options"
require_relative "ntm/socket_addresses"
require_relative "ntm/tcp_socket"
require_relative "ntm/tcp_server"
require_relative "ntm/udp_socket"
