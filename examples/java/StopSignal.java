// StopSignal: lets a server's main thread sleep until SIGINT/SIGTERM (Ctrl-C, kill), then shut
// down in order - listeners and connections first, the node last - and exit with status 0.
//
// Java has no supported signal API: a signal runs the JVM's shutdown hooks and the process then
// exits with 128+signal. The hook here wakes the main thread, waits (bounded) until it has
// cleaned up, and ends the process with status 0, since a requested stop is a success. Before
// the main thread waits, the hook does nothing: an early System.exit(1) keeps its status.

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

final class StopSignal {
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch cleanedUp = new CountDownLatch(1);
  private volatile boolean waiting;

  StopSignal() {
    Runtime.getRuntime().addShutdownHook(new Thread(this::onShutdown, "stop-signal"));
  }

  /** Blocks until SIGINT or SIGTERM. The caller then cleans up and calls {@link #done()}. */
  void await() {
    waiting = true;
    for (; ; ) {
      try {
        stopRequested.await();
        return;
      } catch (InterruptedException e) {
        // only the signal ends the wait
      }
    }
  }

  /** The cleanup is finished: the process exits with status 0. */
  void done() {
    ExampleNet.OUT.flush();
    System.err.flush();
    cleanedUp.countDown();
  }

  private void onShutdown() {
    if (!waiting) {
      return;
    }
    stopRequested.countDown();
    try {
      cleanedUp.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      // exit anyway
    }
    Runtime.getRuntime().halt(0);
  }
}
