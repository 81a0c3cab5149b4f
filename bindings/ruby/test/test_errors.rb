# frozen_string_literal: true

require_relative "test_helper"

# Failures surface as Ruby's usual exceptions.
class TestErrors < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  def test_connection_refused_when_nothing_listens
    error = assert_raises(Errno::ECONNREFUSED) { NTMTCPSocket.new(PEER_VIP4, NOBODY_PORT) }
    assert_match(/connect\(2\) for "#{Regexp.escape(PEER_VIP4)}" port #{NOBODY_PORT}/, error.message)
    assert_raises(Errno::ECONNREFUSED) { NTMTCPSocket.new(PEER_VIP6, NOBODY_PORT) }
  end

  def test_host_unreachable_for_an_address_no_peer_owns
    started = monotonic
    assert_raises(Errno::EHOSTUNREACH) { NTMTCPSocket.new("100.64.0.77", 7000) }
    assert_operator monotonic - started, :<, 2, "fails at once"
  end

  def test_socket_error_for_an_unknown_name
    error = assert_raises(SocketError) { NTMTCPSocket.new("nobody.test", 7000) }
    assert_match(/nobody\.test/, error.message)
    assert_raises(SocketError) { NTMUDPSocket.new.send("x", 0, "nobody.test", 7002) }
    assert_raises(SocketError) { NTM.getaddrinfo("nobody.test", 80) }
  end

  def test_io_error_on_a_closed_socket
    socket = NTMTCPSocket.new(PEER_NAME, LINE_PORT)
    socket.close
    assert_raises(IOError) { socket.gets }
    assert_raises(IOError) { socket.write("x") }
    assert_raises(IOError) { socket.read_nonblock(1) }
    assert_raises(IOError) { socket.peeraddr }
    assert_raises(IOError) { socket.addr }
    assert_raises(IOError) { IO.select([socket], nil, nil, 0) }
  end

  def test_io_error_on_a_closed_server
    server = NTMTCPServer.new(9700)
    server.close
    assert_raises(IOError) { server.accept }
    assert_raises(IOError) { server.accept_nonblock }
    assert_raises(IOError) { server.addr }
  end

  def test_io_error_on_a_closed_udp_socket
    socket = NTMUDPSocket.new
    socket.close
    assert_raises(IOError) { socket.send("x", 0, PEER_VIP4, UDP_PORT) }
    assert_raises(IOError) { socket.recvfrom(10) }
    assert_raises(IOError) { socket.addr }
  end

  def test_address_in_use
    server = closing(NTMTCPServer.new(9701))
    assert_raises(Errno::EADDRINUSE) { NTMTCPServer.new(9701) }
    assert server.addr
  end

  def test_echo_after_the_peer_closes_reads_end_of_stream
    socket = line_connection
    socket.puts "CLOSE"
    assert_nil within(10, "eof") { socket.gets }
    assert_raises(EOFError) { socket.readpartial(1) }
  end

  def test_every_class_raises_enetdown_before_the_node_starts
    script = <<~'RUBY'
      require "ntm"
      [-> { NTMTCPSocket.new("100.64.0.2", 7000) }, -> { NTMTCPServer.new(7000) },
       -> { NTMUDPSocket.new }].each do |call|
        call.call
        puts "no error"
      rescue Errno::ENETDOWN => e
        puts "ENETDOWN #{e.message}"
      end
    RUBY
    output, status = run_child(script)
    assert status.success?, output
    assert_equal 3, output.lines.grep(/\AENETDOWN .*NTM\.start/).size, output
  end
end
