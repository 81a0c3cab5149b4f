# frozen_string_literal: true

# The server role of the Ruby interop node (tests/interop/README.md): TCP request lines (HELLO,
# ECHO, UPLOAD, DOWNLOAD, QUIT) on both virtual families, a thread per connection, and UDP
# PING -> PONG in its own thread, until SIGTERM, SIGINT or the end of stdin.
require_relative "interop_support"

module Interop
  # SIGTERM and SIGINT turned into a readable pipe (the self-pipe trick: a trap handler may not
  # take locks), installed before the node starts so a stop during login still exits 0.
  class StopSignals
    attr_reader :reader

    def self.install
      new.tap(&:trap_signals)
    end

    def initialize
      @reader, @writer = IO.pipe
    end

    def trap_signals
      %w[TERM INT].each do |name|
        Signal.trap(name) do
          @writer.write_nonblock("SIG#{name}\n", exception: false)
        end
      end
    end

    # The name of the signal that arrived (call once the reader is readable).
    def signal_name
      @reader.read_nonblock(64, exception: false).to_s.lines.first.to_s.strip
    end
  end

  class Server
    CONNECTIONS_GRACE_S = 5.0 # how long shutdown waits for connection threads' SERVED records

    def initialize(config, info, stop_signals)
      @config = config
      @info = info
      @stop_signals = stop_signals
      @connections = []
      @connections_lock = Mutex.new
      @stopping = false
    end

    def run
      listener, udp = open_sockets
      return 1 unless listener

      udp_thread = Thread.new { udp_loop(udp) }
      Interop.record("READY", lang: LANG, fqdn: @info.name, vip4: @info.virtual_ipv4.to_s,
                              vip6: @info.virtual_ipv6.to_s)
      Interop.warn("#{serve_until_stopped(listener)}, stopping")
      # Stopping the node closes the connections, whose threads then print SERVED and end, and
      # the UDP socket, whose thread then sees the end of its stream.
      @stopping = true
      listener.close
      NTM.stop
      udp_thread.join(CONNECTIONS_GRACE_S)
      wait_for_connections
      0
    end

    private

    # The TCP listener and the UDP socket on the configured port, both on the IPv6 wildcard,
    # which in the virtual stack is dual-stack (like Linux without IPV6_V6ONLY, which the Ruby
    # binding cannot set): one socket each serves both families. nil after a message when one
    # cannot be had.
    def open_sockets
      port = @config.port
      listener = NTMTCPServer.new(port)
      udp = NTMUDPSocket.new(:INET6).tap { |socket| socket.bind("::", port) }
      [listener, udp]
    rescue SystemCallError, IOError, SocketError => e
      Interop.warn("cannot listen on port #{port}: #{e.message}")
      [nil, nil]
    end

    # Accepts connections until a stop signal or the end of stdin; returns why it stopped.
    def serve_until_stopped(listener)
      watched = [listener, @stop_signals.reader, $stdin]
      loop do
        ready, = IO.select(watched)
        ready.each do |io|
          return @stop_signals.signal_name if io == @stop_signals.reader
          return "end of stdin" if io == $stdin && stdin_ended?

          accept_one(listener) if io == listener
        end
      end
    end

    def stdin_ended?
      $stdin.read_nonblock(4096, exception: false).nil?
    rescue IOError, SystemCallError
      true # an unreadable stdin ends like a closed one
    end

    def accept_one(listener)
      socket = listener.accept_nonblock(exception: false)
      return if socket == :wait_readable

      @connections_lock.synchronize do
        @connections << Thread.new(socket) { |s| serve(s) }
      end
    rescue SystemCallError, IOError => e
      Interop.warn("accept: #{e.message}")
    end

    # Serves one connection's requests, then prints SERVED.
    def serve(socket)
      peer = socket.peeraddr(:numeric)[3]
      counts = { requests: 0, bytes_in: 0, bytes_out: 0 }
      line = ""
      begin
        io = LineStream.new(socket, IdleLimit)
        random = Random.new
        while (line = io.read_line)
          counts[:requests] += 1
          break unless answer(io, line, counts, random)
        end
      rescue StandardError => e
        Interop.warn("connection from #{peer}, at '#{line.to_s[0, 40]}': #{e.class}: #{e.message}") unless @stopping
      ensure
        socket.close unless socket.closed?
        Interop.record("SERVED", peer: peer, **counts)
        @connections_lock.synchronize { @connections.delete(Thread.current) }
      end
    end

    # Answers one request line; false when the connection is to be closed.
    def answer(io, line, counts, random)
      case line
      when /\AHELLO / then io.send_line("HELLO #{LANG}")
      when /\AECHO / then io.send_line(line.byteslice(5, line.bytesize))
      when /\AUPLOAD (\d+)\z/
        count = Integer(Regexp.last_match(1), 10)
        sha = Interop.sha256
        io.read_hashed(count, sha)
        counts[:bytes_in] += count
        io.send_line("SHA256 #{sha.hexdigest}")
      when /\ADOWNLOAD (\d+)\z/
        counts[:bytes_out] += download(io, Integer(Regexp.last_match(1), 10), random)
      when "QUIT"
        io.send_line("BYE")
        return false
      else
        io.send_line("ERROR unknown-request")
        return false
      end
      true
    end

    # Sends count random bytes, then their SHA256 line; returns count.
    def download(io, count, random)
      sha = Interop.sha256
      left = count
      while left.positive?
        chunk = random.bytes([left, CHUNK].min)
        sha.update(chunk)
        io.send_all(chunk)
        left -= chunk.bytesize
      end
      io.send_line("SHA256 #{sha.hexdigest}")
      count
    end

    # Answers PING datagrams on both families until the node stops.
    def udp_loop(socket)
      answer_ping(socket) while socket.wait_readable && !@stopping
    rescue IOError, SystemCallError
      nil # the node stopped: shutting down
    end

    def answer_ping(socket)
      data, (_family, port, _host, ip) = socket.recvfrom_nonblock(2048, exception: false)
      return unless data.is_a?(String) && data.start_with?("PING ")

      socket.send("PONG#{data.byteslice(4, data.bytesize)}", 0, ip, port)
    rescue SystemCallError => e
      raise if @stopping || socket.closed?

      Interop.warn("UDP reply: #{e.message}")
    end

    # Waits (bounded) until every connection thread printed its SERVED record.
    def wait_for_connections
      until_time = Interop.now + CONNECTIONS_GRACE_S
      threads = @connections_lock.synchronize { @connections.dup }
      threads.each { |t| t.join([until_time - Interop.now, 0].max) }
      left = @connections_lock.synchronize { @connections.size }
      Interop.warn("#{left} connection(s) still open at exit") if left.positive?
    end
  end
end
