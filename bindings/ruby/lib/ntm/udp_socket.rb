# frozen_string_literal: true

# A UDP socket on this node's virtual addresses. It is a UDPSocket whose descriptor is a real OS
# socket that libntm's datagram bridge fills with one message per datagram, so readability means
# "a datagram is waiting": IO.select, wait_readable, recvfrom_nonblock and event loops work.
# Sending calls the virtual stack directly (GVL released).
#
#   u = NTMUDPSocket.new                      # Socket::AF_INET6 for IPv6
#   u.bind("0.0.0.0", 9000)                   # or this node's name / virtual address
#   u.send("ping", 0, "bob.example", 9000)
#   data, (family, port, host, ip) = u.recvfrom(1500)
#
# Datagram methods are supported (bind, connect, send, recv, recvfrom, recv_nonblock,
# recvfrom_nonblock, and read/write-style sysread, readpartial, read_nonblock, write, syswrite,
# write_nonblock which read or write one datagram, as on a connected UDPSocket). Buffered
# stream readers (gets, read, each_line, getc...) raise IOError: datagrams are not lines.
# IO.select can wait for readability; writability is always reported (sends never block).
class NTMUDPSocket < UDPSocket
  HEADER_SIZE = NTM::Native::Datagram::HEADER_SIZE
  RECV = BasicSocket.instance_method(:recv)
  RECV_NONBLOCK = BasicSocket.instance_method(:recv_nonblock)
  private_constant :HEADER_SIZE, :RECV, :RECV_NONBLOCK
  NTM_SOCKET_TYPE = :UDP
  include NTM::SocketAddresses

  class << self
    # new(family = Socket::AF_INET): Socket::AF_INET6 (or :INET6) for IPv6.
    def new(family = Socket::AF_INET)
      NTM.require_running!
      handle = NTM::Native::Datagram.new(NTM::Address.family_number(family))
      begin
        socket = for_fd(handle.app_fd)
      rescue StandardError
        handle.close
        raise
      end
      socket.__send__(:ntm_init, handle)
      socket
    end

    def open(*args)
      socket = new(*args)
      return socket unless block_given?

      begin
        yield socket
      ensure
        socket.close unless socket.closed?
      end
    end
  end

  # Binds to a local virtual address: nil, "" or the wildcard ("0.0.0.0" / "::") for all of this
  # node's addresses of the socket's family, or a virtual address or this node's name.
  def bind(host, port)
    @ntm.bind(local_ip(host), NTM::Address.port(port))
  end

  # Sets the default destination and accepts datagrams only from it.
  def connect(host, port)
    @ntm.connect(remote_ip(host), NTM::Address.port(port))
  end

  # send(mesg, flags) on a connected socket, send(mesg, flags, host, port), or
  # send(mesg, flags, sockaddr_or_addrinfo). Returns the bytes sent.
  def send(mesg, flags = 0, *destination)
    _ = flags
    check_open
    case destination.size
    when 0 then @ntm.send(mesg, nil, nil)
    when 1
      _family, ip, port = NTM::Address.from_sockaddr(destination[0])
      @ntm.send(mesg, ip, port)
    when 2 then @ntm.send(mesg, remote_ip(destination[0]), NTM::Address.port(destination[1]))
    else raise ArgumentError, "wrong number of arguments (given #{destination.size + 2}, expected 2..4)"
    end
  end

  # Waits for a datagram: [data, ["AF_INET", port, host, ip]]. flags: Socket::MSG_PEEK.
  def recvfrom(maxlen, flags = 0)
    decode(RECV.bind_call(self, maxlen + HEADER_SIZE, flags))
  end

  def recv(maxlen, flags = 0, outbuf = nil)
    fill(outbuf, payload(RECV.bind_call(self, maxlen + HEADER_SIZE, flags)))
  end

  # As recvfrom, or raises IO::EAGAINWaitReadable (:wait_readable with exception: false).
  def recvfrom_nonblock(maxlen, flags = 0, outbuf = nil, exception: true)
    message = RECV_NONBLOCK.bind_call(self, maxlen + HEADER_SIZE, flags, nil, exception: exception)
    return message if message.is_a?(Symbol)

    data, source = decode(message)
    [fill(outbuf, data), source]
  end

  def recv_nonblock(maxlen, flags = 0, outbuf = nil, exception: true)
    message = RECV_NONBLOCK.bind_call(self, maxlen + HEADER_SIZE, flags, nil, exception: exception)
    return message if message.is_a?(Symbol)

    fill(outbuf, payload(message))
  end

  # One datagram each, as on a connected UDPSocket.
  def sysread(maxlen, outbuf = nil)
    recv(maxlen, 0, outbuf)
  end
  alias readpartial sysread

  def read_nonblock(maxlen, outbuf = nil, exception: true)
    recv_nonblock(maxlen, 0, outbuf, exception: exception)
  end

  def write(*objects)
    objects.sum { |object| send(object.to_s, 0) }
  end

  def syswrite(string)
    send(string.to_s, 0)
  end

  def write_nonblock(string, exception: true)
    _ = exception
    send(string.to_s, 0)
  end

  %i[gets read readline readlines each_line getc getbyte readchar readbyte each_char each_byte
     ungetc ungetbyte pread pwrite].each do |name|
    define_method(name) do |*_args, **_keywords|
      raise IOError, "#{self.class}##{name} is not supported on a datagram socket; " \
                     "use recv/recvfrom (or sysread/readpartial for one datagram)"
    end
  end

  def close
    @ntm&.close
    super
  end

  def inspect
    return "#<#{self.class}:(closed)>" if closed?

    "#<#{self.class}:fd #{fileno}, #{@ntm.family == 6 ? 'AF_INET6' : 'AF_INET'}, " \
      "#{NTM::Address.to_s(ntm_local)}>"
  end

  private

  def ntm_init(handle)
    @ntm = handle
  end

  def check_open
    raise IOError, "closed stream" if closed?
  end

  def ntm_local
    check_open
    @ntm.local_address
  end

  def ntm_peer
    check_open
    @ntm.peer_address
  end

  def local_ip(host)
    host = host.to_s if host.is_a?(IPAddr)
    return(@ntm.family == 6 ? "::" : "0.0.0.0") if host.nil? || host == "" || host == "<any>"

    NTM::Address.resolve(host, 0, family: @ntm.family, passive: true).first[1]
  end

  def remote_ip(host)
    NTM::Address.resolve(host, 0, family: @ntm.family).first[1]
  end

  def decode(message)
    data = payload(message)
    family, port = message.unpack("Cxn")
    ip = IPAddr.new_ntoh(message.byteslice(4, family == 6 ? 16 : 4)).to_s
    [data, NTM::Address.ipaddr([family, ip, port], NTM::Address.reverse?(nil, self))]
  end

  # The datagram of a bridged message (recv and friends skip decoding the source).
  def payload(message)
    if message.nil? || message.bytesize < HEADER_SIZE
      raise IOError, "closed stream" if closed? || @ntm.closed?

      raise Errno::ENETDOWN, "ntm node stopped"
    end
    message.byteslice(HEADER_SIZE, message.bytesize - HEADER_SIZE)
  end

  def fill(outbuf, data)
    return data if outbuf.nil?

    outbuf.replace(data)
  end
end
