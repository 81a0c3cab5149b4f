package org.ntmobile;

/**
 * Receives the node's events, in the order they happened, one at a time, on the node's
 * "ntm-events" Java thread (not the library's thread: a listener may block or call into the
 * node, including {@link NTMNode#close()}).
 */
@FunctionalInterface
public interface NodeEventListener {
  void onEvent(NodeEvent event);
}
