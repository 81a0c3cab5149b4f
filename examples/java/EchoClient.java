// EchoClient: a node that connects to NAME:PORT through org.ntmobile.NTMSocket - a
// java.net.Socket - resolving NAME through the node, sends a message (or each line of standard
// input) and prints the echo. Takes the node options of every example (NodeArgs.java:
// static-peer or control-plane mode), so it talks to the echo server of any language. See
// README.md here.
//
//   java -cp $JAR:/tmp/ntm-examples EchoClient NODE-OPTIONS --connect NAME:PORT [-6]
//       [--show-tunnels] [MESSAGE]

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.ntmobile.NTMNode;
import org.ntmobile.NodeOptions;

public class EchoClient {
  private static final String USAGE =
      """
      usage: EchoClient NODE-OPTIONS --connect NAME:PORT [-6] [--show-tunnels] [MESSAGE]
      Sends MESSAGE (or each line of standard input) to the echo server over virtual IPv4
      (IPv6 with -6) and prints the echo; --show-tunnels prints the tunnel table at the end.""";

  private static String connect;
  private static boolean ipv6;
  private static boolean showTunnels;
  private static String message;

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("EchoClient", USAGE);
    NodeOptions options =
        args.parse(
            argv,
            (argument, values) -> {
              switch (argument) {
                case "--connect" -> connect = values.next(argument);
                case "-6" -> ipv6 = true;
                case "--show-tunnels" -> showTunnels = true;
                default -> {
                  if (argument.startsWith("-") || message != null) {
                    return false;
                  }
                  message = argument;
                }
              }
              return true;
            });
    ExampleNet.Target target = connect == null ? null : ExampleNet.Target.parse(connect).orElse(null);
    if (target == null) {
      args.fail("--connect NAME:PORT is required (port 1-65535)");
    }

    NTMNode node = ExampleNet.startNode("EchoClient", options);
    int status = 0;
    try (Socket s = ExampleNet.connect(target, ipv6, Duration.ofSeconds(30))) {
      System.err.printf(
          "EchoClient: connected %s -> %s (%s)%n",
          ExampleNet.text(s.getLocalAddress()), ExampleNet.text(s.getInetAddress()), target);
      OutputStream out = s.getOutputStream();
      LineReader in = new LineReader(s.getInputStream());
      BufferedReader stdin =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = message != null ? message : stdin.readLine();
          line != null;
          line = message != null ? null : stdin.readLine()) {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        String echo = in.readLine();
        if (echo == null) {
          System.err.println("EchoClient: the server closed the connection");
          status = 1;
          break;
        }
        ExampleNet.OUT.println(echo);
      }
    } catch (IOException e) {
      System.err.println("EchoClient: cannot talk to " + target + ": " + e.getMessage());
      status = 1;
    }
    ExampleNet.stopNode(node, showTunnels, status);
  }
}
