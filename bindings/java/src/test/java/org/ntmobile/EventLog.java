package org.ntmobile;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Collects node events; tests wait for one matching a condition, with a bound. */
final class EventLog implements NodeEventListener {
  private final List<NodeEvent> events = new ArrayList<>();

  @Override
  public synchronized void onEvent(NodeEvent event) {
    events.add(event);
    notifyAll();
  }

  synchronized List<NodeEvent> snapshot() {
    return List.copyOf(events);
  }

  /** The first event matching {@code condition}, waiting at most {@code timeout} for it. */
  synchronized NodeEvent await(Predicate<NodeEvent> condition, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (;;) {
      for (NodeEvent e : events) {
        if (condition.test(e)) {
          return e;
        }
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("no matching event within " + timeout + "; saw " + events);
      }
      wait(Math.max(1, left / 1_000_000));
    }
  }
}
