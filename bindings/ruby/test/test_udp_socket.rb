# frozen_string_literal: true

require_relative "test_helper"

# NTMUDPSocket against the peer's UDP echo (port 7002 on both virtual addresses).
class TestNTMUDPSocket < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  @@next_port = 9300 # rubocop:disable Style/ClassVars

  def free_port
    @@next_port += 1
  end

  # UDP may drop: resend until the reply arrives (bounded).
  def exchange(socket, message, *destination)
    within(10, "UDP echo") do
      loop do
        socket.send(message, 0, *destination)
        next unless IO.select([socket], nil, nil, 0.5)

        return socket.recvfrom(65_535)
      end
    end
  end

  def test_is_a_udp_socket
    socket = closing(NTMUDPSocket.new)
    assert_kind_of UDPSocket, socket
    assert_kind_of IO, socket
  end

  def test_echo_over_virtual_ipv4
    socket = closing(NTMUDPSocket.new)
    data, from = exchange(socket, "hello v4", PEER_VIP4, UDP_PORT)
    assert_equal "hello v4", data
    assert_equal ["AF_INET", UDP_PORT, PEER_VIP4, PEER_VIP4], from
    assert_equal CLIENT_VIP4, socket.addr[3].sub("0.0.0.0", CLIENT_VIP4)
  end

  def test_echo_over_virtual_ipv6
    socket = closing(NTMUDPSocket.new(Socket::AF_INET6))
    data, from = exchange(socket, "hello v6", PEER_VIP6, UDP_PORT)
    assert_equal "hello v6", data
    assert_equal ["AF_INET6", UDP_PORT, PEER_VIP6, PEER_VIP6], from
  end

  def test_send_to_a_node_name_and_a_large_datagram
    socket = closing(NTMUDPSocket.new)
    big = Random.bytes(8000) # larger than the MTU: fragmented and reassembled
    data, = exchange(socket, big, PEER_NAME, UDP_PORT)
    assert_equal big, data
  end

  def test_bind_then_receive_a_datagram_the_peer_sends
    port = free_port
    socket = closing(NTMUDPSocket.new)
    socket.bind(CLIENT_VIP4, port)
    assert_equal ["AF_INET", port, CLIENT_VIP4, CLIENT_VIP4], socket.addr
    control = line_connection
    control.puts "UDP #{port} unsolicited"
    assert_equal "SENT\n", control.gets
    assert socket.wait_readable(10), "datagram arrives"
    data, from = socket.recvfrom(100)
    assert_equal "unsolicited", data
    assert_equal PEER_VIP4, from[3]
  end

  def test_connected_socket_uses_send_recv_and_read_write_style_methods
    socket = closing(NTMUDPSocket.new)
    socket.connect(PEER_VIP4, UDP_PORT)
    assert_equal ["AF_INET", UDP_PORT, PEER_VIP4, PEER_VIP4], socket.peeraddr
    within(10, "connected echo") do
      loop do
        socket.send("connected", 0)
        break if socket.wait_readable(0.5)
      end
    end
    assert_equal "connected", socket.recv(100)
    socket.write("as io")
    assert socket.wait_readable(10)
    assert_equal "as io", socket.readpartial(100)
  end

  def test_recvfrom_nonblock_and_io_select
    socket = closing(NTMUDPSocket.new)
    socket.send("warm up", 0, PEER_VIP4, UDP_PORT)
    socket.wait_readable(5) && socket.recvfrom(100) # drain the warm-up echo if it came
    assert_raises(IO::WaitReadable) { socket.recvfrom_nonblock(100) }
    assert_equal :wait_readable, socket.recvfrom_nonblock(100, exception: false)
    within(10, "select") do
      loop do
        socket.send("selected", 0, PEER_VIP4, UDP_PORT)
        break if IO.select([socket], nil, nil, 0.5)
      end
    end
    data, from = socket.recvfrom_nonblock(100)
    assert_equal "selected", data
    assert_equal PEER_VIP4, from[3]
  end

  def test_truncates_to_maxlen_like_udp
    socket = closing(NTMUDPSocket.new)
    data, = exchange(socket, "0123456789", PEER_VIP4, UDP_PORT)
    assert_equal "0123456789", data
    socket.send("abcdefghij", 0, PEER_VIP4, UDP_PORT)
    assert socket.wait_readable(10)
    assert_equal "abcd", socket.recv(4)
  end

  def test_stream_readers_raise_io_error
    socket = closing(NTMUDPSocket.new)
    error = assert_raises(IOError) { socket.gets }
    assert_match(/recvfrom/, error.message)
  end

  def test_close_releases_the_port
    port = free_port
    first = NTMUDPSocket.new
    first.bind("0.0.0.0", port)
    first.close
    second = closing(NTMUDPSocket.new)
    # The pump closes the virtual socket when it wakes; the port is free again shortly.
    wait_until(5, "port free again") do
      second.bind("0.0.0.0", port)
      true
    rescue Errno::EADDRINUSE
      false
    end
    assert_equal port, second.addr[1]
  end

  def test_send_to_an_address_without_a_peer_is_unreachable
    socket = closing(NTMUDPSocket.new)
    assert_raises(Errno::EHOSTUNREACH) { socket.send("void", 0, "100.64.0.77", 9) }
  end
end
