# frozen_string_literal: true

require_relative "test_helper"

# NTMTCPSocket against the peer node's TCP services.
class TestNTMTCPSocket < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  BIG = 16 << 20

  # Sends size random bytes through the echo service and checks what comes back.
  def echo_checksummed(host, size)
    socket = closing(NTMTCPSocket.new(host, ECHO_PORT))
    data = Random.bytes(size)
    writer = Thread.new do
      socket.write(data)
      socket.close_write
    end
    received = within(120, "#{size}-byte echo") { socket.read }
    writer.join
    assert_equal size, received.bytesize
    assert_equal Digest::SHA256.hexdigest(data), Digest::SHA256.hexdigest(received)
  end

  def test_is_a_tcp_socket_and_an_io
    socket = line_connection
    assert_kind_of TCPSocket, socket
    assert_kind_of IPSocket, socket
    assert_kind_of IO, socket
    assert_instance_of NTMTCPSocket, socket
  end

  def test_16_mib_checksummed_echo_over_virtual_ipv4
    echo_checksummed(PEER_VIP4, BIG)
  end

  def test_16_mib_checksummed_echo_over_virtual_ipv6
    echo_checksummed(PEER_VIP6, BIG)
  end

  def test_line_protocol_with_gets_and_puts
    socket = line_connection
    socket.puts "PING"
    assert_equal "PONG\n", socket.gets
    socket.puts "ADD 40 2"
    assert_equal "42", socket.gets.chomp
    socket.print "ECHO split ", "across writes\n"
    assert_equal "split across writes\n", socket.gets
    socket.puts "QUIT"
    assert_equal "BYE\n", socket.gets
    assert_nil socket.gets, "end of stream after QUIT"
  end

  def test_each_line_reads_until_the_peer_closes
    socket = line_connection
    socket.write("ECHO one\nECHO two\nECHO three\nQUIT\n")
    assert_equal %W[one\n two\n three\n BYE\n], within(10, "each_line") { socket.each_line.to_a }
  end

  def test_read_readpartial_and_sysread
    socket = closing(NTMTCPSocket.new(PEER_NAME, ECHO_PORT))
    socket.write("abcdef")
    assert_equal "abc", socket.read(3)
    rest = socket.readpartial(10)
    assert_equal "def", rest
    socket.syswrite("xyz")
    assert_equal "xyz", socket.sysread(3)
  end

  def test_nonblocking_reads_and_writes_with_wait_readable
    socket = closing(NTMTCPSocket.new(PEER_NAME, ECHO_PORT))
    assert_equal :wait_readable, socket.read_nonblock(10, exception: false)
    assert_raises(IO::WaitReadable) { socket.read_nonblock(10) }
    assert_equal 5, socket.write_nonblock("hello")
    assert socket.wait_readable(10), "echo arrives"
    assert_equal "hello", socket.read_nonblock(10)
  end

  def test_close_write_sends_end_of_stream_and_reading_continues
    socket = closing(NTMTCPSocket.new(PEER_NAME, SINK_PORT))
    payload = "x" * 100_000
    socket.write(payload)
    socket.close_write
    count, digest = within(20, "sink reply") { socket.gets }.split
    assert_equal payload.bytesize, Integer(count)
    assert_equal Digest::SHA256.hexdigest(payload), digest
  end

  def test_addresses_are_virtual
    socket = line_connection(PEER_VIP4)
    assert_equal ["AF_INET", LINE_PORT, PEER_VIP4, PEER_VIP4], socket.peeraddr
    assert_equal ["AF_INET", LINE_PORT, PEER_NAME, PEER_VIP4], socket.peeraddr(:hostname)
    family, port, _host, ip = socket.addr
    assert_equal ["AF_INET", CLIENT_VIP4], [family, ip]
    assert_operator port, :>, 0
    assert_equal CLIENT_NAME, socket.addr(true)[2]
    assert_equal Addrinfo.tcp(PEER_VIP4, LINE_PORT).inspect, socket.remote_address.inspect
    assert_equal CLIENT_VIP4, socket.local_address.ip_address
    assert_equal [LINE_PORT, PEER_VIP4], Socket.unpack_sockaddr_in(socket.getpeername)
    # The peer sees our virtual address and name too.
    socket.puts "PEER"
    assert_equal ["AF_INET", port, CLIENT_NAME, CLIENT_VIP4], eval(socket.gets) # rubocop:disable Security/Eval
  end

  def test_ipv6_addresses_are_virtual
    socket = line_connection(PEER_VIP6)
    assert_equal ["AF_INET6", LINE_PORT, PEER_VIP6, PEER_VIP6], socket.peeraddr
    assert_equal CLIENT_VIP6, socket.addr[3]
    assert socket.remote_address.ipv6?
  end

  def test_a_node_name_resolves_to_the_peers_virtual_ipv4_first
    socket = line_connection(PEER_NAME)
    assert_equal PEER_VIP4, socket.peeraddr[3]
  end

  def test_open_with_a_block_closes_the_socket
    kept = nil
    reply = NTMTCPSocket.open(PEER_NAME, LINE_PORT) do |socket|
      kept = socket
      socket.puts "PING"
      socket.gets
    end
    assert_equal "PONG\n", reply
    assert kept.closed?
  end

  # The same options, the same way as the Python and Java bindings: on the virtual connection.
  def assert_connection_options(socket)
    assert socket.getsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY).bool, "bridges start with NODELAY"
    assert_equal 0, socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, false)
    refute socket.getsockopt(:TCP, :NODELAY).bool
    socket.setsockopt(:SOCKET, :KEEPALIVE, true)
    assert socket.getsockopt(Socket::SOL_SOCKET, Socket::SO_KEEPALIVE).bool
    socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_KEEPIDLE, 11)
    socket.setsockopt(Socket::Option.int(:INET, :TCP, :KEEPINTVL, 4))
    socket.setsockopt(:TCP, :KEEPCNT, [5].pack("i"))
    assert_equal 11, socket.getsockopt(:TCP, :KEEPIDLE).int
    assert_equal 4, socket.getsockopt(:TCP, :KEEPINTVL).int
    assert_equal 5, socket.getsockopt(:TCP, :KEEPCNT).int
    assert_raises(Errno::ENOPROTOOPT) { socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_MAXSEG, 1000) }
  end

  def test_tcp_options_apply_to_the_virtual_connection
    socket = line_connection
    assert_connection_options(socket)
    socket.puts "PING"
    assert_equal "PONG\n", socket.gets
  end

  def test_tcp_options_apply_to_an_accepted_connection
    server = closing(NTMTCPServer.new(nil, 7620))
    client = closing(NTMTCPSocket.new(NTM.info.virtual_ipv4, 7620))
    accepted = closing(within(10, "accept") { server.accept })
    assert_connection_options(accepted)
    client.write("x")
    assert_equal "x", accepted.read(1)
  end

  def test_io_select_over_several_connections_reports_only_the_ready_one
    sockets = Array.new(3) { line_connection }
    assert_nil IO.select(sockets, nil, nil, 0), "nothing readable yet"
    sockets[1].puts "PING"
    readable, = within(10, "select") { IO.select(sockets, nil, nil, 10) }
    assert_equal [sockets[1]], readable
    assert_equal "PONG\n", sockets[1].gets
    _, writable, = IO.select(nil, sockets, nil, 10)
    assert_equal sockets, writable
  end

  def test_inspect_shows_virtual_addresses
    socket = line_connection(PEER_VIP4)
    assert_match(/NTMTCPSocket:fd \d+, AF_INET, 100\.64\.0\.1:\d+ -> 100\.64\.0\.2:7001/, socket.inspect)
  end
end
