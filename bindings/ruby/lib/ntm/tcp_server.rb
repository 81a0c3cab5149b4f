# frozen_string_literal: true

# A TCP server on this node's virtual addresses. It is a TCPServer whose descriptor is a real
# listening socket (ntm_bridge_listen): readable when a connection is pending, so IO.select,
# wait_readable and event loops work on it. accept returns NTMTCPSocket.
#
#   server = NTMTCPServer.new(7000)            # both virtual families
#   server = NTMTCPServer.new("100.64.0.1", 7000)
#   loop { client = server.accept; ... }
#
# accept releases the GVL while it waits and can be interrupted (Thread#kill, Timeout, Ctrl-C);
# closing the server from another thread wakes it with IOError, as with TCPServer.
class NTMTCPServer < TCPServer
  class << self
    # new(port) or new(host, port). host nil, "" or "::" listens on every virtual address (IPv4
    # and IPv6); "0.0.0.0" on IPv4 only; otherwise a virtual address or this node's name.
    # port 0 picks a free port (see addr). Raises Errno::EADDRINUSE, Errno::ENETDOWN.
    def new(*args)
      raise ArgumentError, "wrong number of arguments (given #{args.size}, expected 1..2)" unless (1..2).cover?(args.size)

      host, port = args.size == 1 ? [nil, args[0]] : args
      NTM.require_running!
      port = NTM::Address.port(port)
      family, ip = listen_address(host, port)
      fd, local = NTM::Native.tcp_listen(family, ip, port, Socket::SOMAXCONN)
      server = for_fd(fd)
      server.__send__(:ntm_init, local)
      NTM.track_listener(server)
      server
    end

    def open(*args)
      server = new(*args)
      return server unless block_given?

      begin
        yield server
      ensure
        server.close unless server.closed?
      end
    end

    private

    def listen_address(host, port)
      host = host.to_s if host.is_a?(IPAddr)
      case host
      when nil, "", "::", "[::]" then [6, "::"]
      when "0.0.0.0" then [4, "0.0.0.0"]
      else NTM::Address.resolve(host, port, passive: true).first.first(2)
      end
    end
  end

  # Waits for a connection and returns it as an NTMTCPSocket.
  def accept
    loop do
      socket = accept_nonblock(exception: false)
      return socket unless socket == :wait_readable

      wait_readable
    end
  end

  # Returns a pending connection as an NTMTCPSocket, or raises IO::EAGAINWaitReadable
  # (returns :wait_readable with exception: false) when none is pending.
  def accept_nonblock(exception: true)
    fd, peer = ntm_accept_once
    if fd.nil?
      raise IO::EAGAINWaitReadable, "Resource temporarily unavailable - accept(2) would block" if exception

      return :wait_readable
    end
    NTMTCPSocket.__send__(:wrap, fd, local_for(peer), peer)
  end

  # Like accept, but returns the connection's descriptor (an Integer; its virtual addresses are
  # not kept: wrap it with NTMTCPSocket.for_fd only if you do not need addr/peeraddr).
  def sysaccept
    loop do
      fd, _peer = ntm_accept_once
      return fd if fd

      wait_readable
    end
  end

  # Already listening (the backlog is the listener's); accepted for TCPServer compatibility.
  def listen(_backlog)
    0
  end

  def addr(reverse_lookup = nil)
    NTM::Address.ipaddr(ntm_local, NTM::Address.reverse?(reverse_lookup, self))
  end

  def local_address
    NTM::Address.addrinfo(ntm_local, :TCP)
  end

  def getsockname
    NTM::Address.sockaddr(ntm_local)
  end

  def peeraddr(_reverse_lookup = nil)
    raise Errno::ENOTCONN, "getpeername(2)"
  end

  def remote_address
    raise Errno::ENOTCONN, "getpeername(2)"
  end

  def getpeername
    raise Errno::ENOTCONN, "getpeername(2)"
  end

  def inspect
    return "#<#{self.class}:(closed)>" if closed?

    "#<#{self.class}:fd #{fileno}, #{NTM::Address.family_name(ntm_local)}, #{NTM::Address.to_s(ntm_local)}>"
  end

  private

  def ntm_init(local)
    @ntm_local = local.freeze
  end

  def ntm_local
    raise IOError, "closed stream" if closed?

    @ntm_local
  end

  # NTM.stop: the library no longer feeds this listener; waiting threads are woken.
  def ntm_node_stopped
    @ntm_node_stopped = true
  end

  def ntm_accept_once
    raise IOError, "closed stream" if closed?
    raise Errno::ENETDOWN, "accept(2): the ntm node stopped" if @ntm_node_stopped

    NTM::Native.bridge_accept(fileno)
  end

  # The local virtual address of an accepted connection: the listener's, with the node's own
  # address of the peer's family when the listener is on a wildcard address.
  def local_for(peer)
    local = ntm_local
    return local unless NTM::Address.wildcard?(local)

    info = NTM.info
    ip = peer[0] == 6 ? info.virtual_ipv6 : info.virtual_ipv4
    [peer[0], ip || local[1], local[2]]
  end
end
