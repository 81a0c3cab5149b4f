# frozen_string_literal: true

# Throughput of NTMTCPSocket next to Ruby's TCPSocket over loopback, in the same run.
#
#   rake bench                      (or: ruby -I lib -I tmp/lib bench/throughput.rb)
#   NTM_BENCH_MIB=256 NTM_BENCH_ROUNDS=5 rake bench
#
# A peer node (test/peer_node.rb) runs in another process with a counting sink on a virtual port
# and on a real 127.0.0.1 port. Each round writes NTM_BENCH_MIB MiB with IO#write in 256 KiB
# chunks, half-closes, and waits for the peer's byte count: the time covers connect, transfer
# and the count's return. Both nodes' tunnel runs over real UDP on 127.0.0.1 with AES-256-GCM,
# so the NTM figure includes encryption, lwIP on both sides and the bridge's socketpairs. The
# best round of each is printed.
require "ntm"
require "rbconfig"
require_relative "../test/support"

MIB = Integer(ENV.fetch("NTM_BENCH_MIB", "128"))
ROUNDS = Integer(ENV.fetch("NTM_BENCH_ROUNDS", "3"))
CHUNK = Random.bytes(256 << 10)

def transfer(socket)
  total = MIB << 20
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  sent = 0
  while sent < total
    socket.write(CHUNK)
    sent += CHUNK.bytesize
  end
  socket.close_write
  counted = Integer(socket.gets)
  raise "peer counted #{counted} bytes, sent #{sent}" unless counted == sent

  elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
  sent / (1 << 20) / elapsed
ensure
  socket.close
end

def best(label)
  rates = Array.new(ROUNDS) { yield }
  printf("%-34s %9.1f MiB/s   (rounds: %s)\n", label, rates.max, rates.map { |r| r.round(1) }.join(", "))
  rates.max
end

peer = NTMTest::Peer.spawn(os_sink: true)
begin
  peer.start_client_node
  NTMTCPSocket.new(NTMTest::PEER_VIP4, NTMTest::COUNT_PORT).tap { |s| s.close } # tunnel handshake
  puts "Ruby #{RUBY_VERSION}, libntm #{NTM.library_version}, #{MIB} MiB per round, best of #{ROUNDS}"
  os = best("TCPSocket 127.0.0.1 (kernel)") { transfer(TCPSocket.new("127.0.0.1", peer.os_sink_port)) }
  v4 = best("NTMTCPSocket virtual IPv4") { transfer(NTMTCPSocket.new(NTMTest::PEER_VIP4, NTMTest::COUNT_PORT)) }
  v6 = best("NTMTCPSocket virtual IPv6") { transfer(NTMTCPSocket.new(NTMTest::PEER_VIP6, NTMTest::COUNT_PORT)) }
  printf("NTM / kernel: IPv4 %.0f%%, IPv6 %.0f%%\n", 100 * v4 / os, 100 * v6 / os)
ensure
  peer.stop
end
