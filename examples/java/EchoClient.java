// EchoClient: a node that connects to NAME:PORT through org.ntmobile.NTMSocket - a
// java.net.Socket - resolving NAME through the node, sends a message (or each line of standard
// input) and prints the echo. Takes the same options as the C examples (ntm-echo-client), so it
// talks to the Java or the C echo server. See README.md here.
//
//   java -cp bindings/java/target/ntmobile-0.1.0.jar examples/java/EchoClient.java \
//     --name alice.example --key PRIVATE --vip4 100.64.0.1 --listen 127.0.0.1:0 \
//     --peer "bob.example,BOB_PUBLIC,127.0.0.1:47001,100.64.0.2,fd00:6e74:6d::2" \
//     --connect bob.example:7000 [-6] "hello"

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.ntmobile.LogLevel;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMResolver;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeOptions;
import org.ntmobile.StaticPeer;

public class EchoClient {
  public static void main(String[] args) throws Exception {
    String target = null;
    boolean ipv6 = false;
    String message = null;
    NodeOptions.Builder options = NodeOptions.builder();
    List<String> listen = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "-6" -> {
          ipv6 = true;
          continue;
        }
        case "--connect" -> target = need(args[i], value);
        case "--name" -> options.name(need(args[i], value));
        case "--key" -> options.privateKey(need(args[i], value));
        case "--vip4" -> options.virtualIPv4(need(args[i], value));
        case "--vip6" -> options.virtualIPv6(need(args[i], value));
        case "--listen" -> listen.add(need(args[i], value));
        case "--peer" -> options.staticPeer(peer(need(args[i], value)));
        case "--log" -> options.logLevel(LogLevel.valueOf(need(args[i], value).toUpperCase()));
        default -> {
          if (args[i].startsWith("-") || message != null) {
            usage("unknown argument " + args[i]);
          }
          message = args[i];
          continue;
        }
      }
      i++;
    }
    if (target == null || target.lastIndexOf(':') < 0) {
      usage("--connect NAME:PORT is required");
    }
    if (!listen.isEmpty()) {
      options.listen(listen.toArray(new String[0]));
    }
    String host = target.substring(0, target.lastIndexOf(':'));
    int port = Integer.parseInt(target.substring(target.lastIndexOf(':') + 1));
    try (NTMNode node = NTMNode.start(options.build())) {
      InetAddress address = null;
      for (InetAddress a : NTMResolver.getAllByName(host)) {
        if ((a.getAddress().length == 16) == ipv6) {
          address = a;
          break;
        }
      }
      if (address == null) {
        throw new java.net.UnknownHostException(host + " has no virtual IPv" + (ipv6 ? 6 : 4));
      }
      try (Socket s = new NTMSocket(address, port)) {
        System.err.printf(
            "EchoClient: connected %s -> %s (%s)%n",
            s.getLocalAddress().getHostAddress(), address.getHostAddress(), host);
        PrintWriter out =
            new PrintWriter(new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8), true);
        BufferedReader in =
            new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        BufferedReader lines =
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = message != null ? message : lines.readLine();
            line != null;
            line = message != null ? null : lines.readLine()) {
          out.println(line);
          String echo = in.readLine();
          if (echo == null) {
            System.err.println("EchoClient: the server closed the connection");
            System.exit(1);
          }
          System.out.println(echo);
        }
      }
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
    System.err.println("EchoClient: " + problem);
    System.err.println(
        "usage: EchoClient --name NAME --key PRIVATE_KEY [--vip4 A] [--vip6 A] [--listen HOST:PORT]..."
            + " [--peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6]... --connect NAME:PORT [-6] [MESSAGE]");
    System.exit(2);
  }
}
