// EchoServer: a node that echoes every TCP connection on its virtual addresses (IPv4 and IPv6),
// one thread per connection, through org.ntmobile.NTMServerSocket - a java.net.ServerSocket.
// Runs until SIGINT/SIGTERM (Ctrl-C), then stops the node and exits 0. Takes the node options of
// every example (NodeArgs.java: static-peer or control-plane mode), so Java, C, Python and Ruby
// nodes talk to each other. See README.md here.
//
//   java -cp $JAR:/tmp/ntm-examples EchoServer NODE-OPTIONS [--port 7000]

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import org.ntmobile.NodeOptions;

public class EchoServer {
  private static final String USAGE =
      """
      usage: EchoServer NODE-OPTIONS [--port PORT]
      Echoes every TCP connection to PORT (default 7000) on this node's virtual addresses
      until interrupted.""";

  private static int port = 7000;

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("EchoServer", USAGE);
    NodeOptions options =
        args.parse(
            argv,
            (argument, values) -> {
              if (!argument.equals("--port")) {
                return false;
              }
              port = values.nextInt(argument, 1, 65535);
              return true;
            });

    ExampleNet.Server server =
        ExampleNet.Server.start(
            "EchoServer",
            options,
            port,
            info ->
                String.format(
                    "%s listening on port %d: virtual %s %s, real UDP %s %s",
                    info.name(),
                    port,
                    info.virtualIPv4().map(ExampleNet::text).orElse(""),
                    info.virtualIPv6().map(ExampleNet::text).orElse(""),
                    info.endpointIPv4(),
                    info.endpointIPv6()),
            EchoServer::echo);

    server.awaitStop();
    server.stop(false); // closing the node closes the connections still open
  }

  private static void echo(Socket s) {
    System.err.println("EchoServer: connection from " + ExampleNet.text(s.getInetAddress()));
    try {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      in.transferTo(out);
    } catch (IOException e) {
      System.err.println("EchoServer: " + e);
    }
  }
}
