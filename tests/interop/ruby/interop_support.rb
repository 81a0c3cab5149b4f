# frozen_string_literal: true

# What the Ruby interop node's server and client share (tests/interop/README.md): stdout records,
# failure reasons, time limits and a line-and-bytes stream over a connected socket.
require "openssl"
require "io/wait"

module Interop
  LANG = "ruby"
  DEADLINE_S = 60.0 # every blocking step of a client run ends this long after the start
  IDLE_S = 60.0 # a server connection idle this long is dropped
  MAX_LINE = 1024 # longest request or response line, without its "\n"
  CHUNK = 65_536 # size of the chunks uploaded, downloaded and hashed

  # The other end sent what the protocol does not allow; the message is the FAIL reason.
  class ProtocolFailure < StandardError; end

  # A time limit (the client's deadline or the server's idle time) ran out.
  class TimeLimit < StandardError; end

  @record_lock = Mutex.new

  module_function

  # Prints one stdout record ("KEYWORD key=value ...") and flushes; thread-safe.
  def record(keyword, **fields)
    text = ([keyword] + fields.map { |key, value| "#{key}=#{value}" }).join(" ")
    @record_lock.synchronize do
      $stdout.write("#{text}\n")
      $stdout.flush
    end
  end

  # A diagnostic on stderr (never a record).
  def warn(message)
    $stderr.write("interop_node.rb: #{message}\n")
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def sha256
    OpenSSL::Digest.new("SHA256")
  end

  # A short reason without spaces for a failure, as FAIL records carry it.
  def reason(error)
    case error
    when ProtocolFailure then error.message
    when TimeLimit, Errno::ETIMEDOUT, Errno::EAGAIN then "timeout"
    when SocketError then error.message.match?(/not known|no address/i) ? "unknown-name" : slug(error.message)
    when EOFError then "connection-closed"
    when SystemCallError then slug(error.class.new.message) # strerror, without the call's details
    else slug(error.class.name)
    end
  end

  def slug(text)
    text = text.to_s.downcase.gsub(/[^a-z0-9]+/, "-").gsub(/\A-|-\z/, "")
    text.empty? ? "error" : text[0, 60]
  end

  # The client's overall deadline: #left is the time to wait at most, TimeLimit once none is left.
  class Deadline
    def initialize(at)
      @at = at
    end

    def left
      remaining = @at - Interop.now
      raise TimeLimit, "deadline" if remaining <= 0

      remaining
    end

    def passed?
      Interop.now >= @at
    end
  end

  # The server's limit: each wait on a connection may last IDLE_S.
  module IdleLimit
    def self.left
      IDLE_S
    end
  end

  # Request/response lines and counted byte runs over a connected socket. Every wait is bounded
  # by limit.left (TimeLimit when it runs out); lines and bytes are binary strings.
  class LineStream
    def initialize(socket, limit)
      @socket = socket
      @limit = limit
      @buffer = String.new(capacity: CHUNK, encoding: Encoding::BINARY)
    end

    # One line without its "\n"; nil at a clean end of stream (before the line's first byte).
    # EOFError for an end inside a line, ProtocolFailure for a line over MAX_LINE bytes.
    def read_line
      loop do
        newline = @buffer.index("\n")
        if newline
          raise ProtocolFailure, "line-too-long" if newline > MAX_LINE

          line = @buffer.byteslice(0, newline)
          @buffer = @buffer.byteslice(newline + 1, @buffer.bytesize)
          return line
        end
        raise ProtocolFailure, "line-too-long" if @buffer.bytesize > MAX_LINE

        chunk = read_some(CHUNK)
        if chunk.nil?
          return nil if @buffer.empty?

          raise EOFError, "end of stream inside a line"
        end
        @buffer << chunk
      end
    end

    # A line the other end must send: EOFError at the end of stream.
    def expect_line
      read_line or raise EOFError, "connection closed"
    end

    # Reads exactly count bytes into digest.
    def read_hashed(count, digest)
      unless @buffer.empty?
        take = [count, @buffer.bytesize].min
        digest.update(@buffer.byteslice(0, take))
        @buffer = @buffer.byteslice(take, @buffer.bytesize)
        count -= take
      end
      while count.positive?
        chunk = read_some([count, CHUNK].min) or raise EOFError, "connection closed"
        digest.update(chunk)
        count -= chunk.bytesize
      end
    end

    def send_line(text)
      send_all("#{text}\n".b)
    end

    def send_all(data)
      offset = 0
      offset += write_some(data.byteslice(offset, data.bytesize - offset), nil) while offset < data.bytesize
    end

    # Writes what the socket takes now of data, waiting for room at most max_wait seconds (nil:
    # as long as the limit allows). Returns the bytes written (0 when no room came).
    def write_some(data, max_wait)
      written = @socket.write_nonblock(data, exception: false)
      return written unless written == :wait_writable

      left = @limit.left
      ready = @socket.wait_writable(max_wait ? [max_wait, left].min : left)
      raise TimeLimit, "no room to write for #{left.round(1)} s" if ready.nil? && max_wait.nil?

      0
    end

    private

    # Up to max bytes, waiting at most limit.left for the first; nil at the end of stream.
    def read_some(max)
      loop do
        chunk = @socket.read_nonblock(max, exception: false)
        return chunk unless chunk == :wait_readable

        left = @limit.left
        @socket.wait_readable(left) or raise TimeLimit, "nothing to read for #{left.round(1)} s"
      end
    end
  end
end
