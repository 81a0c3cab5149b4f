package org.ntmobile.internal;

import java.net.SocketException;

/**
 * One ntm descriptor, shared by the threads that use a socket, closed exactly once.
 *
 * <p>Every call on the descriptor runs between {@link #acquire()} and {@link #release()}. Closing
 * while another thread is inside a call must wake that call, and must not free the number while
 * the call could still reach it: lwIP hands out the lowest free number again at once, so a thread
 * that was just about to call in would otherwise act on somebody else's new socket. So:
 *
 * <ul>
 *   <li>no call in progress: {@code ntm_close} at once;
 *   <li>a connected stream with calls in progress: {@code ntm_shutdown(SHUT_RDWR)} wakes them
 *       (lwIP marks the receive mailbox invalid and aborts a blocked send) and the last one to
 *       leave calls {@code ntm_close};
 *   <li>otherwise (listener, datagram, connect in progress, or shutdown refused):
 *       {@code ntm_close} at once, which the C API documents as safe from another thread and
 *       waking blocked calls.
 * </ul>
 *
 * <p>Descriptors belong to one run of the node: {@code ntm_stop()} closes them all and numbers
 * restart with the next {@code ntm_start()}, so a handle from an earlier run never calls in again.
 */
public final class NativeFd {
  private static volatile int nodeRun;

  private final int fd;
  private final int run;
  private volatile boolean connectedStream;
  private int users;
  private boolean closed;
  private boolean released;

  public NativeFd(int fd) {
    this.fd = fd;
    this.run = nodeRun;
  }

  /** Called by the node around ntm_start/ntm_stop: handles from the previous run go stale. */
  public static void nextNodeRun() {
    nodeRun++;
  }

  /** Marks this descriptor as a connected stream (closing may then wake readers by shutdown). */
  public void setConnectedStream() {
    connectedStream = true;
  }

  /** The descriptor for one call; pair with {@link #release()} in a finally block. */
  public synchronized int acquire() throws SocketException {
    if (closed) {
      throw new SocketException("Socket closed");
    }
    if (run != nodeRun) {
      throw new SocketException("Socket closed: the ntmobile node it belonged to was stopped");
    }
    users++;
    return fd;
  }

  public void release() {
    boolean closeNow;
    synchronized (this) {
      users--;
      closeNow = closed && users == 0 && !released;
      if (closeNow) {
        released = true;
      }
    }
    if (closeNow) {
      closeNative();
    }
  }

  /**
   * True once closed here, or once the node run it belonged to ended (ntm_stop closed it): a
   * call that failed is then reported as "Socket closed".
   */
  public synchronized boolean isClosed() {
    return closed || run != nodeRun;
  }

  /** The raw number, for diagnostics only. */
  public int number() {
    return fd;
  }

  /** Closes (idempotent); wakes calls blocked on the descriptor in other threads. */
  public void close() {
    boolean closeNow;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      closeNow = users == 0;
      if (closeNow) {
        released = true;
      }
    }
    if (closeNow) {
      closeNative();
      return;
    }
    if (connectedStream
        && run == nodeRun
        && NtmSockets.ntm_shutdown(fd, Posix.SHUT_RDWR) == 0) {
      return; // the last call to leave closes
    }
    synchronized (this) {
      closeNow = !released;
      released = true;
    }
    if (closeNow) {
      closeNative();
    }
  }

  private void closeNative() {
    if (run == nodeRun) {
      NtmSockets.ntm_close(fd);
    }
  }
}
