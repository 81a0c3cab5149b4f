// ChatServer: a multi-client line chat on TCP port 7100 of this node's virtual addresses (IPv4
// and IPv6), through org.ntmobile.NTMServerSocket - a java.net.ServerSocket. It talks to the
// chat clients of every language (C ntm-chat-client, chat_client.py, chat_client.rb, ChatClient).
//
//   java -cp $JAR:/tmp/ntm-examples ChatServer NODE-OPTIONS [--port 7100] [--show-tunnels]
//
// A client's first line is "NICK <nick>" (1-32 of [A-Za-z0-9_-]); it gets "WELCOME <nick>", the
// last 50 chat lines, and everyone else sees "* <nick> joined". Each further line goes to the
// other clients as "<nick>: <text>"; "/quit" gets "BYE"; a client that leaves is announced as
// "* <nick> left". Every broadcast line is printed on stdout. One thread reads each client (the
// room's state and delivery are in ChatRoom.java). Runs until SIGINT/SIGTERM, then closes the
// node and exits 0; --show-tunnels prints the tunnel table on the way out. See README.md here.

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.ntmobile.NodeOptions;

public class ChatServer {
  private static final String USAGE =
      """
      usage: ChatServer NODE-OPTIONS [--port PORT] [--show-tunnels]
      A chat room on TCP port PORT (default 7100) of this node's virtual addresses.
      Protocol: NICK <nick> first, then lines of text; /quit to leave.
      --show-tunnels prints the tunnel table when the server stops (SIGINT/SIGTERM).""";

  private static int port = 7100;
  private static boolean showTunnels;

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("ChatServer", USAGE);
    NodeOptions options =
        args.parse(
            argv,
            (argument, values) -> {
              switch (argument) {
                case "--port" -> port = values.nextInt(argument, 1, 65535);
                case "--show-tunnels" -> showTunnels = true;
                default -> {
                  return false;
                }
              }
              return true;
            });

    ChatRoom room = new ChatRoom();
    ExampleNet.Server server =
        ExampleNet.Server.start(
            "ChatServer",
            options,
            port,
            info ->
                String.format(
                    "chat server %s listening on port %d (%s)",
                    info.name(), port, ExampleNet.virtualAddresses(info)),
            socket -> serve(socket, room));

    server.awaitStop();
    room.close(); // disconnects every client, without announcements
    server.stop(showTunnels);
  }

  /** One client's whole session: NICK, then its lines until /quit or the end of the stream. */
  private static void serve(Socket socket, ChatRoom room) {
    ChatRoom.Member member = null;
    try {
      LineReader reader = new LineReader(socket.getInputStream());
      String first = reader.readLine();
      if (first == null) {
        socket.close(); // gone before saying who it is
        return;
      }
      if (!first.startsWith("NICK ")) {
        refuse(socket, "expected-nick");
        return;
      }
      try {
        member = room.join(first.substring("NICK ".length()), socket);
      } catch (ChatRoom.Refused e) {
        refuse(socket, e.getMessage());
        return;
      }
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (line.equals("/quit")) {
          member.send("BYE");
          break;
        }
        room.say(member, line);
      }
    } catch (LineReader.LineTooLongException e) {
      if (member == null) {
        refuse(socket, "line-too-long");
        return;
      }
      member.send("ERROR line-too-long");
    } catch (IOException e) {
      // the connection broke or was closed by a stop: the member leaves
    }
    if (member != null) {
      room.leave(member);
      member.flush(); // BYE or ERROR reaches the client before the connection closes
      ExampleNet.closeGently(socket);
    }
  }

  /** Answers {@code ERROR <reason>} and closes the connection. */
  private static void refuse(Socket socket, String reason) {
    try {
      OutputStream out = socket.getOutputStream();
      out.write(("ERROR " + reason + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      // the client is gone anyway
    }
    ExampleNet.closeGently(socket);
  }
}
