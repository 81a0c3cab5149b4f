// The Java client of bench/bindings.py: bulk TCP to the C server's sink, then UDP round trips to
// its echo, through the Java binding (NTMSocket, NTMDatagramSocket). Prints one RESULT line.
//   java -cp ntmobile.jar bench/bindings/BenchClient.java --key PRIV --server-key PUB \
//     --endpoint HOST:PORT [--mib N] [--rtts N] [--warmup N] [--size N]
// (source-file mode: no separate compile step; NTM_LIBRARY may name the libntm to load).
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ntmobile.NTMDatagramSocket;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeOptions;
import org.ntmobile.StaticPeer;

public final class BenchClient {
  private static final String SERVER_V4 = "100.64.0.2";
  private static final String CLIENT_V4 = "100.64.0.1";
  private static final int TCP_PORT = 5201;
  private static final int UDP_PORT = 5202;
  private static final int WRITE = 1 << 20;

  private BenchClient() {}

  static double tcpMibps(long total) throws Exception {
    byte[] block = new byte[WRITE];
    Arrays.fill(block, (byte) 'x');
    try (NTMSocket socket = new NTMSocket(InetAddress.getByName(SERVER_V4), TCP_PORT)) {
      OutputStream out = socket.getOutputStream();
      InputStream in = socket.getInputStream();
      long started = System.nanoTime();
      long sent = 0;
      while (sent < total) {
        int n = (int) Math.min(WRITE, total - sent);
        out.write(block, 0, n);
        sent += n;
      }
      socket.shutdownOutput();
      byte[] count = in.readNBytes(8); // the sink's byte count, once it has read everything
      double elapsed = (System.nanoTime() - started) / 1e9;
      if (count.length != 8) {
        throw new IllegalStateException("the sink closed before sending its count");
      }
      long received = ByteBuffer.wrap(count).order(ByteOrder.nativeOrder()).getLong();
      if (received != total) {
        throw new IllegalStateException("sent " + total + " bytes, the sink counted " + received);
      }
      return total / elapsed / (1 << 20);
    }
  }

  static List<Double> udpRtts(int count, int warmup, int size, int[] lost) throws Exception {
    byte[] payload = new byte[size];
    Arrays.fill(payload, (byte) 'p');
    byte[] buffer = new byte[65536];
    List<Double> samples = new ArrayList<>();
    try (NTMDatagramSocket udp = new NTMDatagramSocket()) {
      udp.connect(new InetSocketAddress(InetAddress.getByName(SERVER_V4), UDP_PORT));
      udp.setSoTimeout(1000);
      DatagramPacket out = new DatagramPacket(payload, payload.length);
      DatagramPacket in = new DatagramPacket(buffer, buffer.length);
      for (int i = 0; i < warmup + count; i++) {
        long started = System.nanoTime();
        udp.send(out);
        try {
          do {
            in.setLength(buffer.length);
            udp.receive(in);
          } while (!Arrays.equals(payload, 0, size, buffer, 0, in.getLength()));
        } catch (SocketTimeoutException e) {
          lost[0]++;
          continue;
        }
        if (i >= warmup) {
          samples.add((System.nanoTime() - started) / 1e3);
        }
      }
      udp.send(new DatagramPacket(new byte[] {'Q'}, 1));
    }
    return samples;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new HashMap<>(Map.of("--mib", "256", "--rtts", "2000", "--warmup",
        "200", "--size", "64"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      o.put(args[i], args[i + 1]);
    }
    NodeOptions options = NodeOptions.builder()
        .name("bench-client.test")
        .privateKey(o.get("--key"))
        .virtualIPv4(CLIENT_V4)
        .listen("127.0.0.1:0")
        .staticPeer(StaticPeer.builder("bench-server.test", o.get("--server-key"))
            .endpoint(o.get("--endpoint"))
            .virtualIPv4(SERVER_V4)
            .build())
        .build();
    double mibps;
    List<Double> samples;
    int[] lost = {0};
    try (NTMNode node = NTMNode.start(options)) {
      mibps = tcpMibps(Long.parseLong(o.get("--mib")) << 20);
      samples = udpRtts(Integer.parseInt(o.get("--rtts")), Integer.parseInt(o.get("--warmup")),
          Integer.parseInt(o.get("--size")), lost);
    }
    Collections.sort(samples);
    double median = samples.isEmpty() ? Double.NaN : samples.get(samples.size() / 2);
    double p99 = samples.isEmpty() ? Double.NaN
        : samples.get(Math.min(samples.size() - 1, (int) (samples.size() * 0.99)));
    System.out.printf("RESULT tcp_mibps=%.1f udp_median_us=%.1f udp_p99_us=%.1f udp_lost=%d%n",
        mibps, median, p99, lost[0]);
  }
}
