# frozen_string_literal: true

# A TCP connection over ntmobile's virtual network. It is a TCPSocket: its descriptor is a real
# OS socket that libntm pumps to and from the virtual connection (ntm_bridge_socket), so every
# IO method is Ruby's own - gets, puts, read, write, readpartial, each_line, read_nonblock,
# write_nonblock, wait_readable, IO.select, close_write, close - and it works with Fibers'
# schedulers and anything else that takes an IO. addr, peeraddr, local_address,
# remote_address, getsockname and getpeername report the virtual addresses.
#
#   sock = NTMTCPSocket.new("bob.example", 7000)      # or "100.64.0.2", "fd00:6e74:6d::2"
#   sock.puts "hello"; sock.gets
#
# Connecting releases the GVL and can be interrupted (Thread#kill, Timeout, Ctrl-C).
class NTMTCPSocket < TCPSocket
  include NTM::SocketAddresses

  NTM_SOCKET_TYPE = :TCP
  class << self
    # Connects to host (a node name or a virtual address; nil for this node) and port. Like
    # TCPSocket.new:
    # local_host/local_port bind the local end; connect_timeout: (seconds) raises
    # Errno::ETIMEDOUT. Raises SocketError for an unknown name, Errno::ECONNREFUSED when nothing
    # listens, Errno::EHOSTUNREACH when no peer owns the address, Errno::ENETDOWN when the node
    # is not running.
    def new(host, port, local_host = nil, local_port = nil, connect_timeout: nil, resolv_timeout: nil)
      _ = resolv_timeout # names resolve locally from the node's peer table: nothing to wait for
      NTM.require_running!
      host = NTM.info.name if host.nil? || host == "" # like "localhost": this node
      port = NTM::Address.port(port)
      local_port = NTM::Address.port(local_port) unless local_port.nil?
      deadline = connect_timeout && (clock + Float(connect_timeout))
      description = "#{host.to_s.inspect} port #{port}"
      error = nil
      NTM::Address.resolve(host, port).each do |family, ip, _port|
        local_ip = local_ip_for(local_host, family)
        next if local_host && local_ip.nil?

        begin
          fd, local, peer = connect_one(family, ip, port, local_ip, local_port, deadline, description)
          return wrap(fd, local, peer)
        rescue Errno::ECONNREFUSED, Errno::EHOSTUNREACH, Errno::ENETUNREACH, Errno::EADDRNOTAVAIL => e
          error = e
        end
      end
      raise error || SocketError.new("getaddrinfo(#{host.to_s.inspect}): no address to connect to")
    end

    # TCPSocket.open: new, and with a block, yields the socket and closes it afterwards.
    def open(*args, **keywords)
      socket = new(*args, **keywords)
      return socket unless block_given?

      begin
        yield socket
      ensure
        socket.close unless socket.closed?
      end
    end

    private

    def clock
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def local_ip_for(local_host, family)
      return nil if local_host.nil?

      NTM::Address.resolve(local_host, 0, family: family, passive: true).first&.at(1)
    rescue SocketError
      nil
    end

    # One connect attempt. The virtual connect runs on a native thread; this thread waits for it
    # like for any IO (GVL released, interruptible). Returns [fd, local, peer] or raises.
    def connect_one(family, ip, port, local_ip, local_port, deadline, description)
      request = NTM::Native.connect_start(family, ip, port, local_ip, local_port)
      begin
        waiter = IO.for_fd(request.wait_fd, autoclose: false)
        until request.done?
          remaining = deadline && (deadline - clock)
          if remaining && remaining <= 0 || !waiter.wait_readable(remaining)
            raise Errno::ETIMEDOUT, "connect(2) for #{description} (connect_timeout)" unless request.done?
          end
        end
        request.take(description)
      ensure
        request.abandon # closes the connection if it was not taken (an exception, a kill)
      end
    end

    # An NTMTCPSocket over a bridged OS descriptor (also used by NTMTCPServer#accept).
    def wrap(fd, local, peer)
      socket = for_fd(fd)
      socket.__send__(:ntm_init, local, peer)
      socket
    end
  end

  # TCP_NODELAY, SO_KEEPALIVE and the keepalive timers (TCP_KEEPIDLE, TCP_KEEPINTVL,
  # TCP_KEEPCNT) apply to the virtual connection (ntm_bridge_setsockopt), as in the Python and
  # Java bindings; a connection starts with TCP_NODELAY on. Other socket-level options apply to
  # the OS descriptor; other TCP options raise Errno::ENOPROTOOPT.
  def setsockopt(level, optname = nil, optval = nil)
    if level.is_a?(Socket::Option)
      option = level
      level = option.level
      optname = option.optname
      optval = option.data
    end
    level_number = NTM::TCPOptions.level(level)
    name_number = NTM::TCPOptions.optname(level_number, optname)
    if NTM::TCPOptions.connection?(level_number, name_number)
      NTM::Native.bridge_setsockopt(fileno, level_number, name_number, NTM::TCPOptions.int(optval))
      return 0
    end
    raise Errno::ENOPROTOOPT, "setsockopt(2)" if level_number == Socket::IPPROTO_TCP

    option ? super(option) : super(level, optname, optval)
  end

  def getsockopt(level, optname)
    level_number = NTM::TCPOptions.level(level)
    name_number = NTM::TCPOptions.optname(level_number, optname)
    if NTM::TCPOptions.connection?(level_number, name_number)
      value = NTM::Native.bridge_getsockopt(fileno, level_number, name_number)
      return Socket::Option.int(ntm_local[0] == 6 ? :INET6 : :INET, level_number, name_number, value)
    end
    raise Errno::ENOPROTOOPT, "getsockopt(2)" if level_number == Socket::IPPROTO_TCP

    super
  end

  def inspect
    return "#<#{self.class}:(closed)>" if closed?

    "#<#{self.class}:fd #{fileno}, #{NTM::Address.family_name(ntm_local)}, " \
      "#{NTM::Address.to_s(ntm_local)} -> #{NTM::Address.to_s(ntm_peer)}>"
  end

  private

  def ntm_init(local, peer)
    @ntm_local = local.freeze
    @ntm_peer = peer.freeze
  end

  def ntm_local
    raise IOError, "closed stream" if closed?

    @ntm_local or raise SocketError, "not an ntm connection (made with for_fd?)"
  end

  def ntm_peer
    raise IOError, "closed stream" if closed?

    @ntm_peer or raise SocketError, "not an ntm connection (made with for_fd?)"
  end
end
