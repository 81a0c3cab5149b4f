# frozen_string_literal: true

# The chat server's shared state - who is in the room, the recent history - and the delivery of
# lines to members. Every change happens under one Mutex, so all members see lines in the same
# order, and a newcomer's WELCOME, history replay and join announcement are atomic with respect
# to other messages.
#
# A member never blocks the room: each has an outbox (a SizedQueue) emptied by its own writer
# thread. A member whose outbox fills up has stopped reading and is disconnected.
class ChatRoom
  HISTORY_LINES = 50
  NICK = /\A[A-Za-z0-9_-]{1,32}\z/.freeze

  # Why a nick was not admitted: the reason in the server's "ERROR <reason>" answer.
  class Refused < StandardError; end

  # One client in the room: its nick, its connection and the writer thread feeding it.
  class Member
    OUTBOX_LINES = 1000 # lines a member may fall behind by before it counts as gone
    FINISHED = Object.new.freeze # ends the outbox: the writer stops

    attr_reader :nick

    def initialize(nick, socket)
      @nick = nick
      @socket = socket
      @outbox = SizedQueue.new(OUTBOX_LINES + 1) # one slot kept for FINISHED
      @disconnected = false
      @writer = Thread.new { write_outbox }
    end

    # Queues a line; a member that has stopped reading (full outbox) is disconnected.
    def send_line(line)
      if @disconnected
        nil # its reader thread is about to take it out of the room
      elsif @outbox.size < OUTBOX_LINES
        @outbox.push(line)
      else
        warn "chat_server.rb: #{@nick} stopped reading, disconnecting"
        disconnect
      end
    end

    # Waits (at most 5 s) until everything queued so far is written; the writer then stops.
    def flush
      @outbox.push(FINISHED, true)
      @writer.join(5)
    rescue ThreadError
      nil # full outbox: the member was disconnected already
    end

    # Closes the connection at once: its reader and writer threads fail and end.
    def disconnect
      @disconnected = true
      @socket.close unless @socket.closed?
    rescue IOError
      nil
    end

    private

    def write_outbox
      while (line = @outbox.pop) != FINISHED
        ExampleNet.write_line(@socket, line)
      end
    rescue IOError, SystemCallError
      disconnect # the reader thread notices and the member leaves
    end
  end

  def initialize
    @lock = Mutex.new
    @members = {} # nick => Member
    @history = []
    @closed = false
  end

  # Admits nick on socket: queues WELCOME and the history for it and announces it to the others.
  # Returns the Member; raises Refused for a bad or taken nick, or when the server is stopping.
  def join(nick, socket)
    @lock.synchronize do
      raise Refused, "shutting-down" if @closed
      raise Refused, "bad-nick" unless NICK.match?(nick)
      raise Refused, "nick-taken" if @members.key?(nick)

      member = Member.new(nick, socket)
      member.send_line("WELCOME #{nick}")
      @history.each { |line| member.send_line(line) }
      @members[nick] = member
      broadcast(member, "* #{nick} joined")
      member
    end
  end

  # Sends "<nick>: <text>" to everyone else and keeps it in the history.
  def say(from, text)
    @lock.synchronize do
      line = "#{from.nick}: #{text}"
      @history << line
      @history.shift while @history.size > HISTORY_LINES
      broadcast(from, line)
    end
  end

  # Takes the member out of the room and, unless the server is stopping, announces it.
  def leave(member)
    @lock.synchronize do
      next unless @members[member.nick].equal?(member)

      @members.delete(member.nick)
      broadcast(nil, "* #{member.nick} left") unless @closed
    end
  end

  # Stopping: no more joins or announcements; every member is disconnected.
  def close
    members = @lock.synchronize do
      @closed = true
      @members.values
    end
    members.each(&:disconnect)
  end

  private

  # Queues the line for every member except `except` and prints it. Lock held.
  def broadcast(except, line)
    @members.each_value { |m| m.send_line(line) unless m.equal?(except) }
    $stdout.puts line
  end
end
