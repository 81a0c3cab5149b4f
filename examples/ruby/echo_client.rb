# frozen_string_literal: true

# A node that connects to a peer by name (virtual IPv4, or IPv6 with -6), sends a message (or
# each line of standard input) and prints the echo.
#
#   ruby examples/ruby/echo_client.rb --name alice.example --key "$ALICE_PRIV" \
#     --vip4 100.64.0.1 --vip6 fd00:6e74:6d::1 --listen 127.0.0.1:0 \
#     --peer "bob.example,$BOB_PUB,127.0.0.1:47001,100.64.0.2,fd00:6e74:6d::2" \
#     --connect bob.example:7000 "hello over virtual IPv4"
#
# The connection is an NTMTCPSocket: a TCPSocket, so puts/gets/readpartial are Ruby's own.
require_relative "example_net"

target = nil
family = :INET
show_tunnels = false
parser = OptionParser.new do |p|
  p.banner = "usage: echo_client.rb NODE-OPTIONS --connect NAME:PORT [-6] [--show-tunnels] [MESSAGE...]\n" \
             "Sends MESSAGE (or each line of standard input) to the echo server and prints the echo."
  p.on("--connect NAME:PORT", "the echo server (a node name or virtual address)") { |v| target = v }
  p.on("-6", "connect over virtual IPv6 (default IPv4)") { family = :INET6 }
  p.on("--show-tunnels", "print the tunnel table before exiting") { show_tunnels = true }
end
node = NodeArgs.add_to(parser)
begin
  parser.parse!
rescue OptionParser::ParseError => e
  warn "echo_client.rb: #{e.message}\n\n#{parser.help}"
  exit 2
end
NodeArgs.check(parser, node)
host, port = target&.match(/\A\[?(.+?)\]?:(\d+)\z/)&.captures
unless host
  warn "echo_client.rb: --connect NAME:PORT is required\n\n#{parser.help}"
  exit 2
end

ExampleNet.start_node("echo_client.rb", node)

status = 0
begin
  address = NTM.getaddrinfo(host, Integer(port), family).first.ip_address
  NTMTCPSocket.open(address, Integer(port), connect_timeout: 30) do |socket|
    lines = ARGV.empty? ? $stdin.each_line.lazy.map(&:chomp) : [ARGV.join(" ")]
    lines.each do |line|
      socket.puts(line)
      echo = socket.gets or raise EOFError, "the server closed the connection"
      puts echo
    end
  end
rescue SocketError, SystemCallError, EOFError => e
  warn "echo_client.rb: cannot talk to #{target}: #{e.message}"
  status = 1
end
if show_tunnels
  NTM.tunnels.each do |t|
    puts "tunnel #{t.peer_name} #{t.state} #{t.path} #{t.endpoint} sent=#{t.bytes_sent} received=#{t.bytes_received}"
  end
end
NTM.stop
exit status
