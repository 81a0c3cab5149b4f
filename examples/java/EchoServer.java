// EchoServer: a node that echoes every TCP connection on its virtual addresses (IPv4 and IPv6),
// one thread per connection, through org.ntmobile.NTMServerSocket - a java.net.ServerSocket.
// Runs until interrupted (Ctrl-C), then stops the node. Takes the same options as the C
// examples (ntm-echo-server), so Java and C nodes talk to each other. See README.md here.
//
//   java -cp bindings/java/target/ntmobile-0.1.0.jar examples/java/EchoServer.java \
//     --name bob.example --key PRIVATE --vip4 100.64.0.2 --listen 127.0.0.1:47001 \
//     --peer "alice.example,ALICE_PUBLIC,,100.64.0.1,fd00:6e74:6d::1" [--port 7000]

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.ntmobile.LogLevel;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMServerSocket;
import org.ntmobile.NodeInfo;
import org.ntmobile.NodeOptions;
import org.ntmobile.StaticPeer;

public class EchoServer {
  public static void main(String[] args) throws Exception {
    int port = 7000;
    NodeOptions.Builder options = NodeOptions.builder();
    List<String> listen = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(need(args[i], value));
        case "--name" -> options.name(need(args[i], value));
        case "--key" -> options.privateKey(need(args[i], value));
        case "--vip4" -> options.virtualIPv4(need(args[i], value));
        case "--vip6" -> options.virtualIPv6(need(args[i], value));
        case "--listen" -> listen.add(need(args[i], value));
        case "--peer" -> options.staticPeer(peer(need(args[i], value)));
        case "--log" -> options.logLevel(LogLevel.valueOf(need(args[i], value).toUpperCase()));
        default -> usage("unknown argument " + args[i]);
      }
      i++;
    }
    if (!listen.isEmpty()) {
      options.listen(listen.toArray(new String[0]));
    }
    NTMNode node = NTMNode.start(options.build());
    ServerSocket server = new NTMServerSocket(port); // all virtual addresses, IPv4 and IPv6
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.err.println("EchoServer: stopping");
                  try {
                    server.close(); // wakes accept()
                  } catch (IOException e) {
                    // closing anyway
                  }
                  node.close();
                }));
    NodeInfo info = node.info();
    System.out.printf(
        "%s listening on port %d: virtual %s %s, real UDP %s %s%n",
        info.name(),
        port,
        info.virtualIPv4().map(a -> a.getHostAddress()).orElse(""),
        info.virtualIPv6().map(a -> a.getHostAddress()).orElse(""),
        info.endpointIPv4(),
        info.endpointIPv6());
    while (true) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return; // closed by the shutdown hook
      }
      System.err.println("EchoServer: connection from " + s.getInetAddress().getHostAddress());
      Thread t = new Thread(() -> echo(s), "echo-" + s.getPort());
      t.setDaemon(true);
      t.start();
    }
  }

  private static void echo(Socket s) {
    try (s) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      in.transferTo(out);
    } catch (IOException e) {
      System.err.println("EchoServer: " + e);
    }
  }

  /** NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (ENDPOINT, VIP4 or VIP6 may be empty). */
  static StaticPeer peer(String spec) {
    String[] f = spec.split(",", -1);
    if (f.length != 5) {
      usage("--peer takes NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6");
    }
    return StaticPeer.builder(f[0], f[1])
        .endpoint(f[2])
        .virtualIPv4(f[3].isEmpty() ? null : f[3])
        .virtualIPv6(f[4].isEmpty() ? null : f[4])
        .build();
  }

  static String need(String option, String value) {
    if (value == null) {
      usage(option + " needs a value");
    }
    return value;
  }

  static void usage(String problem) {
    System.err.println("EchoServer: " + problem);
    System.err.println(
        "usage: EchoServer --name NAME --key PRIVATE_KEY [--vip4 A] [--vip6 A] [--listen HOST:PORT]..."
            + " [--peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6]... [--log off|error|warn|info|debug]"
            + " [--port 7000]");
    System.exit(2);
  }
}
