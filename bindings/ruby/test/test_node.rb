# frozen_string_literal: true

require_relative "test_helper"

# The NTM module: node lifecycle, info, events, tunnel snapshot.
class TestNode < Minitest::Test
  include NTMTest
  include NTMTest::Helpers

  def test_info_reports_virtual_addresses_and_the_bound_endpoint
    info = NTM.info
    assert_equal CLIENT_NAME, info.name
    assert_equal CLIENT_VIP4, info.virtual_ipv4
    assert_equal CLIENT_VIP6, info.virtual_ipv6
    assert_match(/\A127\.0\.0\.1:\d+\z/, info.endpoint_ipv4)
    assert_match(/\A[0-9a-f]{16}\z/, info.node_id)
    assert_equal 1420, info.mtu
    assert NTM.running?
  end

  def test_events_arrive_on_a_ruby_thread_in_the_block
    line_connection.tap { |s| s.puts "PING" }.gets # makes sure the tunnel is up
    seen = []
    within(10, "events") do
      seen << @fixture.events.pop until seen.any? { |event, _| event.type == :tunnel_up && event.peer_name == PEER_NAME }
    end
    # Put them back for other tests that look.
    seen.each { |item| @fixture.events << item }
    event, thread = seen.find { |e, _| e.type == :tunnel_up }
    assert_kind_of NTM::Event, event
    assert_equal :direct, event.path
    assert_equal @fixture.peer_endpoint, event.endpoint
    refute_equal Thread.main, thread
    assert_kind_of Thread, thread
  end

  def test_tunnel_snapshot_shows_the_peer_up_with_traffic
    socket = line_connection
    socket.puts "PING"
    socket.gets
    tunnel = NTM.tunnels.find { |t| t.peer_name == PEER_NAME }
    refute_nil tunnel
    assert_equal :up, tunnel.state
    assert_equal :direct, tunnel.path
    assert_equal @fixture.peer_endpoint, tunnel.endpoint
    assert_equal PEER_VIP4, tunnel.virtual_ipv4
    assert_operator tunnel.bytes_sent, :>, 0
    assert_operator tunnel.bytes_received, :>, 0
    ghost = NTM.tunnels.find { |t| t.peer_name == GHOST_NAME }
    refute_equal :up, ghost.state
  end

  def test_stats_count_packets
    line_connection.tap { |s| s.puts "PING" }.gets
    stats = NTM.stats
    assert_operator stats.packets_sent, :>, 0
    assert_operator stats.handshakes_completed, :>, 0
  end

  def test_a_network_change_keeps_a_connection_working_and_sends_path_updates
    socket = line_connection
    socket.puts "PING"
    refute_nil socket.gets
    handshakes = NTM.stats.handshakes_completed
    assert_nil NTM.notify_network_change
    socket.puts "PING"
    refute_nil socket.gets
    # The path update is a new handshake from (here: the same) address.
    wait_until(5, "a path-update handshake") { NTM.stats.handshakes_completed > handshakes }
  end

  def test_keys
    private_key, public_key = NTM.generate_keypair
    assert_equal 44, private_key.size
    assert_equal public_key, NTM.public_key(private_key)
    error = assert_raises(NTM::Error) { NTM.public_key("not a key") }
    assert_equal :einval, error.code
    assert_instance_of NTM::InvalidArgumentError, error
  end

  def test_start_while_running_raises_estate
    key, = NTM.generate_keypair
    error = assert_raises(NTM::Error) { NTM.start(name: "x.test", private_key: key, virtual_ipv4: "100.64.0.99") }
    assert_equal :estate, error.code
    assert_instance_of NTM::StateError, error
    assert NTM.running?
  end

  def test_unknown_options_are_rejected_before_starting
    error = assert_raises(ArgumentError) { NTM.start(name: "x", private_key: "k", colour: :blue) }
    assert_match(/colour/, error.message)
    assert_raises(ArgumentError) { NTM.start(name: "x", private_key: "k", cipher: :rot13) }
    assert_raises(TypeError) { NTM.start(name: "x", private_key: "k", peers: ["bob"]) }
  end

  def test_getaddrinfo_resolves_node_names
    addresses = NTM.getaddrinfo(PEER_NAME, 80).map(&:ip_address)
    assert_equal [PEER_VIP4, PEER_VIP6], addresses
    assert_equal [PEER_VIP6], NTM.getaddrinfo(PEER_NAME, 80, :INET6).map(&:ip_address)
    assert_equal PEER_NAME, NTM.name_of(PEER_VIP6)
  end

  def test_versions
    assert_match(/\A\d+\.\d+\.\d+\z/, NTM.library_version)
    assert_equal NTM::Native.header_version.split(".").first, NTM.library_version.split(".").first
  end

  def test_stop_and_start_again_in_a_child_process
    script = <<~'RUBY'
      require "ntm"
      key, = NTM.generate_keypair
      events = Queue.new
      2.times do |i|
        NTM.start(name: "solo.test", private_key: key, virtual_ipv4: "100.64.0.5#{i}",
                  listen_ipv4: "127.0.0.1:0", listen_ipv6: "") { |e| events << e.type }
        server = NTMTCPServer.new(7100)
        NTM.stop
        puts "run #{i}: running=#{NTM.running?} closed_listener=#{server.wait_readable(0) ? 'eof' : 'open'}"
      end
      types = []
      types << events.pop until events.empty?
      puts types.inspect
    RUBY
    output, status = run_child(script)
    assert status.success?, output
    assert_includes output, "run 0: running=false"
    assert_includes output, "run 1: running=false"
    assert_includes output, "[:started, :stopping, :started, :stopping]"
  end

  def test_stop_wakes_calls_blocked_on_every_socket_kind
    script = <<~'RUBY'
      require "ntm"
      Thread.report_on_exception = false
      key, = NTM.generate_keypair
      _, ghost = NTM.generate_keypair
      black_hole = UDPSocket.new # the ghost's endpoint: never answers
      black_hole.bind("127.0.0.1", 0)
      NTM.start(name: "solo.test", private_key: key, virtual_ipv4: "100.64.0.50",
                listen_ipv4: "127.0.0.1:0", listen_ipv6: "",
                peers: [{ name: "ghost.test", public_key: ghost,
                          endpoint: "127.0.0.1:#{black_hole.addr[1]}", virtual_ipv4: "100.64.0.9" }])
      server = NTMTCPServer.new(9000)
      client = NTMTCPSocket.new(nil, 9000) # this node
      server.accept
      udp = NTMUDPSocket.new
      udp.bind(nil, 9001)
      idle = NTMTCPServer.new(9002)
      blocked = { read: Thread.new { client.read(10) }, accept: Thread.new { idle.accept },
                  recvfrom: Thread.new { udp.recvfrom(10) },
                  connect: Thread.new { NTMTCPSocket.new("ghost.test", 80) } }
      Thread.pass until blocked.values.all? { |t| t.status == "sleep" }
      NTM.stop
      blocked.each do |name, thread|
        result = begin
          thread.join(5) ? thread.value : :still_blocked
        rescue StandardError => e
          e
        end
        puts "#{name}: #{result.inspect}"
      end
    RUBY
    output, status = run_child(script)
    assert status.success?, output
    assert_includes output, "read: nil", "a TCP read sees end of stream"
    assert_match(/accept: #<Errno::ENETDOWN/, output)
    assert_match(/recvfrom: #<Errno::ENETDOWN/, output)
    assert_match(/connect: #<Errno::ENETDOWN/, output)
  end
end
