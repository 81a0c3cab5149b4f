# frozen_string_literal: true

# The two-node set-up shared by the tests and the benchmark (no test framework here): this
# process is one node ("client.test"); peer_node.rb runs the other ("peer.test") in a child
# process. Real UDP endpoints are on 127.0.0.1 only. Every wait is bounded.
require "ntm"
require "rbconfig"
require "timeout"

module NTMTest
  CLIENT_NAME = "client.test"
  CLIENT_VIP4 = "100.64.0.1"
  CLIENT_VIP6 = "fd00:6e74:6d::1"
  PEER_NAME = "peer.test"
  PEER_VIP4 = "100.64.0.2"
  PEER_VIP6 = "fd00:6e74:6d::2"
  # A peer that never answers (its endpoint swallows datagrams): connects to it hang.
  GHOST_NAME = "ghost.test"
  GHOST_VIP4 = "100.64.0.9"
  ECHO_PORT = 7000
  LINE_PORT = 7001
  UDP_PORT = 7002
  SINK_PORT = 7003
  COUNT_PORT = 7004
  NOBODY_PORT = 7999 # nothing listens here on the peer
  STARTUP_TIMEOUT = 30

  # The -I flags that load this ntm (lib and the compiled extension) in a child process.
  def self.load_path_flags
    ext = $LOADED_FEATURES.find { |f| f.end_with?("/ntm/ntm_ext.#{RbConfig::CONFIG['DLEXT']}") }
    dirs = [File.expand_path("../lib", __dir__)]
    dirs << File.dirname(File.dirname(ext)) if ext
    dirs.flat_map { |d| ["-I", d] }
  end

  # Reads one line from io within timeout seconds, or nil.
  def self.read_line(io, timeout)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    line = +""
    loop do
      remaining = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
      return nil if remaining <= 0 || !io.wait_readable(remaining)

      chunk = io.read_nonblock(1, exception: false)
      return nil if chunk.nil?
      next if chunk == :wait_readable

      line << chunk
      return line if chunk == "\n"
    end
  end

  # A UDP endpoint on 127.0.0.1 that swallows datagrams without an answer (not even an ICMP
  # "port unreachable", which would make the node give up on the peer early): the ghost's.
  def self.black_hole
    @black_hole ||= UDPSocket.new.tap { |socket| socket.bind("127.0.0.1", 0) }
    "127.0.0.1:#{@black_hole.addr[1]}"
  end

  # The peer node process, and this process's node configured to reach it.
  class Peer
    attr_reader :endpoint, :pid, :os_sink_port

    # Generates both key pairs and starts peer_node.rb; returns once it printed READY.
    def self.spawn(os_sink: false)
      new.tap { |peer| peer.send(:spawn_process, os_sink) }
    end

    # Starts this process's node with the peer (and the ghost) as static peers.
    def start_client_node(&on_event)
      _, ghost_public = NTM.generate_keypair
      NTM.start(name: CLIENT_NAME, private_key: @client_private,
                virtual_ipv4: CLIENT_VIP4, virtual_ipv6: CLIENT_VIP6,
                listen_ipv4: "127.0.0.1:0", listen_ipv6: "",
                peers: [{ name: PEER_NAME, public_key: @peer_public, endpoint: @endpoint,
                          virtual_ipv4: PEER_VIP4, virtual_ipv6: PEER_VIP6 },
                        { name: GHOST_NAME, public_key: ghost_public,
                          endpoint: NTMTest.black_hole,
                          virtual_ipv4: GHOST_VIP4 }],
                &on_event)
    end

    # Stops this node, closes the peer's input (it stops its node and exits) and reaps it;
    # kills it by PID if it does not exit within 5 seconds.
    def stop
      NTM.stop if NTM.running?
      @stdin.close if @stdin && !@stdin.closed?
      return unless @pid

      begin
        Timeout.timeout(5) { Process.wait(@pid) }
      rescue Timeout::Error
        Process.kill(:KILL, @pid)
        Process.wait(@pid)
      end
      @pid = nil
    rescue Errno::ESRCH, Errno::ECHILD
      @pid = nil
    end

    private

    def spawn_process(os_sink)
      @client_private, client_public = NTM.generate_keypair
      peer_private, @peer_public = NTM.generate_keypair
      stdin_read, @stdin = IO.pipe
      stdout_read, stdout_write = IO.pipe
      script = File.expand_path("peer_node.rb", __dir__)
      args = ["--key", peer_private, "--client-key", client_public]
      args << "--os-sink" if os_sink
      @pid = Process.spawn(RbConfig.ruby, *NTMTest.load_path_flags, script, *args,
                           in: stdin_read, out: stdout_write)
      stdin_read.close
      stdout_write.close
      line = NTMTest.read_line(stdout_read, STARTUP_TIMEOUT)
      unless line&.start_with?("READY")
        raise "peer_node.rb did not report READY within #{STARTUP_TIMEOUT} s (got #{line.inspect})"
      end

      @endpoint = line[/endpoint4=(\S+)/, 1]
      @os_sink_port = line[/os_sink=(\d+)/, 1]&.to_i
      @stdout = stdout_read
    rescue StandardError
      stop
      raise
    end
  end
end
