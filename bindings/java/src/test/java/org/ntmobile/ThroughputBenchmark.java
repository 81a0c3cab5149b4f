package org.ntmobile;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ntmobile.testpeer.TestPeer;

/**
 * Bulk TCP throughput of NTMSocket next to java.net.Socket over loopback, in one run.
 *
 * <p>Starts the test peer node in a second JVM (real UDP endpoints on 127.0.0.1), then for each
 * transport sends {@code --mib} MiB in 256 KiB writes to a sink in the peer process, which
 * answers the byte count once the stream ends; the time runs from the first write to that
 * answer. The baseline is a plain java.net.Socket to a plain ServerSocket on 127.0.0.1 in the
 * same peer process. Run from bindings/java: {@code mvn -q test-compile exec:exec@bench}
 * (add {@code -Dbench.args=--mib=64} for a shorter run).
 */
public final class ThroughputBenchmark {
  private ThroughputBenchmark() {}

  private interface Connector {
    Socket open() throws IOException;
  }

  public static void main(String[] args) throws Exception {
    long mib = 256;
    int rounds = 3;
    for (String a : args) {
      if (a.startsWith("--mib=")) {
        mib = Long.parseLong(a.substring(6));
      } else if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(a.substring(9));
      } else if (!a.isEmpty()) {
        System.err.println("usage: ThroughputBenchmark [--mib=N] [--rounds=N]");
        System.exit(2);
      }
    }
    long bytes = mib << 20;
    Path log = Files.createTempFile("ntm-bench-peer", ".log");
    try (TwoNodes.Fixture nodes = TwoNodes.launch(log)) {
      InetAddress loopback = InetAddress.getLoopbackAddress();
      InetAddress peerV4 = InetAddress.getByName(TwoNodes.PEER_V4);
      InetAddress peerV6 = InetAddress.getByName(TwoNodes.PEER_V6);
      String[] names = {
        "java.net.Socket   127.0.0.1 (kernel loopback)",
        "NTMSocket         virtual IPv4 " + TwoNodes.PEER_V4,
        "NTMSocket         virtual IPv6 " + TwoNodes.PEER_V6
      };
      Connector[] connectors = {
        () -> new Socket(loopback, nodes.plainSinkPort),
        () -> new NTMSocket(peerV4, TestPeer.SINK_PORT),
        () -> new NTMSocket(peerV6, TestPeer.SINK_PORT)
      };
      System.out.printf(
          Locale.ROOT,
          "ntmobile Java throughput: %d MiB per run, %d runs each, libntm %s, Java %s%n",
          mib,
          rounds,
          NTMNode.libraryVersion(),
          System.getProperty("java.version"));
      for (Connector c : connectors) {
        run(c, 32L << 20); // warm-up: JIT, tunnel handshake, TCP windows
      }
      List<double[]> results = new ArrayList<>();
      for (Connector c : connectors) {
        double[] rates = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          rates[r] = run(c, bytes);
        }
        results.add(rates);
      }
      System.out.printf(Locale.ROOT, "%-46s %12s %12s%n", "transport", "best MiB/s", "median MiB/s");
      for (int i = 0; i < names.length; i++) {
        double[] r = results.get(i).clone();
        Arrays.sort(r);
        System.out.printf(
            Locale.ROOT, "%-46s %12.1f %12.1f%n", names[i], r[r.length - 1], r[r.length / 2]);
      }
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** Sends {@code bytes} to a sink; returns MiB/s up to the sink's byte count. */
  private static double run(Connector connector, long bytes) throws IOException {
    byte[] chunk = new byte[256 * 1024];
    new SplittableRandom(1).nextBytes(chunk);
    try (Socket s = connector.open()) {
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      long start = System.nanoTime();
      for (long sent = 0; sent < bytes; ) {
        int n = (int) Math.min(chunk.length, bytes - sent);
        out.write(chunk, 0, n);
        sent += n;
      }
      s.shutdownOutput();
      long counted = in.readLong();
      long elapsed = System.nanoTime() - start;
      if (counted != bytes) {
        throw new IOException("sink counted " + counted + " of " + bytes + " bytes");
      }
      return (bytes / 1048576.0) / (elapsed / 1e9);
    }
  }
}
