package org.ntmobile.internal;

/**
 * The host's socket constants that ntm.h's BSD-mirror calls take and return. ntm.h uses the
 * platform's own values; these are Linux's (x86-64 and aarch64 share them), the only platform
 * {@link NativeLoader} accepts.
 */
public final class Posix {
  private Posix() {}

  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_DGRAM = 2;

  public static final int SOL_SOCKET = 1;
  public static final int SO_REUSEADDR = 2;
  public static final int SO_TYPE = 3;
  public static final int SO_ERROR = 4;
  public static final int SO_BROADCAST = 6;
  public static final int SO_RCVBUF = 8;
  public static final int SO_KEEPALIVE = 9;
  public static final int SO_RCVTIMEO = 20;
  public static final int SO_SNDTIMEO = 21;
  public static final int IPPROTO_TCP = 6;
  public static final int TCP_NODELAY = 1;
  public static final int TCP_KEEPIDLE = 4;
  public static final int TCP_KEEPINTVL = 5;
  public static final int TCP_KEEPCNT = 6;
  public static final int IPPROTO_IPV6 = 41;
  public static final int IPV6_V6ONLY = 26;

  public static final int MSG_PEEK = 0x2;
  public static final int MSG_DONTWAIT = 0x40;
  public static final int MSG_NOSIGNAL = 0x4000;

  public static final int SHUT_RD = 0;
  public static final int SHUT_WR = 1;
  public static final int SHUT_RDWR = 2;

  public static final short POLLIN = 0x1;
  public static final short POLLOUT = 0x4;
  public static final short POLLERR = 0x8;
  public static final short POLLHUP = 0x10;
  public static final short POLLNVAL = 0x20;

  public static final int F_GETFL = 3;
  public static final int F_SETFL = 4;
  public static final int O_NONBLOCK = 0x800;

  public static final int EINTR = 4;
  public static final int EBADF = 9;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EINVAL = 22;
  public static final int EPIPE = 32;
  public static final int EMSGSIZE = 90;
  public static final int ENOPROTOOPT = 92;
  public static final int EOPNOTSUPP = 95;
  public static final int EAFNOSUPPORT = 97;
  public static final int EADDRINUSE = 98;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ENETDOWN = 100;
  public static final int ENETUNREACH = 101;
  public static final int ECONNABORTED = 103;
  public static final int ECONNRESET = 104;
  public static final int ENOBUFS = 105;
  public static final int EISCONN = 106;
  public static final int ENOTCONN = 107;
  public static final int ETIMEDOUT = 110;
  public static final int ECONNREFUSED = 111;
  public static final int EHOSTDOWN = 112;
  public static final int EHOSTUNREACH = 113;
  public static final int EALREADY = 114;
  public static final int EINPROGRESS = 115;

  public static final int EAI_NONAME = -2;
  public static final int EAI_AGAIN = -3;
  public static final int EAI_FAIL = -4;
  public static final int EAI_NODATA = -5;
  public static final int EAI_FAMILY = -6;
  public static final int EAI_SOCKTYPE = -7;
  public static final int EAI_SERVICE = -8;
  public static final int EAI_ADDRFAMILY = -9;
  public static final int EAI_MEMORY = -10;
}
