# frozen_string_literal: true

# Sends one file to a file receiver (file_receiver.rb or any language's) by node name.
#
#   ruby examples/ruby/file_sender.rb NODE-OPTIONS --connect NAME:PORT [-6] FILE [--as NAME]
#     [--show-tunnels]
#
# It sends "PUT <name> <size>" (name: FILE's base name or --as NAME), then the file in 64 KiB
# chunks - never the whole file in memory - hashing it (SHA-256) on the way, and compares the
# receiver's "OK <sha256>" answer with its own digest. Exit 0 when they match, 1 on a mismatch,
# an ERROR answer or a network failure (message on stderr), 2 on bad arguments.
require "digest"
require_relative "example_net"

CONNECT_TIMEOUT = 30
ANSWER_TIMEOUT = 60 # seconds to wait for the receiver's answer once everything is sent

target = nil
family = :INET
name = nil
show_tunnels = false
parser = OptionParser.new do |p|
  p.banner = "usage: file_sender.rb NODE-OPTIONS --connect NAME:PORT [-6] FILE [--as NAME] [--show-tunnels]\n" \
             "Sends FILE to a file receiver over the virtual network (IPv4, or IPv6 with -6) and checks\n" \
             "the SHA-256 the receiver computed."
  p.on("--connect NAME:PORT", "the file receiver (a node name)") { |v| target = v }
  p.on("-6", "connect over virtual IPv6 (default IPv4)") { family = :INET6 }
  p.on("--as NAME", "the name to store the file under (default: FILE's base name)") { |v| name = v }
  p.on("--show-tunnels", "print the tunnel table before exiting") { show_tunnels = true }
end
node = NodeArgs.add_to(parser)
path, = ExampleNet.parse!(parser, node, arguments: 1)
host, port = ExampleNet.parse_target(target)
ExampleNet.usage_error(parser, "--connect NAME:PORT and FILE are required") unless host && path
ExampleNet.usage_error(parser, "cannot send #{path}: not a readable file") unless File.file?(path) && File.readable?(path)
name ||= File.basename(path)
ExampleNet.usage_error(parser, "the file name to send must be one non-empty line") if name.empty? || name.include?("\n")

# Sends the request and the file. Returns [complete, hex]: complete is false when the receiver
# answered (an early ERROR) or the connection broke before the end.
def send_file(socket, path, name, size)
  sha256 = Digest::SHA256.new
  done = 0
  File.open(path, "rb") do |file|
    ExampleNet.write_line(socket, "PUT #{name} #{size}")
    while done < size
      break if IO.select([socket], nil, nil, 0) # an early answer: the receiver reads no more

      chunk = file.read([65_536, size - done].min) or raise IOError, "#{path} got shorter while being sent"
      sha256.update(chunk)
      socket.write(chunk)
      done += chunk.bytesize
    end
  rescue Errno::EPIPE, Errno::ECONNRESET
    nil # the receiver may have said why: the answer is read next
  end
  [done == size, sha256.hexdigest]
end

# Reads the receiver's answer and judges it. Returns the exit status.
def check_answer(socket, name, size, complete, hex, started)
  answer = socket.wait_readable(ANSWER_TIMEOUT) && ExampleNet.read_line(socket)
  seconds = ExampleNet.clock - started
  if !answer
    warn "file_sender.rb: no answer from the receiver: #{answer.nil? ? 'the connection closed' : 'timed out'}"
  elsif !answer.start_with?("OK ")
    warn "file_sender.rb: the receiver refused #{name}: #{answer}"
  elsif !complete
    warn "file_sender.rb: the receiver answered '#{answer}' before the whole file was sent"
  elsif answer.delete_prefix("OK ") != hex
    warn "file_sender.rb: SHA-256 mismatch for #{name}: sent #{hex}, the receiver got #{answer.delete_prefix('OK ')}"
  else
    puts format("sent %<name>s %<size>d bytes in %<s>.2fs (%<rate>.1f MB/s), sha256 %<hex>s verified by the receiver",
                name: name, size: size, s: seconds, rate: seconds.positive? ? size / 1e6 / seconds : 0.0, hex: hex)
    return 0
  end
  1
end

$stdout.sync = true
ExampleNet.start_node("file_sender.rb", node)
status = 1
begin
  socket = ExampleNet.connect(host, port, family, CONNECT_TIMEOUT)
  started = ExampleNet.clock
  size = File.size(path)
  complete, hex = send_file(socket, path, name, size)
  status = check_answer(socket, name, size, complete, hex, started)
rescue SocketError, SystemCallError, IOError => e
  warn "file_sender.rb: cannot send to #{target}: #{e.message}"
ensure
  socket&.close
end
ExampleNet.stop_node(show_tunnels, status)
