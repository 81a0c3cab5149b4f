# frozen_string_literal: true

require_relative "test_helper"

# Blocking calls release the GVL and can be interrupted.
class TestBlocking < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  @@next_port = 9500 # rubocop:disable Style/ClassVars

  def free_port
    @@next_port += 1
  end

  # Counts in a Ruby thread for a while; returns the count (it only grows if the GVL is free).
  def count_while_blocked(seconds = 0.3)
    counter = 0
    stop = monotonic + seconds
    counter += 1 while monotonic < stop
    counter
  end

  def test_other_threads_run_while_one_blocks_in_accept
    server = closing(NTMTCPServer.new(free_port))
    acceptor = Thread.new { server.accept }
    wait_blocked(acceptor)
    assert_operator count_while_blocked, :>, 1000
    assert_equal "sleep", acceptor.status
    server.close
    assert_raises(IOError) { within(5, "accept wakes on close") { acceptor.value } }
  end

  def test_other_threads_run_while_one_blocks_in_read
    socket = line_connection
    reader = Thread.new { socket.gets }
    wait_blocked(reader)
    assert_operator count_while_blocked, :>, 1000
    socket.puts "PING"
    assert_equal "PONG\n", within(10, "read") { reader.value }
  end

  def test_other_threads_run_while_one_blocks_in_udp_recvfrom
    socket = closing(NTMUDPSocket.new)
    socket.bind("0.0.0.0", free_port)
    reader = Thread.new { socket.recvfrom(100) }
    wait_blocked(reader)
    assert_operator count_while_blocked, :>, 1000
    reader.kill
    assert within(5, "kill") { reader.join(5) }
  end

  def test_thread_kill_of_a_blocked_reader
    socket = line_connection
    reader = Thread.new { socket.read(10) }
    wait_blocked(reader)
    reader.kill
    assert within(5, "kill") { reader.join(5) }, "reader ended"
    refute reader.alive?
    # The connection is still usable afterwards.
    socket.puts "PING"
    assert_equal "PONG\n", within(10, "read") { socket.gets }
  end

  def test_thread_kill_of_a_blocked_accept
    server = closing(NTMTCPServer.new(free_port))
    acceptor = Thread.new { server.accept }
    wait_blocked(acceptor)
    acceptor.kill
    assert within(5, "kill") { acceptor.join(5) }
  end

  def test_closing_a_socket_from_another_thread_wakes_its_reader
    socket = line_connection
    reader = Thread.new { socket.gets }
    wait_blocked(reader)
    socket.close
    assert_raises(IOError) { within(5, "close wakes reader") { reader.value } }
  end

  def test_timeout_interrupts_a_connect_that_hangs
    started = monotonic
    assert_raises(Timeout::Error) do
      Timeout.timeout(0.5) { NTMTCPSocket.new(GHOST_NAME, 80) }
    end
    assert_operator monotonic - started, :<, 3
  end

  def test_connect_timeout_raises_etimedout
    started = monotonic
    assert_raises(Errno::ETIMEDOUT) { NTMTCPSocket.new(GHOST_VIP4, 80, connect_timeout: 0.3) }
    assert_operator monotonic - started, :<, 3
  end

  def test_thread_kill_of_a_blocked_connect
    connector = Thread.new { NTMTCPSocket.new(GHOST_NAME, 80) }
    wait_blocked(connector)
    connector.kill
    assert within(5, "kill") { connector.join(5) }
  end

  def test_timeout_interrupts_a_blocked_read
    socket = line_connection
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { socket.gets } }
  end

  def test_ctrl_c_interrupts_a_blocked_accept
    script = <<~'RUBY'
      trap("INT", "DEFAULT") # Ruby's handler (raise Interrupt), even if started with SIGINT ignored
      require "ntm"
      key, = NTM.generate_keypair
      NTM.start(name: "solo.test", private_key: key, virtual_ipv4: "100.64.0.50",
                listen_ipv4: "127.0.0.1:0", listen_ipv6: "")
      server = NTMTCPServer.new(7100)
      main = Thread.current
      Thread.new do
        Thread.pass until main.status == "sleep"
        $stdout.puts "BLOCKED"
        $stdout.flush
      end
      begin
        server.accept
        puts "ACCEPTED?"
      rescue Interrupt
        puts "INTERRUPTED"
      end
    RUBY
    with_child(script) do |io, pid|
      assert_equal "BLOCKED\n", NTMTest.read_line(io, 30)
      Process.kill(:INT, pid)
      assert_equal "INTERRUPTED\n", NTMTest.read_line(io, 10)
      _, status = Process.wait2(pid)
      assert status.success?, "child exited with #{status.inspect}"
    end
  end
end
