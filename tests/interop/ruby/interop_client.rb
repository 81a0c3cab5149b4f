# frozen_string_literal: true

# The client role of the Ruby interop node (tests/interop/README.md): for each address family,
# resolve the peer by FQDN, then HELLO, three ECHOs, UPLOAD (paced with --rate-mbps, printing
# PROGRESS), DOWNLOAD and QUIT over TCP and PING/PONG over UDP, printing RESULT (or FAIL at the
# first failure); then one TUNNEL record per tunnel and DONE.
require_relative "interop_support"

module Interop
  class Client
    PING_RETRY_S = 0.2 # each PING is sent again after this long without its PONG...
    PING_TRIES = 25 # ...at most this many times
    PROGRESS_EVERY_S = 0.05 # a paced upload prints PROGRESS this often (spec: <= 100 ms; the
    #                         margin absorbs scheduling delays on a busy host)
    PACE_SLICE_S = 0.02 # a paced upload writes about this much time's worth of bytes at once
    HARD_STOP_GRACE_S = 5.0 # after the deadline, how long a stuck run may take to notice it

    def initialize(config, deadline_at)
      @config = config
      @deadline_at = deadline_at
      @deadline = Deadline.new(deadline_at)
      @over = false # the run printed FAIL or DONE: the watchdog no longer acts
      @over_lock = Mutex.new
    end

    # Returns the exit status.
    def run
      start_watchdog
      @config.families.each do |family|
        return 1 unless run_family(family)
      end
      NTM.tunnels.each do |t|
        Interop.record("TUNNEL", peer: t.peer_name, vip4: t.virtual_ipv4.to_s,
                                 vip6: t.virtual_ipv6.to_s, path: t.path, endpoint: t.endpoint.to_s,
                                 bytes_sent: t.bytes_sent, bytes_received: t.bytes_received)
      end
      return 1 unless claim_end # the watchdog gave up on this run meanwhile

      Interop.record("DONE", lang: LANG)
      0
    end

    private

    # True for the first caller only: FAIL or DONE is printed once, by the main thread or by the
    # watchdog.
    def claim_end
      @over_lock.synchronize do
        return false if @over

        @over = true
      end
    end

    # Every wait below is bounded by the deadline; this catches a run stuck elsewhere (inside a
    # library call): shortly after the deadline it prints the FAIL itself and ends the process.
    def start_watchdog
      Thread.new do
        sleep([@deadline_at + HARD_STOP_GRACE_S - Interop.now, 0].max) # a timer, not a poll
        if claim_end
          Interop.record("FAIL", family: @family, step: @step, reason: "timeout")
          exit!(1)
        end
      end
    end

    # All steps for one family; prints RESULT or FAIL and returns whether it passed.
    def run_family(family)
      @family = family
      started = Interop.now
      @step = "resolve"
      ip = resolve
      @step = "connect"
      socket = NTMTCPSocket.new(ip, @config.port, connect_timeout: @deadline.left)
      peer_lang = begin
        line_steps(LineStream.new(socket, @deadline))
      ensure
        socket.close unless socket.closed?
      end
      @step = "udp"
      pings(ip)
      Interop.record("RESULT", family: family, peer_lang: peer_lang, line: "ok", upload: "ok",
                               download: "ok", udp: "#{@config.udp_count}/#{@config.udp_count}",
                               seconds: format("%.3f", Interop.now - started))
      true
    rescue StandardError => e
      if claim_end
        reason = @deadline.passed? ? "timeout" : Interop.reason(e)
        Interop.record("FAIL", family: family, step: @step, reason: reason)
        Interop.warn("family #{family}, step #{@step}: #{e.class}: #{e.message}")
      end
      false
    end

    # HELLO, ECHO x3, UPLOAD, DOWNLOAD and QUIT on one connection; returns the server's language.
    def line_steps(io)
      @step = "hello"
      peer_lang = hello(io)
      @step = "echo"
      echo_three(io)
      @step = "upload"
      upload(io)
      @step = "download"
      download(io)
      @step = "quit"
      io.send_line("QUIT")
      expect(io.expect_line == "BYE", "unexpected-reply")
      peer_lang
    end

    def expect(condition, reason)
      raise ProtocolFailure, reason unless condition
    end

    # The peer's virtual address of the current family, through the node's resolver.
    def resolve
      addresses = NTM.getaddrinfo(@config.peer, @config.port)
      match = addresses.find { |a| @family == 6 ? a.ipv6? : a.ipv4? }
      raise ProtocolFailure, "no-ipv#{@family}-address" unless match

      match.ip_address
    end

    def hello(io)
      io.send_line("HELLO #{LANG}")
      reply = io.expect_line
      expect(reply.match?(/\AHELLO [^ ]+\z/), "unexpected-reply")
      reply.byteslice(6, reply.bytesize)
    end

    def echo_three(io)
      (1..3).each do |i|
        text = "#{LANG}-#{@family}-#{i}"
        io.send_line("ECHO #{text}")
        expect(io.expect_line == text.b, "wrong-echo")
      end
    end

    # Reads "SHA256 <hex>" and compares it with what went through sha.
    def expect_digest(io, sha)
      reply = io.expect_line
      expect(reply.start_with?("SHA256 "), "unexpected-reply")
      expect(reply == "SHA256 #{sha.hexdigest}".b, "sha256-mismatch")
    end

    def upload(io)
      total = @config.bytes
      io.send_line("UPLOAD #{total}")
      sha = Interop.sha256
      random = Random.new
      @sent = 0
      @upload_started = Interop.now
      @last_progress = @upload_started - PROGRESS_EVERY_S # a first PROGRESS at once
      while @sent < total
        chunk = random.bytes([CHUNK, total - @sent].min)
        sha.update(chunk)
        if @config.rate_mbps
          send_paced(io, chunk)
        else
          io.send_all(chunk)
          @sent += chunk.bytesize
        end
      end
      progress if @config.rate_mbps # the final count
      expect_digest(io, sha)
    end

    # Sends chunk at no more than --rate-mbps over the whole upload, printing PROGRESS as it
    # goes, also while the connection takes no data.
    def send_paced(io, chunk)
      bytes_per_s = @config.rate_mbps * 1e6 / 8
      # Writes of at least a pacing slice's worth (or the chunk's rest): the rate holds without a
      # flood of tiny writes at low rates.
      slice = [(bytes_per_s * PACE_SLICE_S).floor, 1].max
      offset = 0
      while offset < chunk.bytesize
        now = Interop.now
        progress if now - @last_progress >= PROGRESS_EVERY_S
        quantum = [slice, chunk.bytesize - offset].min
        allowed = ((now - @upload_started) * bytes_per_s).floor - @sent
        if allowed < quantum
          @deadline.left # raises at the deadline
          sleep(((quantum - allowed) / bytes_per_s).clamp(0.0005, PACE_SLICE_S)) # until it is
          next
        end
        written = io.write_some(chunk.byteslice(offset, [allowed, chunk.bytesize - offset].min),
                                PACE_SLICE_S)
        offset += written
        @sent += written
      end
    end

    def progress
      Interop.record("PROGRESS", family: @family, sent: @sent)
      @last_progress = Interop.now
    end

    def download(io)
      io.send_line("DOWNLOAD #{@config.bytes}")
      sha = Interop.sha256
      io.read_hashed(@config.bytes, sha)
      expect_digest(io, sha)
    end

    # --udp-count PINGs, each retried until its PONG arrives.
    def pings(ip)
      socket = NTMUDPSocket.new(@family == 6 ? :INET6 : :INET)
      (1..@config.udp_count).each do |i|
        tag = "#{LANG}-#{@family}-#{i}"
        expect(ping(socket, ip, "PING #{tag}", "PONG #{tag}".b), "no-pong-for-ping-#{i}")
      end
    ensure
      socket&.close
    end

    # Sends the request datagram until the reply comes back; whether it did within PING_TRIES.
    def ping(socket, ip, request, reply)
      PING_TRIES.times do
        @deadline.left # raises at the deadline
        socket.send(request, 0, ip, @config.port)
        retry_at = Interop.now + PING_RETRY_S
        loop do
          wait = [retry_at - Interop.now, @deadline.left].min
          break if wait <= 0 || !socket.wait_readable(wait)

          data, = socket.recvfrom_nonblock(2048, exception: false)
          return true if data == reply # anything else (a late PONG of an earlier try) is skipped
        end
      end
      false
    end
  end
end
