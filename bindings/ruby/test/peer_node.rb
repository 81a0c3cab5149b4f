# frozen_string_literal: true

# The other node for the Ruby binding's tests and benchmark: a separate process (one node per
# process) serving on its virtual addresses until its standard input closes.
#
#   ruby -I lib peer_node.rb --key PRIVATE --client-key PUBLIC [--os-sink]
#
# Ports (virtual, both families):
#   7000 TCP echo           7001 TCP line protocol (below)     7002 UDP echo
#   7003 TCP sink: reads to end of stream, answers "<bytes> <sha256 hex>\n"
#   7004 TCP counter: reads to end of stream, answers "<bytes>\n" (the benchmark's target)
# --os-sink also runs the counter on a real TCP port on 127.0.0.1 (the benchmark's baseline).
# Prints one line "READY endpoint4=HOST:PORT [os_sink=PORT]" once everything listens.
#
# Line protocol, one command per line:
#   PING -> PONG;  ECHO text -> text;  ADD a b -> a+b;  PEER -> the client's address as seen here
#   DIAL port text -> connects back to the client's virtual address and port, sends text and a
#                     newline, closes; answers DIALED (or ERR ...)
#   UDP port text  -> sends text in a datagram to the client's address and port; answers SENT
#   QUIT -> BYE, then closes;  CLOSE -> closes without answering
require "optparse"
require "digest"
require "ntm"

options = { name: "peer.test", vip4: "100.64.0.2", vip6: "fd00:6e74:6d::2",
            client_name: "client.test", client_vip4: "100.64.0.1",
            client_vip6: "fd00:6e74:6d::1", listen: "127.0.0.1:0", os_sink: false }
OptionParser.new do |o|
  o.on("--name NAME") { |v| options[:name] = v }
  o.on("--key KEY") { |v| options[:key] = v }
  o.on("--vip4 ADDR") { |v| options[:vip4] = v }
  o.on("--vip6 ADDR") { |v| options[:vip6] = v }
  o.on("--listen HOST:PORT") { |v| options[:listen] = v }
  o.on("--client-name NAME") { |v| options[:client_name] = v }
  o.on("--client-key KEY") { |v| options[:client_key] = v }
  o.on("--client-vip4 ADDR") { |v| options[:client_vip4] = v }
  o.on("--client-vip6 ADDR") { |v| options[:client_vip6] = v }
  o.on("--os-sink") { options[:os_sink] = true }
end.parse!
abort "peer_node: --key and --client-key are required" unless options[:key] && options[:client_key]

Thread.report_on_exception = false
listen = options[:listen]
NTM.start(name: options[:name], private_key: options[:key],
          virtual_ipv4: options[:vip4], virtual_ipv6: options[:vip6],
          listen_ipv4: listen.start_with?("[") ? "" : listen,
          listen_ipv6: listen.start_with?("[") ? listen : "",
          peers: [{ name: options[:client_name], public_key: options[:client_key], endpoint: nil,
                    virtual_ipv4: options[:client_vip4], virtual_ipv6: options[:client_vip6] }])

def serve(server)
  Thread.new do
    loop do
      client = server.accept
      Thread.new(client) do |c|
        yield c
      rescue IOError, SystemCallError
        nil
      ensure
        c.close unless c.closed?
      end
    end
  rescue IOError, SystemCallError
    nil
  end
end

def sink(connection)
  digest = Digest::SHA256.new
  total = 0
  buffer = String.new(capacity: 1 << 16)
  loop do
    connection.readpartial(1 << 16, buffer)
    total += buffer.bytesize
    digest << buffer
  rescue EOFError
    break
  end
  connection.write("#{total} #{digest.hexdigest}\n")
end

def count(connection)
  total = 0
  buffer = String.new(capacity: 1 << 18)
  loop do
    connection.readpartial(1 << 18, buffer)
    total += buffer.bytesize
  rescue EOFError
    break
  end
  connection.write("#{total}\n")
end

def line_protocol(connection)
  client_ip = connection.peeraddr(:numeric)[3]
  connection.each_line do |line|
    command, rest = line.chomp.split(" ", 2)
    case command
    when "PING" then connection.puts "PONG"
    when "ECHO" then connection.puts rest.to_s
    when "ADD" then connection.puts rest.split.sum { |n| Integer(n) }
    when "PEER" then connection.puts connection.peeraddr(:hostname).inspect
    when "DIAL"
      port, text = rest.split(" ", 2)
      begin
        NTMTCPSocket.open(client_ip, Integer(port)) { |back| back.puts text.to_s }
        connection.puts "DIALED"
      rescue SystemCallError => e
        connection.puts "ERR #{e.class}"
      end
    when "UDP"
      port, text = rest.split(" ", 2)
      family = client_ip.include?(":") ? Socket::AF_INET6 : Socket::AF_INET
      NTMUDPSocket.open(family) { |u| u.send(text.to_s, 0, client_ip, Integer(port)) }
      connection.puts "SENT"
    when "QUIT"
      connection.puts "BYE"
      break
    when "CLOSE" then break
    else connection.puts "ERR unknown command"
    end
  end
end

servers = [7000, 7001, 7003, 7004].map { |port| NTMTCPServer.new(port) }
serve(servers[0]) do |c|
  buffer = String.new(capacity: 1 << 16)
  loop do
    c.readpartial(1 << 16, buffer)
    c.write(buffer)
  rescue EOFError
    c.close_write
    break
  end
end
serve(servers[1]) { |c| line_protocol(c) }
serve(servers[2]) { |c| sink(c) }
serve(servers[3]) { |c| count(c) }

udp = [[Socket::AF_INET, options[:vip4]], [Socket::AF_INET6, options[:vip6]]].map do |family, ip|
  socket = NTMUDPSocket.new(family)
  socket.bind(ip, 7002)
  Thread.new do
    loop do
      data, from = socket.recvfrom(65_535)
      socket.send(data, 0, from[3], from[1])
    end
  rescue IOError, SystemCallError
    nil
  end
  socket
end

ready = "READY endpoint4=#{NTM.info.endpoint_ipv4 || NTM.info.endpoint_ipv6}"
if options[:os_sink]
  os_server = TCPServer.new("127.0.0.1", 0)
  serve(os_server) { |c| count(c) }
  ready += " os_sink=#{os_server.addr[1]}"
end
$stdout.puts ready
$stdout.flush

$stdin.read # until the test closes our input (or dies)
servers.each(&:close)
udp.each(&:close)
NTM.stop
