package org.ntmobile.internal;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.lang.System.Logger.Level;

/**
 * libntm's log lines in {@link System.Logger}s named {@code org.ntmobile.<component>}
 * ({@code org.ntmobile.node}, {@code org.ntmobile.tunnel}...), which java.util.logging prints by
 * default and SLF4J/Log4j pick up through their System.Logger bridges
 * (slf4j-jdk-platform-logging, log4j-jpl). Installed when the first node starts; lines arrive
 * on the library's log thread, in order.
 */
public final class LibraryLog {
  private static final NtmStructs.LogCallback CALLBACK = LibraryLog::deliver;
  private static boolean installed;

  static {
    // The library's log thread attaches as a daemon for each line and detaches after it, so an
    // exiting JVM never waits for it (see NTMNode).
    Native.setCallbackThreadInitializer(
        CALLBACK, new CallbackThreadInitializer(true, true, "ntm-log-callback"));
  }

  private LibraryLog() {}

  /** Routes the library's lines to System.Logger (idempotent). */
  public static synchronized void install() {
    if (!installed) {
      NtmApi.INSTANCE.ntm_set_log_callback(CALLBACK, null);
      installed = true;
    }
  }

  /** Sends the lines back to stderr; once this returns no callback runs. */
  public static synchronized void uninstall() {
    if (installed) {
      NtmApi.INSTANCE.ntm_set_log_callback(null, null);
      installed = false;
    }
  }

  /** The System.Logger level of an ntm_log_level. */
  public static Level level(int ntmLevel) {
    switch (ntmLevel) {
      case 1:
        return Level.ERROR;
      case 2:
        return Level.WARNING;
      case 3:
        return Level.INFO;
      default:
        return Level.DEBUG;
    }
  }

  private static void deliver(int level, String component, String message, Pointer userData) {
    try {
      String name =
          component == null || component.isEmpty() ? "org.ntmobile" : "org.ntmobile." + component;
      System.getLogger(name).log(level(level), message);
    } catch (Throwable t) {
      // Nothing may propagate into the C library.
    }
  }
}
