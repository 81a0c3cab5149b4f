# frozen_string_literal: true

# Receives files over the virtual network on TCP port 7200 (IPv4 and IPv6), from the file
# senders of every language (ntm-file-sender, file_sender.py, FileSender, file_sender.rb),
# several at once, one thread per connection.
#
#   ruby examples/ruby/file_receiver.rb NODE-OPTIONS --dir DIR [--port 7200] [--show-tunnels]
#
# Per connection one request line "PUT <name> <size>": the name is a plain file name (no "/",
# not "." or "..", no NUL, at most 255 bytes of UTF-8; it may contain spaces, the size is after
# the last one), else "ERROR bad-name"; the size a decimal byte count up to 2^40, else
# "ERROR bad-size". The bytes go to DIR/<name>.part while being hashed (SHA-256); complete, the
# file is renamed to DIR/<name> and the answer is "OK <sha256 hex>". A connection that ends
# early leaves no file behind. Runs until Ctrl-C or SIGTERM.
require "digest"
require_relative "example_net"

MAX_SIZE = 1 << 40
MAX_NAME_BYTES = 255
IDLE_TIMEOUT = 30 # seconds a sender may stay silent before it counts as gone

# A request answered with "ERROR <reason>".
class Refusal < StandardError; end

directory = nil
port = 7200
show_tunnels = false
parser = OptionParser.new do |p|
  p.banner = "usage: file_receiver.rb NODE-OPTIONS --dir DIR [--port PORT] [--show-tunnels]\n" \
             "Receives files into DIR on TCP port PORT (default 7200) of this node's virtual addresses:\n" \
             "per connection \"PUT <name> <size>\", the bytes, answer \"OK <sha256>\"."
  p.on("--dir DIR", "where received files go") { |v| directory = v }
  p.on("--port PORT", Integer, "virtual TCP port (default 7200)") { |v| port = v }
  p.on("--show-tunnels", "print the tunnel table when stopping") { show_tunnels = true }
end
node = NodeArgs.add_to(parser)
ExampleNet.parse!(parser, node)
ExampleNet.usage_error(parser, "--dir DIR is required") unless directory
ExampleNet.usage_error(parser, "--dir #{directory} is not a directory") unless File.directory?(directory)
ExampleNet.usage_error(parser, "--port must be 1-65535") unless (1..65_535).cover?(port)

# "PUT <name> <size>" -> [name, size]; the name is everything up to the last space.
def parse_request(line)
  raise Refusal, "bad-name" unless line.valid_encoding? # a name must be UTF-8 to be written back
  raise Refusal, "bad-request" unless line.start_with?("PUT ") && line.rindex(" ") >= 4

  name, _, size = line.delete_prefix("PUT ").rpartition(" ")
  if name.empty? || name.bytesize > MAX_NAME_BYTES || name.include?("/") || name.include?("\0") ||
     name == "." || name == ".."
    raise Refusal, "bad-name"
  end
  raise Refusal, "bad-size" unless size.match?(/\A\d{1,13}\z/) && size.to_i <= MAX_SIZE

  [name, size.to_i]
end

# Reads up to `want` bytes, waiting at most IDLE_TIMEOUT; nil when the stream ends.
def read_chunk(socket, want)
  raise IOError, "no data for #{IDLE_TIMEOUT} s" unless socket.wait_readable(IDLE_TIMEOUT)

  socket.readpartial(want)
rescue EOFError
  nil
end

# Copies exactly `size` bytes into dir/name.part while hashing them, then renames it to
# dir/name. Returns the SHA-256 in hex; on any failure the .part file is removed.
def receive_file(socket, dir, name, size)
  part = File.join(dir, "#{name}.part")
  begin # EXCL: two uploads of one name at once must not write into the same .part
    file = File.open(part, File::WRONLY | File::CREAT | File::EXCL | File::BINARY)
  rescue Errno::EEXIST
    raise Refusal, "busy"
  rescue SystemCallError => e
    warn "file_receiver.rb: cannot create #{part}: #{e.message}"
    raise Refusal, "cannot-write"
  end
  complete = false
  begin
    sha256 = Digest::SHA256.new
    done = 0
    while done < size
      chunk = read_chunk(socket, [65_536, size - done].min) or
        raise IOError, "#{name}: connection ended after #{done} of #{size} bytes"
      sha256.update(chunk)
      file.write(chunk)
      done += chunk.bytesize
    end
    file.close
    File.rename(part, File.join(dir, name))
    complete = true
    sha256.hexdigest
  ensure
    file.close unless file.closed?
    File.unlink(part) if !complete && File.exist?(part) # an incomplete upload leaves no file behind
  end
end

def refuse(socket, answer, peer)
  warn "file_receiver.rb: refused a request from #{peer}: #{answer}"
  ExampleNet.write_line(socket, answer)
  ExampleNet.close_gently(socket)
rescue IOError, SystemCallError
  nil # the sender is gone
end

# One connection: the request, the bytes, the answer.
def serve(socket, dir)
  socket.binmode
  peer = socket.peeraddr(false)[3]
  line = socket.wait_readable(IDLE_TIMEOUT) && ExampleNet.read_line(socket)
  return unless line # closed (or silent) without a request

  name, size = parse_request(line)
  started = ExampleNet.clock
  hex = receive_file(socket, dir, name, size)
  ExampleNet.write_line(socket, "OK #{hex}")
  puts format("received %<name>s %<size>d bytes sha256=%<hex>s from %<peer>s in %<s>.2fs",
              name: name, size: size, hex: hex, peer: peer, s: ExampleNet.clock - started)
rescue Refusal, ExampleNet::LineTooLong => e
  refuse(socket, e.is_a?(Refusal) ? "ERROR #{e.message}" : "ERROR bad-request", peer)
rescue IOError, SystemCallError => e
  warn "file_receiver.rb: upload from #{peer} failed: #{e.message}"
ensure
  socket.close unless socket.closed?
end

# At the stop, uploads still running fail on their closed connection and remove their .part
# file; drain gives them 5 s to.
ExampleNet.serve_until_signal(
  "file_receiver.rb", node, port, show_tunnels: show_tunnels, drain: 5,
  ready: lambda do |info|
    "file receiver #{info.name} listening on port #{port} (#{ExampleNet.virtual_addresses(info)}), " \
      "saving to #{directory}"
  end
) { |socket| serve(socket, directory) }
