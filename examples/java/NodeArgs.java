// NodeArgs: the command line every Java example shares. The node options - the same flags as the
// C examples' node_args.c and the Python and Ruby node_args - become an org.ntmobile.NodeOptions;
// each program takes its own options through a callback and gets --help and uniform errors
// ("Program: problem" and the usage on stderr, exit status 2) for free.
//
//   static-peer mode:   --name NAME --key PRIVATE_KEY --vip4 A --vip6 A --listen HOST:PORT...
//                       --peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6... [--cipher] [--mtu] [--log]
//   control-plane mode: --server HOST:PORT --server-cert PEM --account NAME --password PW
//                       [--state DIR] [--direct-timeout MS]

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ntmobile.Cipher;
import org.ntmobile.LogLevel;
import org.ntmobile.NodeOptions;
import org.ntmobile.StaticPeer;

final class NodeArgs {
  /** A program's own options and positional arguments. */
  interface ProgramOptions {
    /** Handles {@code argument} (taking its values from {@code values}); false if unknown. */
    boolean take(String argument, Values values);
  }

  static final String NODE_USAGE =
      """
      Node options (static-peer mode):
        --name NAME          this node's name, e.g. alice.example
        --key PRIVATE_KEY    this node's private key (KeyGen)
        --vip4 ADDR          this node's virtual IPv4 address, e.g. 100.64.0.1
        --vip6 ADDR          this node's virtual IPv6 address, e.g. fd00:6e74:6d::1
        --listen HOST:PORT   real UDP address to bind, e.g. 127.0.0.1:47001 or [::1]:0; repeat
                             for both families; once given, unlisted families are off
        --peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6
                             a static peer (repeatable); ENDPOINT may be empty when only the
                             peer starts tunnels
        --cipher aes|chacha  tunnel AEAD (default aes)
        --mtu N              virtual MTU (default 1420)
        --log LEVEL          off, error, warn (default), info or debug
      Control-plane mode (instead of --name/--key/--vip4/--vip6):
        --server HOST:PORT   the Account Server, e.g. 127.0.0.1:7800
        --server-cert PEM    the AS certificate to trust (as-tls.pem in the server's state)
        --account NAME --password SECRET   the account to log in with
        --state DIR          keep this node's key in DIR across restarts
        --direct-timeout MS  hole-punching time before the relay is used (default 1000)
      """;

  private final String program;
  private final String usage; // the first line is the synopsis
  private final NodeOptions.Builder builder = NodeOptions.builder();
  private final List<String> listen = new ArrayList<>();

  /**
   * @param program the program's name for messages, e.g. "ChatServer"
   * @param usage its usage line(s) and a sentence on what it does; the node options follow
   */
  NodeArgs(String program, String usage) {
    this.program = program;
    this.usage = usage;
  }

  /**
   * Parses {@code argv}: node options here, everything else through {@code own}. Exits with
   * status 2 on a bad or unknown argument, 0 after printing the usage for --help.
   */
  NodeOptions parse(String[] argv, ProgramOptions own) {
    argv = utf8Arguments(argv);
    Values values = new Values(argv);
    while (values.index < argv.length) {
      String argument = argv[values.index++];
      if (argument.equals("--help") || argument.equals("-h")) {
        System.out.print(usage + "\n\n" + NODE_USAGE);
        System.exit(0);
      }
      if (!takeNodeOption(argument, values) && !own.take(argument, values)) {
        fail((argument.startsWith("-") ? "unknown option " : "unexpected argument ") + argument);
      }
    }
    if (!listen.isEmpty()) {
      builder.listen(listen.toArray(new String[0]));
    }
    try {
      return builder.build();
    } catch (IllegalArgumentException e) { // a mode's required option is missing, or mixed modes
      fail(e.getMessage() + " (static-peer: --name, --key, --vip4/--vip6; control-plane: --server,"
          + " --server-cert, --account, --password)");
      throw e; // not reached
    }
  }

  /**
   * The arguments as the bytes the shell passed, decoded as UTF-8 (chat lines are UTF-8). The JVM
   * decodes them with the locale's charset, so under LANG=C every non-ASCII byte would become
   * U+FFFD. Linux keeps the raw command line in /proc/self/cmdline, whose last entries are the
   * program's arguments. Returns {@code argv} unchanged when that cannot be read or does not line
   * up with it (an ASCII argument must read the same both ways).
   */
  private static String[] utf8Arguments(String[] argv) {
    byte[] raw;
    try {
      raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
    } catch (IOException | UnsupportedOperationException e) {
      return argv;
    }
    List<String> entries = new ArrayList<>();
    for (int start = 0, i = 0; i < raw.length; i++) {
      if (raw[i] == 0) {
        entries.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    if (entries.size() < argv.length) {
      return argv;
    }
    String[] decoded =
        entries.subList(entries.size() - argv.length, entries.size()).toArray(new String[0]);
    for (int i = 0; i < argv.length; i++) {
      boolean ascii = argv[i].chars().allMatch(c -> c < 0x80);
      if (ascii && !argv[i].equals(decoded[i])) {
        return argv;
      }
    }
    return decoded;
  }

  /** A path argument; exits with status 2 when this JVM cannot name it (non-ASCII, LANG=C). */
  Path path(String text) {
    try {
      return Path.of(text);
    } catch (InvalidPathException e) {
      fail("cannot use the path " + text + " (run under a UTF-8 locale, e.g. LANG=C.UTF-8)");
      throw e; // not reached
    }
  }

  /** Prints "program: problem" and the usage line to stderr and exits with status 2. */
  void fail(String problem) {
    String synopsis = usage.lines().findFirst().orElse("");
    System.err.println(program + ": " + problem + "\n" + synopsis + "\n(--help lists every option)");
    System.exit(2);
  }

  private boolean takeNodeOption(String option, Values v) {
    switch (option) {
      case "--name" -> builder.name(v.next(option));
      case "--key" -> builder.privateKey(v.next(option));
      case "--vip4" -> builder.virtualIPv4(v.next(option));
      case "--vip6" -> builder.virtualIPv6(v.next(option));
      case "--listen" -> listen.add(v.next(option));
      case "--peer" -> builder.staticPeer(peer(v.next(option)));
      case "--cipher" -> builder.cipher(cipher(v.next(option)));
      case "--mtu" -> builder.mtu(v.nextInt(option, 0, 65535));
      case "--log" -> builder.logLevel(logLevel(v.next(option)));
      case "--server" -> builder.server(v.next(option));
      case "--server-cert" -> builder.serverCertificate(v.next(option));
      case "--account" -> builder.account(v.next(option));
      case "--password" -> builder.password(v.next(option));
      case "--state" -> builder.stateDirectory(path(v.next(option)));
      case "--direct-timeout" -> builder.directTimeout(Duration.ofMillis(v.nextInt(option, 1, 60000)));
      default -> {
        return false;
      }
    }
    return true;
  }

  /** NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (ENDPOINT, VIP4 or VIP6 may be empty). */
  private StaticPeer peer(String spec) {
    String[] f = spec.split(",", -1);
    if (f.length != 5 || f[0].isEmpty() || f[1].isEmpty()) {
      fail("--peer '" + spec + "' must be NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (empty ENDPOINT/VIP allowed)");
    }
    try {
      return StaticPeer.builder(f[0], f[1])
          .endpoint(f[2])
          .virtualIPv4(f[3].isEmpty() ? null : f[3])
          .virtualIPv6(f[4].isEmpty() ? null : f[4])
          .build();
    } catch (IllegalArgumentException e) {
      fail("--peer '" + spec + "': " + e.getMessage());
      throw e; // not reached
    }
  }

  private Cipher cipher(String name) {
    switch (name) {
      case "aes":
        return Cipher.AES_256_GCM;
      case "chacha":
        return Cipher.CHACHA20_POLY1305;
      default:
        fail("--cipher must be aes or chacha, not '" + name + "'");
        return null; // not reached
    }
  }

  private LogLevel logLevel(String name) {
    try {
      return LogLevel.valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      fail("--log must be off, error, warn, info or debug, not '" + name + "'");
      return null; // not reached
    }
  }

  /** The values that follow an option on the command line. */
  final class Values {
    private final String[] argv;
    private int index;

    private Values(String[] argv) {
      this.argv = argv;
    }

    /** The option's value; exits with status 2 when the command line ends first. */
    String next(String option) {
      if (index >= argv.length) {
        fail("option " + option + " needs a value");
      }
      return argv[index++];
    }

    /** The option's value as an integer in [min, max]; exits with status 2 otherwise. */
    int nextInt(String option, int min, int max) {
      String text = next(option);
      try {
        int value = Integer.parseInt(text);
        if (value >= min && value <= max) {
          return value;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      fail(option + " must be a number from " + min + " to " + max + ", not '" + text + "'");
      return 0; // not reached
    }

    /** The option's value as a number of seconds in (0, max]; exits with status 2 otherwise. */
    double nextSeconds(String option, long max) {
      String text = next(option);
      try {
        double value = Double.parseDouble(text);
        if (value > 0 && value <= max) {
          return value;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      fail(option + " must be a number of seconds up to " + max + ", not '" + text + "'");
      return 0; // not reached
    }
  }
}
