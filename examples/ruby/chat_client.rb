# frozen_string_literal: true

# Joins a chat server (chat_server.rb or any language's) by node name, with NTMTCPSocket - a
# TCPSocket - and prints every line the server sends.
#
#   ruby examples/ruby/chat_client.rb NODE-OPTIONS --connect NAME:PORT --nick NICK [-6]
#     [--say TEXT]... [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]
#
# Interactive (no --say): each line of stdin is sent; at the end of stdin it sends /quit and
# waits for BYE. Scripted: after WELCOME it sends each --say line, waits until every --wait-for
# text has appeared in a received line (history included), then sends /quit and waits for BYE;
# --timeout (default 30 s) bounds the run. Exit 0 on success, 1 on a network failure, a timeout
# or an ERROR from the server, 2 on bad arguments. The connection is a real OS socket, so one
# IO.select loop waits for the server and for stdin together.
require_relative "example_net"

# One conversation with the server, driven by ChatClient#run.
class ChatClient
  # The run failed; the message goes to stderr and the exit status is 1.
  class Failure < StandardError; end

  def initialize(socket, nick:, says:, waits:, timeout:, deadline:)
    @socket = socket
    @nick = nick
    @says = says
    @missing = waits.dup # --wait-for texts not seen yet
    @timeout = timeout
    @deadline = deadline # clock value when the current wait gives up; nil: none
    @phase = :wait_welcome
    @server_buffer = "".b
    @stdin_buffer = "".b
    @stdin_open = says.empty? # interactive
  end

  # The conversation, until BYE. Raises Failure.
  def run
    ExampleNet.write_line(@socket, "NICK #{@nick}")
    until @phase == :done
      readers = [@socket]
      readers << $stdin if @stdin_open && @phase == :talking
      ready = IO.select(readers, nil, nil, time_left)
      report_timeout if ready.nil?
      receive_from_server if ready[0].include?(@socket)
      forward_stdin if @phase == :talking && ready[0].include?($stdin)
    end
  end

  private

  def scripted?
    !@says.empty?
  end

  # Seconds until the deadline (nil: wait forever); a Failure once it has passed.
  def time_left
    return nil if @deadline.nil?

    left = @deadline - ExampleNet.clock
    report_timeout if left <= 0
    left
  end

  def report_timeout
    awaited = case @phase
              when :wait_welcome then "WELCOME"
              when :wait_bye then "BYE"
              else @missing.map(&:inspect).join(", ")
              end
    raise Failure, "timed out after #{format('%g', @timeout)} s waiting for #{awaited}"
  end

  def receive_from_server
    chunk = @socket.read_nonblock(65_536, exception: false)
    return if chunk == :wait_readable
    raise Failure, "the server closed the connection" if chunk.nil?

    @server_buffer << chunk
    each_line(@server_buffer, "the server") do |line|
      on_server_line(line)
      break if @phase == :done
    end
  end

  def on_server_line(line)
    puts line
    raise Failure, "the server refused: #{line}" if line.start_with?("ERROR")

    if @phase == :wait_welcome
      raise Failure, "expected WELCOME, got '#{line}'" unless line.start_with?("WELCOME ")

      @phase = :talking
      @deadline = nil unless scripted? # interactive chatting may last forever
      @says.each { |text| ExampleNet.write_line(@socket, text) }
    elsif line == "BYE"
      @phase = :done # also when the user typed /quit
      return
    else
      @missing.reject! { |text| line.include?(text) }
    end
    quit if @phase == :talking && scripted? && @missing.empty?
  end

  def forward_stdin
    chunk = $stdin.read_nonblock(65_536, exception: false)
    return if chunk == :wait_readable

    if chunk.nil?
      @stdin_open = false
      return quit
    end
    @stdin_buffer << chunk
    each_line(@stdin_buffer, "stdin") { |line| ExampleNet.write_line(@socket, line) }
  end

  def quit
    @phase = :wait_bye
    @deadline = ExampleNet.clock + @timeout # the BYE wait is bounded
    ExampleNet.write_line(@socket, "/quit")
  end

  # Yields each complete line in buffer (removing it); raises Failure for an overlong one.
  def each_line(buffer, source)
    while (newline = buffer.index("\n"))
      line = buffer.slice!(0, newline + 1).chomp.force_encoding(Encoding::UTF_8)
      yield line
    end
    raise Failure, "#{source} sent a line longer than #{ExampleNet::MAX_LINE} bytes" if buffer.bytesize > ExampleNet::MAX_LINE
  end
end

target = nil
family = :INET
nick = nil
says = []
waits = []
timeout = 30.0
show_tunnels = false
parser = OptionParser.new do |p|
  p.banner = "usage: chat_client.rb NODE-OPTIONS --connect NAME:PORT --nick NICK [-6] [--say TEXT]... " \
             "[--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]\n" \
             "Chats with a chat server over the virtual network (IPv4, or IPv6 with -6). Without --say,\n" \
             "sends each line of stdin; with it, sends the --say lines, waits for a received line\n" \
             "containing each --wait-for text, then quits."
  p.on("--connect NAME:PORT", "the chat server (a node name)") { |v| target = v }
  p.on("--nick NICK", "the nick to join with") { |v| nick = v }
  p.on("-6", "connect over virtual IPv6 (default IPv4)") { family = :INET6 }
  p.on("--say TEXT", "a line to send after WELCOME (repeatable; scripted mode)") { |v| says << v.dup.force_encoding(Encoding::UTF_8) }
  p.on("--wait-for TEXT", "wait for a line containing TEXT (repeatable)") { |v| waits << v.dup.force_encoding(Encoding::UTF_8) }
  p.on("--timeout SECONDS", Float, "bound for a scripted run (default 30)") { |v| timeout = v }
  p.on("--show-tunnels", "print the tunnel table before exiting") { show_tunnels = true }
end
node = NodeArgs.add_to(parser)
ExampleNet.parse!(parser, node)
host, port = ExampleNet.parse_target(target)
ExampleNet.usage_error(parser, "--connect NAME:PORT and --nick NICK are required") unless host && nick
ExampleNet.usage_error(parser, "--nick is at most 32 characters") if nick.size > 32
ExampleNet.usage_error(parser, "--say text must be one line") if says.any? { |s| s.include?("\n") }
ExampleNet.usage_error(parser, "--timeout must be 0-86400 seconds") unless timeout.positive? && timeout <= 86_400

$stdout.sync = true
started = ExampleNet.clock
ExampleNet.start_node("chat_client.rb", node)
status = 1
begin
  socket = ExampleNet.connect(host, port, family, timeout)
  ChatClient.new(socket, nick: nick, says: says, waits: waits, timeout: timeout,
                         deadline: started + timeout).run
  status = 0
rescue ChatClient::Failure => e
  warn "chat_client.rb: #{e.message}"
rescue SocketError, SystemCallError, IOError => e
  warn "chat_client.rb: cannot talk to #{target}: #{e.message}"
ensure
  socket&.close
end
ExampleNet.stop_node(show_tunnels, status)
