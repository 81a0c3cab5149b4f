# frozen_string_literal: true

require_relative "test_helper"

# NTMTCPServer on this node; the peer connects back with its line protocol's DIAL command.
class TestNTMTCPServer < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  @@next_port = 9100 # rubocop:disable Style/ClassVars - each test listens on its own port

  def free_port
    @@next_port += 1
  end

  def test_is_a_tcp_server
    server = closing(NTMTCPServer.new(free_port))
    assert_kind_of TCPServer, server
    assert_instance_of NTMTCPServer, server
  end

  def test_accept_returns_an_ntm_tcp_socket_with_virtual_addresses
    port = free_port
    server = closing(NTMTCPServer.new(port))
    control = line_connection
    control.puts "DIAL #{port} hello from the peer"
    client = closing(within(10, "accept") { server.accept })
    assert_instance_of NTMTCPSocket, client
    assert_equal "hello from the peer\n", client.gets
    assert_equal "DIALED\n", control.gets
    assert_equal PEER_VIP4, client.peeraddr[3]
    assert_equal PEER_NAME, client.peeraddr(:hostname)[2]
    assert_equal ["AF_INET", port, CLIENT_VIP4, CLIENT_VIP4], client.addr
  end

  def test_listens_on_both_families_by_default
    port = free_port
    server = closing(NTMTCPServer.new(port))
    control = line_connection(PEER_VIP6)
    control.puts "DIAL #{port} over six"
    client = closing(within(10, "accept") { server.accept })
    assert_equal "over six\n", client.gets
    assert_equal "AF_INET6", client.peeraddr[0]
    assert_equal PEER_VIP6, client.peeraddr[3]
    assert_equal CLIENT_VIP6, client.addr[3]
  end

  def test_new_with_host_and_port_binds_that_address
    port = free_port
    server = closing(NTMTCPServer.new(CLIENT_VIP4, port))
    assert_equal ["AF_INET", port, CLIENT_VIP4, CLIENT_VIP4], server.addr
    server6 = closing(NTMTCPServer.new(CLIENT_NAME, free_port))
    assert_equal CLIENT_VIP4, server6.addr[3], "a node name listens on its first address"
  end

  def test_port_zero_picks_a_free_port
    server = closing(NTMTCPServer.new(0))
    port = server.addr[1]
    assert_operator port, :>, 0
    control = line_connection
    control.puts "DIAL #{port} ephemeral"
    client = closing(within(10, "accept") { server.accept })
    assert_equal "ephemeral\n", client.gets
  end

  def test_accept_nonblock_without_a_pending_connection
    server = closing(NTMTCPServer.new(free_port))
    assert_raises(IO::WaitReadable) { server.accept_nonblock }
    assert_equal :wait_readable, server.accept_nonblock(exception: false)
  end

  def test_accept_nonblock_after_io_select
    port = free_port
    server = closing(NTMTCPServer.new(port))
    control = line_connection
    control.puts "DIAL #{port} selected"
    readable, = IO.select([server], nil, nil, 10)
    assert_equal [server], readable
    client = closing(server.accept_nonblock)
    assert_equal "selected\n", client.gets
  end

  def test_io_select_over_several_ntm_sockets_and_the_server
    port = free_port
    server = closing(NTMTCPServer.new(port))
    sockets = Array.new(3) { line_connection }
    watched = [server, *sockets]
    assert_nil IO.select(watched, nil, nil, 0)

    sockets[0].puts "DIAL #{port} through select"
    ready = []
    client = nil
    within(10, "select loop") do
      until ready.include?(server) && ready.include?(sockets[0])
        readable, = IO.select(watched, nil, nil, 10)
        readable.each do |io|
          ready << io
          if io == server
            client = closing(server.accept)
            watched.delete(server)
          else
            assert_equal "DIALED\n", io.gets
            watched.delete(io)
          end
        end
      end
    end
    assert_equal "through select\n", client.gets
    refute_includes ready, sockets[1]
    refute_includes ready, sockets[2]
  end

  def test_sysaccept_returns_a_descriptor
    port = free_port
    server = closing(NTMTCPServer.new(port))
    control = line_connection
    control.puts "DIAL #{port} raw"
    fd = within(10, "sysaccept") { server.sysaccept }
    assert_kind_of Integer, fd
    io = closing(IO.for_fd(fd))
    assert_equal "raw\n", io.gets
  end

  # The library notices a closed listener within a short poll interval, so connections that
  # arrive right after close may still be accepted (and then dropped); soon they are refused.
  def test_closing_the_server_stops_new_connections
    port = free_port
    server = NTMTCPServer.new(port)
    server.close
    control = line_connection
    wait_until(10, "connections refused after close") do
      control.puts "DIAL #{port} too late"
      within(20, "dial") { control.gets } == "ERR Errno::ECONNREFUSED\n"
    end
  end

  def test_open_with_a_block_closes_the_server
    kept = nil
    NTMTCPServer.open(free_port) { |server| kept = server }
    assert kept.closed?
  end
end
