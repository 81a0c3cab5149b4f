# frozen_string_literal: true

# The node-side plumbing the Ruby examples share: command-line parsing around NodeArgs, starting
# and stopping the node, the serve-until-a-signal loop of the servers, connecting by node name
# within a deadline, bounded line reading, closing a connection without losing the last answer,
# and the tunnel table in the examples' common one-line format (the same as the C, Java and
# Python examples print).
require "io/wait"
require_relative "node_args"

module ExampleNet
  # Longest line (without its "\n") the chat and file protocols accept.
  MAX_LINE = 4096

  # More than MAX_LINE bytes arrived without a "\n".
  class LineTooLong < StandardError
    def initialize
      super("line longer than #{MAX_LINE} bytes")
    end
  end

  module_function

  # Parses ARGV with `parser` (whose node options NodeArgs.add_to added) and returns the first
  # `arguments` positional arguments (nil where missing); exits 2 with the problem on a bad
  # option, a missing mode option or an argument beyond those.
  def parse!(parser, node, arguments: 0)
    parser.program_name = File.basename($PROGRAM_NAME) # "chat_client.rb", as in other messages
    begin
      parser.parse!
    rescue OptionParser::ParseError => e
      usage_error(parser, e.message)
    end
    NodeArgs.check(parser, node)
    positional = Array.new(arguments) { ARGV.shift }
    usage_error(parser, "unexpected argument #{ARGV.first}") unless ARGV.empty?
    positional
  end

  # Prints "program: problem" and the usage line to stderr, and exits 2.
  def usage_error(parser, problem)
    warn "#{parser.program_name}: #{problem}\n#{parser.banner.lines.first.chomp}\n(--help lists every option)"
    exit 2
  end

  # "NAME:PORT" or "[v6]:PORT" -> [host, port], or nil.
  def parse_target(text)
    host, port = text.to_s.match(/\A\[?([^\[\]]+?)\]?:(\d+)\z/)&.captures
    host && (1..65_535).cover?(port.to_i) ? [host, port.to_i] : nil
  end

  # Starts the node for the parsed options and returns its NTM::NodeInfo; exits 1 on failure.
  def start_node(program, node)
    NTM.start(NodeArgs.start_options(node))
  rescue NTM::Error, ArgumentError => e
    warn "#{program}: cannot start the node: #{e.message}"
    exit 1
  end

  # The end of a client: the tunnel table if asked, then the node stops and the process exits.
  def stop_node(show_tunnels, status)
    print_tunnels if show_tunnels
    NTM.stop
    exit status
  end

  # A server's life: starts the node, listens on `port` of every virtual address (NTMTCPServer -
  # a TCPServer), prints ready.call(node info) and hands each accepted connection to the block in
  # a thread of its own, until Ctrl-C or SIGTERM. Then the listener closes, on_stop runs, the
  # connections still open are closed and given `drain` seconds to finish, the tunnel table is
  # printed if asked, the node stops and the process exits 0 (1 when the node or the listener
  # cannot start).
  def serve_until_signal(program, node, port, ready:, on_stop: nil, drain: 0, show_tunnels: false, &serve)
    interrupt_on_term
    $stdout.sync = true
    info = start_node(program, node)
    begin
      server = NTMTCPServer.new(port) # every virtual address, IPv4 and IPv6
    rescue SystemCallError => e
      warn "#{program}: cannot listen on port #{port}: #{e.message}"
      NTM.stop
      exit 1
    end
    connections = {} # socket => thread, for the shutdown
    lock = Mutex.new
    puts ready.call(info)
    begin
      loop do
        socket = server.accept
        lock.synchronize do
          connections[socket] = Thread.new do
            serve.call(socket)
          ensure
            lock.synchronize { connections.delete(socket) }
          end
        end
      rescue SystemCallError => e
        warn "#{program}: accept failed: #{e.message}"
      end
    rescue Interrupt
      warn "#{program}: stopping"
    end
    server.close
    on_stop&.call
    close_connections(lock.synchronize { connections.dup }, drain) if drain.positive?
    stop_node(show_tunnels, 0)
  end

  # Closes the connections (socket => thread) and waits up to `seconds` for their threads.
  def close_connections(connections, seconds)
    connections.each_key { |socket| socket.close unless socket.closed? }
    deadline = clock + seconds
    connections.each_value { |thread| thread.join([deadline - clock, 0.1].max) }
  end

  # Resolves the name through the node (never the system's DNS), takes its virtual IPv4 address
  # (:INET6: IPv6) and connects within `timeout` seconds. Returns a binary-mode NTMTCPSocket.
  # Raises SocketError (unknown name), Errno::ECONNREFUSED, Errno::ETIMEDOUT...
  def connect(host, port, family, timeout)
    address = NTM.getaddrinfo(host, port, family).first&.ip_address
    raise SocketError, "#{host} has no virtual #{family == :INET6 ? 'IPv6' : 'IPv4'} address" unless address

    socket = NTMTCPSocket.new(address, port, connect_timeout: timeout)
    socket.binmode # lines and files are bytes; texts are UTF-8 by convention
    socket
  end

  # The next line from `io` without its "\n" (and a trailing "\r"), as UTF-8; nil at the end of
  # the stream (an unfinished last line is dropped). Raises LineTooLong. The bytes after the line
  # stay in io's buffer (read/readpartial get them).
  def read_line(io)
    line = io.gets("\n", MAX_LINE + 1) # a limit in bytes: io is in binary mode
    return nil if line.nil?
    raise LineTooLong if !line.end_with?("\n") && line.bytesize > MAX_LINE
    return nil unless line.end_with?("\n")

    line.chomp.force_encoding(Encoding::UTF_8)
  end

  # Sends one line ("\n" appended).
  def write_line(io, text)
    io.write("#{text}\n".b)
  end

  # Ends a connection after a final answer without destroying it: half-closes (FIN after the
  # answer), reads and drops what the peer still sends for a moment, then closes. Closing with
  # unread data would reset the connection, and a reset can discard the answer before the peer
  # has read it.
  def close_gently(socket)
    socket.close_write
    deadline = clock + 5
    loop do
      left = deadline - clock
      break if left <= 0 || !socket.wait_readable([left, 2].min)

      socket.readpartial(16_384)
    end
  rescue EOFError, IOError, SystemCallError
    nil # the peer finished or is gone: nothing left to protect
  ensure
    socket.close unless socket.closed?
  end

  # "vip4 100.64.0.2, vip6 fd00:6e74:6d::2" ("-" for an address the node does not have).
  def virtual_addresses(info)
    "vip4 #{info.virtual_ipv4 || '-'}, vip6 #{info.virtual_ipv6 || '-'}"
  end

  # Prints the tunnel table, one line per tunnel:
  #   tunnel <peer> vip4=<a> vip6=<a> path=<direct|relay|none> endpoint=<host:port> sent=<n> received=<n>
  def print_tunnels(out = $stdout)
    NTM.tunnels.each do |t|
      out.puts "tunnel #{t.peer_name} vip4=#{t.virtual_ipv4} vip6=#{t.virtual_ipv6} path=#{t.path} " \
               "endpoint=#{t.endpoint} sent=#{t.bytes_sent} received=#{t.bytes_received}"
    end
    out.flush
  rescue NTM::Error => e
    warn "cannot read the tunnel table: #{e.message}"
  end

  # Seconds on the monotonic clock, for durations and deadlines.
  def clock
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Makes SIGTERM stop a server as Ctrl-C does: Interrupt in the main thread, so that it closes
  # its listener, its connections and then the node, and exits 0.
  def interrupt_on_term
    trap("TERM") { Thread.main.raise(Interrupt) }
  end
end
