# frozen_string_literal: true

# A multi-client line chat on TCP port 7100 of this node's virtual addresses (IPv4 and IPv6),
# with NTMTCPServer - a TCPServer. It talks to the chat clients of every language (C
# ntm-chat-client, chat_client.py, ChatClient, chat_client.rb).
#
#   ruby examples/ruby/chat_server.rb NODE-OPTIONS [--port 7100] [--show-tunnels]
#
# A client's first line is "NICK <nick>" (1-32 of [A-Za-z0-9_-]); it gets "WELCOME <nick>", the
# last 50 chat lines, and everyone else sees "* <nick> joined". Each further line goes to the
# other clients as "<nick>: <text>"; "/quit" gets "BYE"; a client that leaves is announced as
# "* <nick> left". Every broadcast line is printed on stdout. One thread reads each client (the
# room's state and delivery are in chat_room.rb). Runs until Ctrl-C or SIGTERM, then closes the
# node and exits 0; --show-tunnels prints the tunnel table on the way out.
require_relative "example_net"
require_relative "chat_room"

port = 7100
show_tunnels = false
parser = OptionParser.new do |p|
  p.banner = "usage: chat_server.rb NODE-OPTIONS [--port PORT] [--show-tunnels]\n" \
             "A chat room on TCP port PORT (default 7100) of this node's virtual addresses.\n" \
             "Protocol: NICK <nick> first, then lines of text; /quit to leave."
  p.on("--port PORT", Integer, "virtual TCP port (default 7100)") { |v| port = v }
  p.on("--show-tunnels", "print the tunnel table when stopping") { show_tunnels = true }
end
node = NodeArgs.add_to(parser)
ExampleNet.parse!(parser, node)
ExampleNet.usage_error(parser, "--port must be 1-65535") unless (1..65_535).cover?(port)

# Answers "ERROR <reason>" and closes the connection.
def refuse(socket, reason)
  ExampleNet.write_line(socket, "ERROR #{reason}")
  ExampleNet.close_gently(socket)
rescue IOError, SystemCallError
  socket.close unless socket.closed?
end

# One client's whole session: NICK, then its lines until /quit or the end of the stream.
def serve(socket, room)
  socket.binmode
  first = ExampleNet.read_line(socket)
  return socket.close if first.nil? # gone before saying who it is
  return refuse(socket, "expected-nick") unless first.start_with?("NICK ")

  member = room.join(first.delete_prefix("NICK "), socket)
  begin
    while (line = ExampleNet.read_line(socket))
      if line == "/quit"
        member.send_line("BYE")
        break
      end
      room.say(member, line)
    end
  rescue ExampleNet::LineTooLong
    member.send_line("ERROR line-too-long")
  rescue IOError, SystemCallError
    nil # the connection broke or was closed by a stop: the member leaves
  end
  room.leave(member)
  member.flush # BYE or ERROR reaches the client before the connection closes
  ExampleNet.close_gently(socket)
rescue ChatRoom::Refused => e
  refuse(socket, e.message)
rescue ExampleNet::LineTooLong
  refuse(socket, "line-too-long")
rescue IOError, SystemCallError
  socket.close unless socket.closed?
end

room = ChatRoom.new
ExampleNet.serve_until_signal(
  "chat_server.rb", node, port, show_tunnels: show_tunnels,
  ready: ->(info) { "chat server #{info.name} listening on port #{port} (#{ExampleNet.virtual_addresses(info)})" },
  on_stop: -> { room.close } # disconnects every client, without announcements
) { |socket| serve(socket, room) }
