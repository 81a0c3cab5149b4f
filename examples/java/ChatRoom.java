// ChatRoom: the chat server's shared state - who is in the room, the recent history - and the
// delivery of lines to members. All changes happen under the room's lock, so every member sees
// lines in the same order, and a newcomer's WELCOME, history replay and join announcement are
// atomic with respect to other messages.
//
// A member never blocks the room: each has an outbox (a bounded queue) emptied by its own writer
// thread. A member whose outbox fills up has stopped reading and is disconnected.

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

final class ChatRoom {
  static final int HISTORY_LINES = 50;
  static final Pattern NICK = Pattern.compile("[A-Za-z0-9_-]{1,32}");

  private final Map<String, Member> members = new LinkedHashMap<>();
  private final ArrayDeque<String> history = new ArrayDeque<>();
  private boolean closed;

  /** Why a nick was not admitted: the reason the server's {@code ERROR <reason>} line gives. */
  static final class Refused extends Exception {
    Refused(String reason) {
      super(reason);
    }
  }

  /**
   * Admits {@code nick} on {@code socket}: queues WELCOME and the history for it, and announces
   * it to the others.
   *
   * @throws Refused for a bad or taken nick, or when the server is stopping
   */
  synchronized Member join(String nick, Socket socket) throws Refused {
    if (closed) {
      throw new Refused("shutting-down");
    }
    if (!NICK.matcher(nick).matches()) {
      throw new Refused("bad-nick");
    }
    if (members.containsKey(nick)) {
      throw new Refused("nick-taken");
    }
    Member member = new Member(nick, socket);
    member.send("WELCOME " + nick);
    history.forEach(member::send);
    members.put(nick, member);
    broadcast(member, "* " + nick + " joined");
    return member;
  }

  /** Sends {@code <nick>: <text>} to everyone else and keeps it in the history. */
  synchronized void say(Member from, String text) {
    String line = from.nick + ": " + text;
    history.addLast(line);
    if (history.size() > HISTORY_LINES) {
      history.removeFirst();
    }
    broadcast(from, line);
  }

  /** Takes the member out of the room and, unless the server is stopping, announces it. */
  synchronized void leave(Member member) {
    if (members.remove(member.nick, member) && !closed) {
      broadcast(null, "* " + member.nick + " left");
    }
  }

  /** Stopping: no more joins or announcements; every member is disconnected. */
  void close() {
    List<Member> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(members.values());
    }
    all.forEach(Member::disconnect);
  }

  /** Queues {@code line} for every member except {@code except} and prints it. Lock held. */
  private void broadcast(Member except, String line) {
    for (Member m : members.values()) {
      if (m != except) {
        m.send(line);
      }
    }
    ExampleNet.OUT.println(line);
  }

  /** One client in the room: its nick, its connection and the writer thread feeding it. */
  static final class Member {
    /** Lines a member may fall behind by before it counts as gone. */
    private static final int OUTBOX_LINES = 1000;
    /** Marks the end of the outbox (compared by identity): the writer flushes and stops. */
    private static final String END = new String("end of outbox");

    final String nick;
    private final Socket socket;
    private final BlockingQueue<String> outbox = new ArrayBlockingQueue<>(OUTBOX_LINES + 1);
    private final Thread writer;
    private volatile boolean disconnected;

    private Member(String nick, Socket socket) {
      this.nick = nick;
      this.socket = socket;
      this.writer = new Thread(this::writeOutbox, "chat-writer-" + nick);
      writer.setDaemon(true);
      writer.start();
    }

    /** Queues a line; a member that has stopped reading (full outbox) is disconnected. */
    void send(String line) {
      if (disconnected) {
        return; // its reader thread is about to take it out of the room
      }
      if (outbox.size() >= OUTBOX_LINES || !outbox.offer(line)) {
        System.err.println("ChatServer: " + nick + " stopped reading, disconnecting");
        disconnect();
      }
    }

    /** Waits (bounded) until everything queued so far is written; then the writer stops. */
    void flush() {
      outbox.offer(END); // the outbox keeps one slot free for it
      try {
        writer.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Closes the connection at once: its reader and writer threads fail and end. */
    void disconnect() {
      disconnected = true;
      try {
        socket.close();
      } catch (IOException e) {
        // closing anyway
      }
    }

    private void writeOutbox() {
      try {
        OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 16384);
        for (String line = outbox.take(); line != END; line = outbox.take()) {
          out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
          if (outbox.isEmpty()) {
            out.flush();
          }
        }
        out.flush();
      } catch (IOException e) {
        disconnect(); // the reader thread notices and the member leaves
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
