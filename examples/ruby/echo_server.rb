# frozen_string_literal: true

# A node that echoes every TCP connection on its virtual addresses (IPv4 and IPv6, one thread per
# connection) until Ctrl-C or SIGTERM.
#
#   ruby examples/ruby/echo_server.rb --name bob.example --key "$BOB_PRIV" \
#     --vip4 100.64.0.2 --vip6 fd00:6e74:6d::2 --listen 127.0.0.1:47001 \
#     --peer "alice.example,$ALICE_PUB,,100.64.0.1,fd00:6e74:6d::1" --port 7000
#
# It is the usual Ruby TCP server with NTMTCPServer in place of TCPServer: accept returns an
# NTMTCPSocket (a TCPSocket), read with readpartial and answered with write.
require_relative "node_args"

port = 7000
parser = OptionParser.new do |p|
  p.banner = "usage: echo_server.rb NODE-OPTIONS [--port PORT]\n" \
             "Echoes every TCP connection to PORT on this node's virtual addresses until interrupted."
  p.on("--port PORT", Integer, "virtual TCP port to serve (default 7000)") { |v| port = v }
end
node = NodeArgs.add_to(parser)
begin
  parser.parse!
rescue OptionParser::ParseError => e
  warn "echo_server.rb: #{e.message}\n\n#{parser.help}"
  exit 2
end
NodeArgs.check(parser, node)

def echo(connection)
  peer = connection.peeraddr(:hostname)
  puts "connection from #{peer[2]} (#{peer[3]} port #{peer[1]})"
  buffer = String.new
  loop { connection.write(connection.readpartial(65_536, buffer)) }
rescue EOFError, IOError, SystemCallError
  nil
ensure
  connection.close
  puts "closed #{peer&.at(3)} port #{peer&.at(1)}"
end

trap("TERM") { Thread.main.raise(Interrupt) }
begin
  info = NTM.start(NodeArgs.start_options(node)) do |event|
    puts "event: #{event.type} #{event.peer_name} #{event.endpoint}".rstrip
  end
rescue NTM::Error, ArgumentError => e
  warn "echo_server.rb: cannot start the node: #{e.message}"
  exit 1
end
$stdout.sync = true

server = NTMTCPServer.new(port) # both virtual families
puts "#{info.name} echoing on port #{port}: virtual #{[info.virtual_ipv4, info.virtual_ipv6].compact.join(' ')}, " \
     "real UDP #{[info.endpoint_ipv4, info.endpoint_ipv6].compact.join(' ')}"
begin
  loop { Thread.new(server.accept) { |connection| echo(connection) } }
rescue Interrupt
  puts "stopping"
ensure
  server.close
  NTM.stop
end
