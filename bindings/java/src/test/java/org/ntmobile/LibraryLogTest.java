package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * libntm's log lines arrive in System.Logger "org.ntmobile.&lt;component&gt;" (java.util.logging
 * by default), at their level, on the library's log thread.
 */
@ExtendWith(TwoNodes.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LibraryLogTest {
  @Test
  void libraryLinesReachSystemLoggerWithTheirComponentAndLevel() throws Exception {
    List<LogRecord> records = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            records.add(record);
            threads.add(Thread.currentThread().getName());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger logger = Logger.getLogger("org.ntmobile");
    logger.addHandler(handler);
    Level old = logger.getLevel();
    logger.setLevel(Level.ALL);
    try {
      NTMNode.setLibraryLogLevel(LogLevel.INFO);
      NTMNode.current().orElseThrow().notifyNetworkChange();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (records.stream().noneMatch(r -> r.getMessage().contains("network changed"))) {
        assertTrue(System.nanoTime() < deadline, () -> "no line in 10 s: " + records);
        Thread.sleep(10);
      }
      LogRecord changed =
          records.stream().filter(r -> r.getMessage().contains("network changed")).findFirst().get();
      assertTrue(changed.getLoggerName().equals("org.ntmobile.node"), changed.getLoggerName());
      assertTrue(changed.getLevel() == Level.INFO, changed.getLevel().toString());
      assertTrue(!threads.contains(Thread.currentThread().getName()), threads.toString());
    } finally {
      NTMNode.setLibraryLogLevel(LogLevel.WARN);
      logger.removeHandler(handler);
      logger.setLevel(old);
    }
  }
}
