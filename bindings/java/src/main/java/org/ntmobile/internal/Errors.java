package org.ntmobile.internal;

import java.net.BindException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Map;

/** errno and EAI_* codes from the socket calls to the standard java.net exceptions. */
public final class Errors {
  private Errors() {}

  private static final Map<Integer, String> MESSAGES =
      Map.ofEntries(
          Map.entry(Posix.EINTR, "EINTR: interrupted system call"),
          Map.entry(Posix.EBADF, "EBADF: bad file descriptor"),
          Map.entry(Posix.EAGAIN, "EAGAIN: resource temporarily unavailable"),
          Map.entry(Posix.ENOMEM, "ENOMEM: out of memory"),
          Map.entry(Posix.EINVAL, "EINVAL: invalid argument"),
          Map.entry(Posix.EPIPE, "EPIPE: broken pipe"),
          Map.entry(Posix.EMSGSIZE, "EMSGSIZE: message too long"),
          Map.entry(Posix.ENOPROTOOPT, "ENOPROTOOPT: protocol not available"),
          Map.entry(Posix.EOPNOTSUPP, "EOPNOTSUPP: operation not supported"),
          Map.entry(Posix.EAFNOSUPPORT, "EAFNOSUPPORT: address family not supported"),
          Map.entry(Posix.EADDRINUSE, "EADDRINUSE: address already in use"),
          Map.entry(Posix.EADDRNOTAVAIL, "EADDRNOTAVAIL: cannot assign requested address"),
          Map.entry(Posix.ENETDOWN, "ENETDOWN: the ntmobile node is not running"),
          Map.entry(Posix.ENETUNREACH, "ENETUNREACH: network is unreachable"),
          Map.entry(Posix.ECONNABORTED, "ECONNABORTED: software caused connection abort"),
          Map.entry(Posix.ECONNRESET, "ECONNRESET: connection reset"),
          Map.entry(Posix.ENOBUFS, "ENOBUFS: no buffer space available"),
          Map.entry(Posix.EISCONN, "EISCONN: already connected"),
          Map.entry(Posix.ENOTCONN, "ENOTCONN: not connected"),
          Map.entry(Posix.ETIMEDOUT, "ETIMEDOUT: connection timed out"),
          Map.entry(Posix.ECONNREFUSED, "ECONNREFUSED: connection refused"),
          Map.entry(Posix.EHOSTDOWN, "EHOSTDOWN: host is down"),
          Map.entry(Posix.EHOSTUNREACH, "EHOSTUNREACH: no route to host"),
          Map.entry(Posix.EALREADY, "EALREADY: operation already in progress"),
          Map.entry(Posix.EINPROGRESS, "EINPROGRESS: operation now in progress"));

  /** "ECONNREFUSED: connection refused", or "errno N". */
  public static String describe(int errno) {
    String text = MESSAGES.get(errno);
    return text != null ? text : "errno " + errno;
  }

  /**
   * The exception for a failed socket call: ECONNREFUSED -> {@link ConnectException},
   * EHOSTUNREACH/ENETUNREACH -> {@link NoRouteToHostException}, EADDRINUSE/EADDRNOTAVAIL ->
   * {@link BindException}, anything else -> {@link SocketException}. {@code what} names the call
   * and its target.
   */
  public static SocketException socket(String what, int errno) {
    String message = what + ": " + describe(errno);
    switch (errno) {
      case Posix.ECONNREFUSED:
        return new ConnectException(message);
      case Posix.EHOSTUNREACH:
      case Posix.ENETUNREACH:
        return new NoRouteToHostException(message);
      case Posix.EADDRINUSE:
      case Posix.EADDRNOTAVAIL:
        return new BindException(message);
      default:
        return new SocketException(message);
    }
  }

  /** As {@link #socket}, but a connect that timed out in the stack is a ConnectException too. */
  public static SocketException connect(String target, int errno) {
    if (errno == Posix.ETIMEDOUT) {
      return new ConnectException("connect to " + target + ": " + describe(errno));
    }
    return socket("connect to " + target, errno);
  }

  /** A datagram refused by the peer's stack (ECONNREFUSED on a connected datagram socket). */
  public static SocketException datagram(String what, int errno) {
    if (errno == Posix.ECONNREFUSED) {
      return new PortUnreachableException(what + ": " + describe(errno));
    }
    return socket(what, errno);
  }

  /** The exception a timed read, receive or accept throws when its SO_TIMEOUT elapses. */
  public static SocketTimeoutException timeout(String what) {
    return new SocketTimeoutException(what + " timed out");
  }

  /** EAI_* from ntm_getaddrinfo: EAI_NONAME/EAI_NODATA/EAI_ADDRFAMILY are UnknownHostException. */
  public static UnknownHostException resolve(String host, int eai) {
    switch (eai) {
      case Posix.EAI_NONAME:
      case Posix.EAI_NODATA:
        return new UnknownHostException(host + ": not a known ntmobile node (EAI_NONAME)");
      case Posix.EAI_ADDRFAMILY:
        return new UnknownHostException(host + ": no virtual address of the requested family");
      case Posix.EAI_AGAIN:
        return new UnknownHostException(host + ": the ntmobile node is not running (EAI_AGAIN)");
      default:
        return new UnknownHostException(host + ": ntm_getaddrinfo failed (EAI code " + eai + ")");
    }
  }
}
