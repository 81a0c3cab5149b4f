package org.ntmobile.testpeer;

import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.ntmobile.NTMDatagramSocket;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMServerSocket;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeInfo;
import org.ntmobile.NodeOptions;
import org.ntmobile.StaticPeer;

/**
 * The peer node of the Java tests and the benchmark: a second JVM, so a second ntmobile node.
 *
 * <pre>
 * TestPeer --name N --key PRIVATE [--vip4 A] [--vip6 A] [--listen HOST:PORT]...
 *          [--peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6]...
 * </pre>
 *
 * <p>Services on its virtual addresses: TCP echo on {@value #ECHO_PORT}, a line service on
 * {@value #LINE_PORT} ("ECHO " + line; "BYE" ends), UDP echo on {@value #UDP_ECHO_PORT}, a TCP
 * sink on {@value #SINK_PORT} (reads to end of stream, answers the byte count as 8 bytes). Also
 * a plain java.net sink on a loopback port (for the benchmark's baseline).
 *
 * <p>Writes "READY endpoint_v4=... endpoint_v6=... plain_sink=PORT" once serving, then takes
 * commands on stdin, one per line, answering "RESULT ..." lines:
 *
 * <ul>
 *   <li>{@code CONNECT_MANY HOST PORT N}: N concurrent connections, each sends "hello I" and
 *       expects "welcome I"; answers {@code RESULT connect_many ok=K failed=F error=...}
 *   <li>{@code ECHO_CLIENT HOST PORT BYTES SEED}: connects, sends BYTES of stream SEED, half
 *       closes, reads the echo; answers {@code RESULT echo_client sent=SHA received=SHA bytes=N}
 *   <li>{@code QUIT} (or end of input): stops the node and exits 0.
 * </ul>
 */
public final class TestPeer {
  public static final int ECHO_PORT = 7000;
  public static final int LINE_PORT = 7001;
  public static final int UDP_ECHO_PORT = 7002;
  public static final int SINK_PORT = 7003;

  private static final ExecutorService WORKERS = Executors.newCachedThreadPool(daemon());

  private TestPeer() {}

  public static void main(String[] args) throws Exception {
    NodeOptions.Builder options = NodeOptions.builder();
    List<String> listen = new ArrayList<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      String value = args[i + 1];
      switch (args[i]) {
        case "--name":
          options.name(value);
          break;
        case "--key":
          options.privateKey(value);
          break;
        case "--vip4":
          options.virtualIPv4(value);
          break;
        case "--vip6":
          options.virtualIPv6(value);
          break;
        case "--listen":
          listen.add(value);
          break;
        case "--peer":
          {
            String[] f = value.split(",", -1);
            options.staticPeer(
                StaticPeer.builder(f[0], f[1])
                    .endpoint(f[2])
                    .virtualIPv4(f[3].isEmpty() ? null : f[3])
                    .virtualIPv6(f[4].isEmpty() ? null : f[4])
                    .build());
            break;
          }
        default:
          System.out.println("ERROR unknown argument " + args[i]);
          System.exit(2);
      }
    }
    if (!listen.isEmpty()) {
      options.listen(listen.toArray(new String[0]));
    }
    NTMNode node = NTMNode.start(options.build());
    serve(new NTMServerSocket(ECHO_PORT, 128), TestPeer::echo);
    serve(new NTMServerSocket(LINE_PORT), TestPeer::lines);
    serve(new NTMServerSocket(SINK_PORT), TestPeer::sink);
    ServerSocket plainSink = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    serve(plainSink, TestPeer::sink);
    NTMDatagramSocket udp = new NTMDatagramSocket(UDP_ECHO_PORT);
    WORKERS.execute(() -> udpEcho(udp));

    NodeInfo info = node.info();
    System.out.println(
        "READY endpoint_v4="
            + info.endpointIPv4()
            + " endpoint_v6="
            + info.endpointIPv6()
            + " plain_sink="
            + plainSink.getLocalPort());
    System.out.flush();

    BufferedReader commands =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = commands.readLine()) != null; ) {
      String[] w = line.trim().split("\\s+");
      try {
        if (w[0].equals("QUIT")) {
          break;
        } else if (w[0].equals("CONNECT_MANY")) {
          connectMany(w[1], Integer.parseInt(w[2]), Integer.parseInt(w[3]));
        } else if (w[0].equals("ECHO_CLIENT")) {
          echoClient(w[1], Integer.parseInt(w[2]), Long.parseLong(w[3]), Long.parseLong(w[4]));
        } else {
          System.out.println("ERROR unknown command " + w[0]);
        }
      } catch (Exception e) {
        System.out.println("ERROR " + w[0] + " " + oneLine(e));
      }
      System.out.flush();
    }
    udp.close();
    node.close();
    System.exit(0);
  }

  private interface Handler {
    void handle(Socket s) throws IOException;
  }

  private static void serve(ServerSocket server, Handler handler) {
    WORKERS.execute(
        () -> {
          while (!server.isClosed()) {
            try {
              Socket s = server.accept();
              WORKERS.execute(
                  () -> {
                    try (s) {
                      handler.handle(s);
                    } catch (IOException e) {
                      System.err.println("peer: " + oneLine(e));
                    }
                  });
            } catch (IOException e) {
              System.err.println("peer: accept: " + oneLine(e));
              return;
            }
          }
        });
  }

  private static void echo(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    OutputStream out = s.getOutputStream();
    byte[] buf = new byte[64 * 1024];
    for (int n; (n = in.read(buf)) > 0; ) {
      out.write(buf, 0, n);
    }
    s.shutdownOutput();
  }

  private static void lines(Socket s) throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
    PrintWriter out =
        new PrintWriter(new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8), true);
    for (String line; (line = in.readLine()) != null; ) {
      if (line.equals("BYE")) {
        out.println("BYE");
        return;
      }
      out.println("ECHO " + line);
    }
  }

  private static void sink(Socket s) throws IOException {
    InputStream in = s.getInputStream();
    byte[] buf = new byte[256 * 1024];
    long total = 0;
    for (int n; (n = in.read(buf)) > 0; ) {
      total += n;
    }
    DataOutputStream out = new DataOutputStream(s.getOutputStream());
    out.writeLong(total);
    out.flush();
  }

  private static void udpEcho(NTMDatagramSocket udp) {
    byte[] buf = new byte[65535];
    DatagramPacket p = new DatagramPacket(buf, buf.length);
    while (!udp.isClosed()) {
      try {
        udp.receive(p);
        udp.send(new DatagramPacket(p.getData(), p.getOffset(), p.getLength(), p.getSocketAddress()));
      } catch (IOException e) {
        if (!udp.isClosed()) {
          System.err.println("peer: udp: " + oneLine(e));
        }
        return;
      }
    }
  }

  private static void connectMany(String host, int port, int n) throws Exception {
    AtomicInteger ok = new AtomicInteger();
    AtomicReference<String> error = new AtomicReference<>("none");
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int id = i;
      all.add(
          WORKERS.submit(
              () -> {
                try {
                  go.await();
                  try (Socket s = new NTMSocket(host, port)) {
                    s.setSoTimeout(60_000);
                    PrintWriter out =
                        new PrintWriter(
                            new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8), true);
                    BufferedReader in =
                        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    out.println("hello " + id);
                    String reply = in.readLine();
                    if (("welcome " + id).equals(reply)) {
                      ok.incrementAndGet();
                    } else {
                      error.set("client " + id + " got " + reply);
                    }
                  }
                } catch (Exception e) {
                  error.set("client " + id + ": " + oneLine(e));
                }
                return null;
              }));
    }
    go.countDown();
    for (Future<?> f : all) {
      f.get(120, TimeUnit.SECONDS);
    }
    System.out.println(
        "RESULT connect_many ok=" + ok.get() + " failed=" + (n - ok.get()) + " error=" + error.get());
  }

  private static void echoClient(String host, int port, long bytes, long seed) throws Exception {
    try (Socket s = new NTMSocket(host, port)) {
      Future<TestData.Received> reader = WORKERS.submit(() -> TestData.drain(s.getInputStream()));
      String sent = TestData.send(s.getOutputStream(), seed, bytes);
      s.shutdownOutput();
      TestData.Received got = reader.get(120, TimeUnit.SECONDS);
      System.out.println(
          "RESULT echo_client sent=" + sent + " received=" + got.sha() + " bytes=" + got.bytes());
    }
  }

  private static String oneLine(Throwable e) {
    return (e.getClass().getSimpleName() + ": " + e.getMessage()).replace('\n', ' ');
  }

  private static java.util.concurrent.ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "peer-worker");
      t.setDaemon(true);
      return t;
    };
  }
}
