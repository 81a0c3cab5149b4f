# frozen_string_literal: true

# The Ruby client of bench/bindings.py: bulk TCP to the C server's sink, then UDP round trips to
# its echo, through the Ruby binding (NTMTCPSocket, NTMUDPSocket). Prints one RESULT line.
#   ruby -I bindings/ruby/lib -I bindings/ruby/tmp/lib bench/bindings/client.rb \
#     --key PRIV --server-key PUB --endpoint HOST:PORT [--mib N] [--rtts N] [--warmup N] [--size N]
require "ntm"
require "optparse"

SERVER_V4 = "100.64.0.2"
CLIENT_V4 = "100.64.0.1"
TCP_PORT = 5201
UDP_PORT = 5202
WRITE = 1 << 20

def tcp_mibps(total)
  block = "x" * WRITE
  socket = NTMTCPSocket.new(SERVER_V4, TCP_PORT)
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  sent = 0
  while sent < total
    n = [WRITE, total - sent].min
    socket.write(n == WRITE ? block : block.byteslice(0, n))
    sent += n
  end
  socket.close_write
  count = socket.read(8) # the sink's byte count, once it has read everything
  elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
  raise "the sink closed before sending its count" unless count&.bytesize == 8

  received = count.unpack1("Q")
  raise "sent #{total} bytes, the sink counted #{received}" unless received == total

  total / elapsed / (1 << 20)
ensure
  socket&.close
end

def udp_rtts(count, warmup, size)
  payload = "p" * size
  samples = []
  lost = 0
  udp = NTMUDPSocket.new
  udp.connect(SERVER_V4, UDP_PORT)
  (warmup + count).times do |i|
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    udp.send(payload, 0)
    answered = false
    while IO.select([udp], nil, nil, 1.0)
      if udp.recv(65_536) == payload
        answered = true
        break
      end
    end
    unless answered
      lost += 1
      next
    end
    samples << (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1e6 if i >= warmup
  end
  udp.send("Q", 0)
  [samples, lost]
ensure
  udp&.close
end

options = { mib: 256, rtts: 2000, warmup: 200, size: 64 }
OptionParser.new do |o|
  o.on("--key KEY") { |v| options[:key] = v }
  o.on("--server-key KEY") { |v| options[:server_key] = v }
  o.on("--endpoint HOST_PORT") { |v| options[:endpoint] = v }
  o.on("--mib N", Integer) { |v| options[:mib] = v }
  o.on("--rtts N", Integer) { |v| options[:rtts] = v }
  o.on("--warmup N", Integer) { |v| options[:warmup] = v }
  o.on("--size N", Integer) { |v| options[:size] = v }
end.parse!

NTM.start(name: "bench-client.test", private_key: options.fetch(:key), virtual_ipv4: CLIENT_V4,
          listen_ipv4: "127.0.0.1:0", listen_ipv6: "",
          peers: [{ name: "bench-server.test", public_key: options.fetch(:server_key),
                    endpoint: options.fetch(:endpoint), virtual_ipv4: SERVER_V4 }])
begin
  mibps = tcp_mibps(options[:mib] << 20)
  samples, lost = udp_rtts(options[:rtts], options[:warmup], options[:size])
ensure
  NTM.stop
end
samples.sort!
median = samples.empty? ? Float::NAN : samples[samples.size / 2]
p99 = samples.empty? ? Float::NAN : samples[[samples.size - 1, (samples.size * 0.99).to_i].min]
printf("RESULT tcp_mibps=%.1f udp_median_us=%.1f udp_p99_us=%.1f udp_lost=%d\n", mibps, median, p99,
       lost)
$stdout.flush
