# frozen_string_literal: true

module NTM
  # A failure of a node call (start, stop, info...). #code is a Symbol: :einval, :estate,
  # :enomem, :eio, :enotfound, :eversion, :ebufs, :eunsupported, :eauth (the Account Server
  # refused the credentials), :eunreachable (a server did not answer) or :error.
  # Each code has its subclass (rescue NTM::Error for all): NTM::InvalidArgumentError (:einval),
  # NTM::VersionError (:eversion), NTM::StateError (:estate), NTM::NodeIOError (:eio),
  # NTM::NotFoundError (:enotfound), NTM::UnsupportedError (:eunsupported),
  # NTM::AuthenticationError (:eauth), NTM::ServerUnreachableError (:eunreachable); :enomem,
  # :ebufs and :error are NTM::Error itself. docs/errors.md has the table for every binding.
  # Socket calls raise Ruby's own exceptions instead (Errno::ECONNREFUSED, SocketError, IOError).
  class Error
    attr_reader :code
  end

  # One event from the library, delivered to the block given to NTM.start on a Ruby thread.
  # type: :started, :stopping, :tunnel_up, :tunnel_down, :path_changed, :peer_revoked, and in
  # control-plane mode :registered, :revoked, :server_unreachable; path: :none, :direct, :relay.
  Event = Struct.new(:type, :peer_name, :peer_node_id, :endpoint, :path, :message,
                     keyword_init: true)

  # This node's identity and addresses (NTM.info).
  NodeInfo = Struct.new(:node_id, :name, :public_key, :virtual_ipv4, :virtual_ipv6,
                        :endpoint_ipv4, :endpoint_ipv6, :mtu, keyword_init: true)

  # One row of the tunnel table (NTM.tunnels). state: :idle, :handshake or :up; rtt_us: the
  # smoothed round-trip time in microseconds (-1 while unknown); path_mtu: the largest inner
  # packet known to reach the peer (0 while not measured).
  Tunnel = Struct.new(:peer_name, :peer_node_id, :virtual_ipv4, :virtual_ipv6, :state, :path,
                      :endpoint, :local_path_id, :bytes_sent, :bytes_received, :packets_sent,
                      :packets_received, :last_activity_ms, :session_age_ms, :rtt_us, :path_mtu,
                      keyword_init: true)

  # Node-wide counters since NTM.start (NTM.stats); tcp_connections and memory_used are gauges.
  Stats = Struct.new(:packets_sent, :packets_received, :bytes_sent, :bytes_received,
                     :dropped_malformed, :dropped_unknown_path, :dropped_auth, :dropped_replay,
                     :dropped_no_tunnel, :handshakes_completed, :handshakes_failed,
                     :dropped_spoofed, :dropped_policy, :dropped_limit, :handshakes_initiated,
                     :logins, :registrations, :network_changes, :resolves_sent,
                     :directions_received, :dc_keepalives_sent, :dc_keepalives_missed,
                     :relay_fallbacks, :direct_upgrades, :tcp_connections, :memory_used,
                     keyword_init: true)

  CIPHERS = {
    aes_256_gcm: Native::CIPHER_AES_256_GCM,
    chacha20_poly1305: Native::CIPHER_CHACHA20_POLY1305
  }.freeze
  LOG_LEVELS = {
    off: Native::LOG_OFF, error: Native::LOG_ERROR, warn: Native::LOG_WARN,
    info: Native::LOG_INFO, debug: Native::LOG_DEBUG
  }.freeze
  EVENT_TYPES = {
    Native::EVENT_STARTED => :started, Native::EVENT_STOPPING => :stopping,
    Native::EVENT_TUNNEL_UP => :tunnel_up, Native::EVENT_TUNNEL_DOWN => :tunnel_down,
    Native::EVENT_PATH_CHANGED => :path_changed, Native::EVENT_REGISTERED => :registered,
    Native::EVENT_PEER_REVOKED => :peer_revoked, Native::EVENT_REVOKED => :revoked,
    Native::EVENT_SERVER_UNREACHABLE => :server_unreachable
  }.freeze
  PATHS = { Native::PATH_NONE => :none, Native::PATH_DIRECT => :direct,
            Native::PATH_RELAY => :relay }.freeze
  TUNNEL_STATES = { Native::TUNNEL_IDLE => :idle, Native::TUNNEL_HANDSHAKE => :handshake,
                    Native::TUNNEL_UP => :up }.freeze

  # The options NTM.start understands, as in ntm_options (ntm.h); unknown keys are an
  # ArgumentError.
  STATIC_OPTIONS = %i[name private_key virtual_ipv4 virtual_ipv6 listen_ipv4 listen_ipv6 peers
                      cipher mtu idle_timeout log_level].freeze
  CONTROL_PLANE_OPTIONS = %i[server server_certificate account password state_dir
                             direct_timeout].freeze
  # Version 3: limits, timers and the local control API.
  LIMIT_OPTIONS = %i[memory_limit max_sockets max_connections_per_peer max_socket_buffer
                     keepalive_interval start_timeout control_socket].freeze
  START_OPTIONS = (STATIC_OPTIONS + CONTROL_PLANE_OPTIONS + LIMIT_OPTIONS).freeze
  # The keys of one static peer (ntm_static_peer).
  PEER_OPTIONS = %i[name public_key endpoint virtual_ipv4 virtual_ipv6].freeze

  @lock = Mutex.new
  @listeners = ObjectSpace::WeakMap.new # open NTMTCPServers, woken by stop
  @event_thread = nil
  @names = {}
  @info = nil

  class << self
    # The loaded libntm's version, "MAJOR.MINOR.PATCH".
    def library_version
      Native.version
    end

    # A new X25519 key pair as base64 text: [private_key, public_key].
    def generate_keypair
      Native.keypair_generate
    end

    # The public key that belongs to a base64 private key.
    def public_key(private_key)
      Native.public_key(String(private_key))
    end

    # Starts this process's node and returns its NodeInfo. Options (as ntm_options in ntm.h):
    #   name:          this node's name (FQDN), required
    #   private_key:   base64 X25519 private key, required
    #   virtual_ipv4:, virtual_ipv6:  this node's virtual addresses (at least one)
    #   listen_ipv4:, listen_ipv6:    real UDP addresses to bind ("127.0.0.1:0", "[::1]:4500");
    #                  default any address and port; "" disables the family
    #   peers:         static peers: [{ name:, public_key:, endpoint: ("host:port" or nil),
    #                  virtual_ipv4:, virtual_ipv6: }, ...]
    #   cipher:        :aes_256_gcm (default) or :chacha20_poly1305
    #   mtu:           virtual MTU (default 1420)
    #   idle_timeout:  seconds before an idle tunnel is dropped (default 180)
    #   log_level:     :off, :error, :warn (default), :info or :debug (to stderr)
    # Control-plane mode (name and virtual addresses then come from the servers):
    #   server:        the Account Server, "192.0.2.1:7800"
    #   server_certificate: its pinned TLS certificate, PEM text or a file path
    #   account:, password:  the account to log in with (or a one-time enrollment token)
    #   state_dir:     where the node keeps its key across restarts (optional)
    #   direct_timeout: seconds hole punching may take before relaying (default 1)
    #   start_timeout: seconds start keeps retrying a busy AS or DC (default 30)
    # Limits and timers (0 or absent: the library's default):
    #   memory_limit:  the node's memory budget in bytes (default 256 MiB)
    #   max_sockets:   size of the socket table (default 16384)
    #   max_connections_per_peer: TCP connections one peer may hold open (default 1024)
    #   max_socket_buffer: cap of a TCP socket's auto-tuned buffers in bytes (default 16 MiB)
    #   keepalive_interval: seconds between keepalives on idle tunnels (default 25)
    #   control_socket: Unix socket path of the local control API (`ntm status`)
    # The block, if given, receives each NTM::Event on a Ruby thread NTM.start creates (never on
    # the library's own thread). Raises NTM::Error (code :einval names the bad option, :estate if
    # already running, :eio if a UDP address cannot be bound), ArgumentError for unknown options.
    def start(options = nil, **keywords, &on_event)
      options = (options || {}).merge(keywords)
      native = native_options(options)
      @lock.synchronize do
        event_fd = Native.start(native)
        @names = name_table(native)
        @info = nil
        io = IO.for_fd(event_fd, autoclose: true)
        @event_thread = Thread.new { event_loop(io, on_event) }
        @event_thread.name = "ntm-events" if @event_thread.respond_to?(:name=)
        install_at_exit
      end
      info
    end

    # Stops the node: connections get up to about 2 seconds to deliver what the application
    # already wrote, then every NTM socket is closed. Waits for the event thread to deliver the
    # last event (:stopping). Raises NTM::Error (:estate) if the node is not running.
    def stop
      thread = nil
      @lock.synchronize do
        Native.stop
        wake_listeners
        thread = @event_thread
        @event_thread = nil
        @info = nil
      end
      thread.join(10) if thread && thread != Thread.current
      nil
    end

    def running?
      Native.running?
    end

    # This node's NodeInfo (name, NodeID, public key, virtual addresses, bound UDP endpoints).
    def info
      @info ||= NodeInfo.new(**Native.node_info)
    end

    # A snapshot of the tunnel table: an Array of NTM::Tunnel.
    def tunnels
      Native.tunnels.map do |row|
        row[:state] = TUNNEL_STATES.fetch(row[:state], row[:state])
        row[:path] = PATHS.fetch(row[:path], row[:path])
        Tunnel.new(**row)
      end
    end

    # The node's counters (NTM::Stats).
    def stats
      Stats.new(**Native.stats)
    end

    # Tells the node that the host's network changed (a new Wi-Fi or mobile network, an address
    # came or went), for applications that hear it first; on Linux the node also watches the
    # host's addresses itself. The node sends an authenticated path update to each peer from its
    # new address, registers again with the DC and makes TCP connections retransmit at once;
    # connections on virtual addresses survive. Returns at once; raises NTM::Error when no node
    # is running.
    def notify_network_change
      Native.notify_network_change
    end

    # Resolves a node name (or numeric virtual address) to virtual addresses, like
    # Addrinfo.getaddrinfo: an Array of Addrinfo. Raises SocketError for an unknown name.
    def getaddrinfo(host, port = 0, family = nil, socktype = :STREAM)
      require_running!
      fam = family.nil? ? 0 : Address.family_number(family)
      Address.resolve(host, Address.port(port), family: fam).map do |entry|
        Address.addrinfo(entry, socktype == :DGRAM || socktype == Socket::SOCK_DGRAM ? :UDP : :TCP)
      end
    end

    # The name of the node that owns a virtual address (this node or a static peer), or nil.
    def name_of(ip)
      @names[Address.canonical_ip(ip.to_s)]
    end

    # Called by NTMTCPServer.new: NTM.stop wakes threads blocked in its accept.
    def track_listener(server)
      @listeners[server] = true
    end

    # Raises Errno::ENETDOWN unless the node runs (socket classes call this first).
    def require_running!
      return if Native.running?

      raise Errno::ENETDOWN, "ntm node is not running (call NTM.start first)"
    end

    private

    def native_options(options)
      unknown = options.keys - START_OPTIONS
      unless unknown.empty?
        raise ArgumentError, "unknown NTM.start option(s) #{unknown.map(&:inspect).join(', ')} " \
                             "(known: #{START_OPTIONS.join(', ')})"
      end
      native = {}
      %i[name private_key virtual_ipv4 virtual_ipv6 listen_ipv4 listen_ipv6 server
         server_certificate account password state_dir control_socket].each do |key|
        native[key] = optional_string(options[key], key)
      end
      native[:peers] = Array(options[:peers]).each_with_index.map { |peer, i| native_peer(peer, i) }
      native[:cipher] = lookup(CIPHERS, options[:cipher], :cipher) unless options[:cipher].nil?
      native[:log_level] = lookup(LOG_LEVELS, options[:log_level], :log_level) unless options[:log_level].nil?
      native[:mtu] = Integer(options[:mtu]) unless options[:mtu].nil?
      native[:idle_timeout_ms] = (Float(options[:idle_timeout]) * 1000).round unless options[:idle_timeout].nil?
      native[:direct_timeout_ms] = (Float(options[:direct_timeout]) * 1000).round unless options[:direct_timeout].nil?
      native[:keepalive_interval_ms] = (Float(options[:keepalive_interval]) * 1000).round unless options[:keepalive_interval].nil?
      native[:start_timeout_ms] = (Float(options[:start_timeout]) * 1000).round unless options[:start_timeout].nil?
      %i[memory_limit max_sockets max_connections_per_peer max_socket_buffer].each do |key|
        native[key] = non_negative(options[key], key) unless options[key].nil?
      end
      native
    end

    def native_peer(peer, index)
      raise TypeError, "peers[#{index}] must be a Hash, not #{peer.class}" unless peer.is_a?(Hash)

      peer = peer.transform_keys(&:to_sym)
      unknown = peer.keys - PEER_OPTIONS
      raise ArgumentError, "unknown option(s) #{unknown.map(&:inspect).join(', ')} in peers[#{index}]" unless unknown.empty?

      PEER_OPTIONS.to_h do |key|
        value = optional_string(peer[key], "peers[#{index}][:#{key}]")
        value = nil if key == :endpoint && value&.empty?
        [key, value]
      end
    end

    def non_negative(value, what)
      number = Integer(value)
      raise ArgumentError, "#{what} must not be negative (0 for the default)" if number.negative?

      number
    end

    def optional_string(value, what)
      return nil if value.nil?
      return value.to_s if value.is_a?(String) || value.is_a?(Symbol) || value.is_a?(IPAddr)

      raise TypeError, "#{what} must be a String, not #{value.class}"
    end

    def lookup(table, value, what)
      return value if value.is_a?(Integer) && table.value?(value)

      table.fetch(value.to_s.downcase.to_sym) do
        raise ArgumentError, "#{what} must be one of #{table.keys.map(&:inspect).join(', ')}, not #{value.inspect}"
      end
    end

    # Threads blocked in NTMTCPServer#accept wake up and raise Errno::ENETDOWN.
    def wake_listeners
      @listeners.each_key do |server|
        next if server.closed?

        server.__send__(:ntm_node_stopped)
        Native.shutdown_listener(server.fileno)
      rescue IOError
        nil # closed meanwhile
      end
      @listeners = ObjectSpace::WeakMap.new
    end

    # Stops the node at exit. Registered at the first start rather than at require, so a test
    # runner that runs its tests from at_exit (minitest/autorun) is done before the node stops.
    def install_at_exit
      return if @at_exit_installed

      @at_exit_installed = true
      at_exit do
        # Give connections the application closed their last bytes before the process ends.
        NTM.stop if NTM.running?
      rescue NTM::Error
        nil
      end
    end

    # Virtual address -> node name, for addr(true)/peeraddr(:hostname).
    def name_table(native)
      table = {}
      ([native] + native[:peers]).each do |node|
        next if node[:name].nil?

        [node[:virtual_ipv4], node[:virtual_ipv6]].compact.each do |ip|
          table[Address.canonical_ip(ip)] = node[:name]
        end
      end
      table
    end

    # Runs on the event thread: waits on the event pipe, drains the queue, calls the block.
    def event_loop(io, handler)
      loop do
        chunk = io.read_nonblock(4096, exception: false)
        deliver_events(handler)
        break if chunk.nil? # NTM.stop closed the pipe after the last event

        io.wait_readable if chunk == :wait_readable
      end
    ensure
      io.close unless io.closed?
    end

    def deliver_events(handler)
      Native.drain_events.each do |type, path, peer_name, peer_node_id, endpoint, message|
        next unless handler

        event = Event.new(type: EVENT_TYPES.fetch(type, type), path: PATHS.fetch(path, path),
                          peer_name: peer_name, peer_node_id: peer_node_id,
                          endpoint: endpoint, message: message)
        begin
          handler.call(event)
        rescue StandardError => e
          warn "ntm: the NTM.start event block raised #{e.class}: #{e.message}"
        end
      end
    end
  end
end
