// ChatClient: joins a chat server (ChatServer or any language's) by node name, through
// org.ntmobile.NTMSocket - a java.net.Socket - and prints every line the server sends.
//
//   java -cp $JAR:/tmp/ntm-examples ChatClient NODE-OPTIONS --connect NAME:PORT --nick NICK [-6]
//       [--say TEXT]... [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]
//
// Interactive (no --say): each line of stdin is sent; at the end of stdin it sends /quit and
// waits for BYE. Scripted: after WELCOME it sends each --say line, waits until every --wait-for
// text has appeared in a received line (history included), then sends /quit and waits for BYE;
// --timeout (default 30 s) bounds the run. Exit 0 on success, 1 on a network failure, a timeout
// or an ERROR from the server, 2 on bad arguments. A reader thread turns the server's lines (and
// another one stdin's end) into events for the main thread, which alone decides what to do.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.ntmobile.NTMNode;
import org.ntmobile.NodeOptions;

public class ChatClient {
  private static final String USAGE =
      """
      usage: ChatClient NODE-OPTIONS --connect NAME:PORT --nick NICK [-6] [--say TEXT]...
             [--wait-for TEXT]... [--timeout SECONDS] [--show-tunnels]
      Chats with a chat server over the virtual network (IPv4, or IPv6 with -6).
      Without --say, sends each line of stdin; with it, sends the --say lines, waits for
      a received line containing each --wait-for text, then quits. --timeout (default 30)
      bounds a scripted run; --show-tunnels prints the tunnel table before exiting.""";

  /** What the main thread reacts to. */
  private sealed interface Event permits ServerLine, ServerGone, StdinEnded {}

  private record ServerLine(String text) implements Event {}

  private record ServerGone(String why) implements Event {}

  private record StdinEnded() implements Event {}

  /** Thrown when the run fails; its message goes to stderr and the exit status is 1. */
  private static final class Failure extends Exception {
    Failure(String message) {
      super(message);
    }
  }

  private enum Phase {
    WAIT_WELCOME,
    TALKING,
    WAIT_BYE
  }

  private static String connect;
  private static ExampleNet.Target target;
  private static String nick;
  private static boolean ipv6;
  private static final List<String> says = new ArrayList<>();
  private static final Set<String> missing = new LinkedHashSet<>(); // --wait-for texts not seen
  private static double timeoutSeconds = 30;
  private static boolean showTunnels;

  private final Socket socket;
  private final OutputStream out;
  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final CountDownLatch welcomed = new CountDownLatch(1);
  private Phase phase = Phase.WAIT_WELCOME;
  private long deadline; // System.nanoTime() when the current wait gives up (Long.MAX_VALUE: none)

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("ChatClient", USAGE);
    NodeOptions options = args.parse(argv, ChatClient::takeOption);
    if (connect == null || nick == null) {
      args.fail("--connect NAME:PORT and --nick NICK are required");
    }
    target = ExampleNet.Target.parse(connect).orElse(null);
    if (target == null) {
      args.fail("--connect wants NAME:PORT (port 1-65535), not '" + connect + "'");
    }
    if (nick.length() > 32) {
      args.fail("--nick is at most 32 characters");
    }
    if (says.stream().anyMatch(text -> text.contains("\n"))) {
      args.fail("--say text must be one line");
    }

    long started = System.nanoTime();
    Duration timeout = Duration.ofMillis((long) (timeoutSeconds * 1000));
    NTMNode node = ExampleNet.startNode("ChatClient", options);
    int status = 1;
    try (Socket socket = ExampleNet.connect(target, ipv6, timeout)) {
      ChatClient chat = new ChatClient(socket, started + timeout.toNanos());
      chat.run();
      status = 0;
    } catch (IOException e) {
      System.err.println("ChatClient: cannot talk to " + target + ": " + e.getMessage());
    } catch (Failure e) {
      System.err.println("ChatClient: " + e.getMessage());
    }
    ExampleNet.stopNode(node, showTunnels, status);
  }

  private static boolean takeOption(String argument, NodeArgs.Values values) {
    switch (argument) {
      case "--connect" -> connect = values.next(argument);
      case "--nick" -> nick = values.next(argument);
      case "-6" -> ipv6 = true;
      case "--say" -> says.add(values.next(argument));
      case "--wait-for" -> missing.add(values.next(argument));
      case "--timeout" -> timeoutSeconds = values.nextSeconds(argument, 86400);
      case "--show-tunnels" -> showTunnels = true;
      default -> {
        return false;
      }
    }
    return true;
  }

  private ChatClient(Socket socket, long deadline) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.deadline = deadline;
  }

  private boolean scripted() {
    return !says.isEmpty();
  }

  /** The conversation, until BYE. */
  private void run() throws IOException, Failure {
    startDaemon("chat-receive", this::receive);
    if (!scripted()) {
      startDaemon("chat-stdin", this::forwardStdin);
    }
    send("NICK " + nick);
    for (; ; ) {
      Event event = nextEvent();
      if (event instanceof ServerGone gone) {
        throw new Failure(gone.why());
      }
      if (event instanceof StdinEnded) {
        if (phase == Phase.TALKING) {
          quit();
        }
        continue;
      }
      String line = ((ServerLine) event).text();
      ExampleNet.OUT.println(line);
      if (line.startsWith("ERROR")) {
        throw new Failure("the server refused: " + line);
      }
      if (phase == Phase.WAIT_WELCOME) {
        if (!line.startsWith("WELCOME ")) {
          throw new Failure("expected WELCOME, got '" + line + "'");
        }
        phase = Phase.TALKING;
        if (!scripted()) {
          deadline = Long.MAX_VALUE; // interactive chatting may last forever
        }
        for (String text : says) {
          send(text);
        }
        welcomed.countDown();
      } else if (line.equals("BYE")) {
        return; // also when the user typed /quit
      } else {
        missing.removeIf(line::contains);
      }
      if (phase == Phase.TALKING && scripted() && missing.isEmpty()) {
        quit();
      }
    }
  }

  /** The next event, or a Failure naming what did not arrive before the deadline. */
  private Event nextEvent() throws Failure {
    try {
      if (deadline == Long.MAX_VALUE) {
        return events.take();
      }
      long left = deadline - System.nanoTime();
      Event event = left > 0 ? events.poll(left, TimeUnit.NANOSECONDS) : null;
      if (event != null) {
        return event;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    String awaited =
        switch (phase) {
          case WAIT_WELCOME -> "WELCOME";
          case WAIT_BYE -> "BYE";
          case TALKING -> missing.stream().map(t -> "\"" + t + "\"").collect(Collectors.joining(", "));
        };
    throw new Failure(
        "timed out after " + BigDecimal.valueOf(timeoutSeconds).stripTrailingZeros().toPlainString()
            + " s waiting for " + awaited);
  }

  private void quit() throws IOException {
    phase = Phase.WAIT_BYE;
    deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9); // the BYE wait is bounded
    send("/quit");
  }

  private void send(String line) throws IOException {
    synchronized (out) {
      out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    }
  }

  /** Reader thread: every line from the server, then why the stream ended. */
  private void receive() {
    try {
      LineReader reader = new LineReader(socket.getInputStream());
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        events.add(new ServerLine(line));
      }
      events.add(new ServerGone("the server closed the connection"));
    } catch (IOException e) {
      events.add(new ServerGone("receiving failed: " + e.getMessage()));
    }
  }

  /** Interactive mode: sends each line of stdin once the server has welcomed us. */
  private void forwardStdin() {
    try {
      welcomed.await();
      BufferedReader stdin =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = stdin.readLine(); line != null; line = stdin.readLine()) {
        send(line);
      }
    } catch (IOException e) {
      System.err.println("ChatClient: " + e.getMessage());
    } catch (InterruptedException e) {
      return;
    }
    events.add(new StdinEnded());
  }

  private static void startDaemon(String name, Runnable body) {
    Thread thread = new Thread(body, name);
    thread.setDaemon(true);
    thread.start();
  }
}
